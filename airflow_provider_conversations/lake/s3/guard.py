"""Guard the table: one window size, one file format, one compression and one filter set per prefix.

A window is replaced by its own manifest and parts (its key token names its bounds). A window of
another size over the same time would leave the committed one in place: its records twice in the
table. Another format, compression or filter set would mix days of two kinds. So the first task to
write a prefix records the table's shape in ``{prefix}/_table.json``, created with
``If-None-Match: *``: of two tasks that start together on an empty prefix exactly one creates it,
and the other reads it back. Every task compares its own shape with it before any API request or
write, and refuses to run naming each difference. A prefix written without the marker is checked
against the manifests committed on the task's days before the marker is created.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsTableMismatchError
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.s3.lease import s3_error_code
from airflow_provider_conversations.lake.settings import control_object_args, read_back_args
from airflow_provider_conversations.lake.windows import Window

_MANIFEST_RE = re.compile(r"/_manifest-(\d{6})(\d{6})?-(\d{6})(\d{6})?\.json$")


@dataclass(frozen=True)
class TableShape:
    """What every window of one table shares.

    :param window_size: the windows' length.
    :param file_format: ``"jsonl"`` or ``"parquet"``.
    :param compression: the data files' compression.
    :param filters: the read's filters by field name (``ConversationFilters.as_dict()``).
    """

    window_size: timedelta
    file_format: str
    compression: str | None
    filters: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> bytes:
        body = {
            "window_size_seconds": int(self.window_size.total_seconds()),
            "file_format": self.file_format,
            "compression": self.compression,
            "filters": dict(self.filters),
        }
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def parse(cls, raw: bytes) -> TableShape:
        body = json.loads(raw)
        return cls(
            timedelta(seconds=int(body["window_size_seconds"])),
            str(body["file_format"]),
            body.get("compression"),
            dict(body.get("filters") or {}),
        )

    def differences(self, task: TableShape) -> list[str]:
        """Each way ``task`` differs from this (the table's) shape, named: ``"<what>: table X, task Y"``."""
        out = []
        for name, theirs, ours in (
            ("window_size", self.window_size, task.window_size),
            ("file_format", self.file_format, task.file_format),
            ("compression", self.compression, task.compression),
            ("filters", _canonical(self.filters), _canonical(task.filters)),
        ):
            if theirs != ours:
                out.append(f"{name}: table {theirs}, task {ours}")
        return out


def _canonical(filters: Mapping[str, Any]) -> str:
    return json.dumps(dict(filters), sort_keys=True, default=str)


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


def _refuse(
    bucket: str, layout: PartitionLayout, differences: list[str], where: str
) -> ConversationsTableMismatchError:
    return ConversationsTableMismatchError(
        f"s3://{bucket}/{layout.prefix} holds a table of another shape ({where}): {'; '.join(differences)}. "
        "Its windows would be replaced only in part, or mixed with days of another kind. Use the table's "
        "settings, or another s3_prefix.",
        differences=differences,
    )


def check_committed_windows(
    list_keys: Callable[[str], list[str]],
    bucket: str,
    layout: PartitionLayout,
    windows: Iterable[Window],
    shape: TableShape,
) -> None:
    """Raise if a committed window overlaps one of ``windows`` with other bounds (one LIST per day).

    :param list_keys: the keys under a prefix.
    :param bucket: the bucket.
    :param layout: the table's key names.
    :param windows: the windows the task will write.
    :param shape: the task's shape, for the message.
    :raises ConversationsTableMismatchError: naming both window sizes and the manifest, before any write.
    """
    by_partition: dict[str, list[Window]] = {}
    for window in windows:
        by_partition.setdefault(layout.partition(window), []).append(window)
    for partition, ours in by_partition.items():
        for key in sorted(list_keys(f"{partition}/")):
            theirs = committed_window(key, ours[0])
            if theirs is None:
                continue
            for window in ours:
                if theirs != window and theirs.start < window.end and window.start < theirs.end:
                    raise _refuse(
                        bucket,
                        layout,
                        [f"window_size: table {theirs.end - theirs.start}, task {shape.window_size}"],
                        f"{key} covers {theirs.label}, which overlaps this task's window {window.label}",
                    )


def check_table_shape(
    client: Any,
    bucket: str,
    layout: PartitionLayout,
    shape: TableShape,
    windows: Iterable[Window],
    extra_args: Mapping[str, Any],
) -> bool:
    """Refuse a task whose shape differs from the table's (before any API request; writes nothing).

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param layout: the table's key names.
    :param shape: the task's shape.
    :param windows: the windows the task will write (checked against the manifests of a table without
        a marker).
    :param extra_args: the task's ``s3_extra_args`` (SSE-C to read the marker back).
    :return: whether the table has its marker (else :func:`claim_table_shape` must create it before the
        task's first commit).
    :raises ConversationsTableMismatchError: naming each difference.
    """
    key = layout.table_key()
    table = _read_shape(client, bucket, key, extra_args)
    if table is not None:
        differences = table.differences(shape)
        if differences:
            raise _refuse(bucket, layout, differences, f"s3://{bucket}/{key}")
        return True
    check_committed_windows(lambda prefix: _list_keys(client, bucket, prefix), bucket, layout, windows, shape)
    return False


def claim_table_shape(
    client: Any, bucket: str, layout: PartitionLayout, shape: TableShape, extra_args: Mapping[str, Any]
) -> None:
    """Create the table's marker with the task's shape, unless another task did first (then compare with it).

    Called before a task's first commit into a table without a marker: of two tasks of different shapes
    started together on an empty prefix, exactly one creates it and the other is refused before it
    commits anything.

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param layout: the table's key names.
    :param shape: the task's shape.
    :param extra_args: the task's ``s3_extra_args`` (the marker takes the control-object ones).
    :raises ConversationsTableMismatchError: another task created it with another shape.
    """
    key = layout.table_key()
    for _ in range(3):
        try:
            client.put_object(
                Bucket=bucket, Key=key, Body=shape.as_json(), IfNoneMatch="*", **control_object_args(extra_args)
            )
            return
        except Exception as err:
            if s3_error_code(err) not in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                raise
        table = _read_shape(client, bucket, key, extra_args)  # another task created it first: compare
        if table is not None:
            differences = table.differences(shape)
            if differences:
                raise _refuse(bucket, layout, differences, f"s3://{bucket}/{key}")
            return


def _list_keys(client: Any, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def _read_shape(client: Any, bucket: str, key: str, extra_args: Mapping[str, Any]) -> TableShape | None:
    try:
        raw = client.get_object(Bucket=bucket, Key=key, **read_back_args(extra_args))["Body"].read()
    except Exception as err:
        if s3_error_code(err) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    try:
        return TableShape.parse(raw)
    except (ValueError, KeyError, TypeError) as err:
        raise ConversationsTableMismatchError(
            f"s3://{bucket}/{key} is not a table marker this package wrote ({type(err).__name__}); "
            "use another s3_prefix, or delete it if no other table lives there",
            differences=["marker unreadable"],
        ) from None
