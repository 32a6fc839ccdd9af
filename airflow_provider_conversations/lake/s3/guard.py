"""Guard the table: refuse a ``window_size`` that disagrees with the windows already committed under a prefix.

A window is replaced by deleting its own objects (its key token names its bounds). A window of another
size over the same time would leave the committed one in place: its records twice in the table. So
before any write, each day partition a task will write to is listed once, and a committed manifest
that overlaps one of the task's windows with other bounds stops the task, naming both sizes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

_MANIFEST_RE = re.compile(r"/_manifest-(\d{6})(\d{6})?-(\d{6})(\d{6})?\.json$")


def _at(day: datetime, clock: str, micro: str | None) -> datetime:
    return day + timedelta(
        hours=int(clock[:2]), minutes=int(clock[2:4]), seconds=int(clock[4:]), microseconds=int(micro or 0)
    )


def committed_window(key: str, window: Window) -> Window | None:
    """The bounds of the committed window whose manifest is ``key``, in ``window``'s day partition.

    :param key: an object key of that partition.
    :param window: a window of the same partition (gives the day).
    :return: ``None`` if ``key`` is not a manifest.
    """
    match = _MANIFEST_RE.search(key)
    if match is None:
        return None
    day = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(_at(day, match[1], match[2]), _at(day, match[3], match[4]))


def check_committed_windows(
    s3: S3Hook, bucket: str, layout: PartitionLayout, windows: Iterable[Window], window_size: timedelta
) -> None:
    """Raise if a committed window overlaps one of ``windows`` with other bounds (one LIST per day).

    :param s3: the S3 hook.
    :param bucket: the bucket.
    :param layout: the table's key names.
    :param windows: the windows the task will write.
    :param window_size: the task's window size, for the message.
    :raises ConversationsFilterError: naming both window sizes and the manifest, before any write.
    """
    by_partition: dict[str, list[Window]] = {}
    for window in windows:
        by_partition.setdefault(layout.partition(window), []).append(window)
    for partition, ours in by_partition.items():
        for key in sorted(s3.list_keys(bucket_name=bucket, prefix=f"{partition}/") or []):
            theirs = committed_window(key, ours[0])
            if theirs is None:
                continue
            for window in ours:
                if theirs != window and theirs.start < window.end and window.start < theirs.end:
                    raise ConversationsFilterError(
                        f"window_size: {window_size} does not match the windows already committed under "
                        f"s3://{bucket}/{layout.prefix}: {key} covers [{format_timestamp(theirs.start)}, "
                        f"{format_timestamp(theirs.end)}) ({theirs.end - theirs.start}), which overlaps this task's "
                        f"window [{format_timestamp(window.start)}, {format_timestamp(window.end)}) "
                        f"({window.end - window.start}); its records would be in the table twice. Use the table's "
                        "window size (and ranges aligned to it), or another s3_prefix."
                    )
