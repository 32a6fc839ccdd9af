"""The window-size guard: which committed manifests conflict with a task's windows (the S3 side is in
``tests/integration/test_changes_operator.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsTableMismatchError
from airflow_provider_conversations.lake.s3.guard import TableShape, check_committed_windows, committed_window
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.windows import Window, split_windows

DAY = datetime(2025, 1, 3, tzinfo=timezone.utc)
LAYOUT = PartitionLayout("t")


class Listing:
    """Stands in for S3Hook.list_keys: the keys of one bucket, and the prefixes asked for."""

    def __init__(self, keys: list[str]) -> None:
        self.keys, self.asked = keys, []

    def __call__(self, prefix: str) -> list[str]:
        self.asked.append(prefix)
        return [k for k in self.keys if k.startswith(prefix)]


def shape(size: timedelta) -> TableShape:
    return TableShape(size, "jsonl", None, {})


def manifest(window: Window) -> str:
    return LAYOUT.manifest_key(window)


def test_a_manifest_key_gives_back_its_window_microseconds_and_midnight_included() -> None:
    clipped = Window(DAY + timedelta(minutes=30, microseconds=500_000), DAY + timedelta(days=1))
    assert committed_window(manifest(clipped), clipped) == clipped
    assert committed_window("t/date=2025-01-03/part-000000-010000-00000.jsonl", clipped) is None


@pytest.mark.parametrize(
    ("committed_size", "size", "refused"),
    [(timedelta(hours=1), timedelta(hours=1), False), (timedelta(hours=1), timedelta(minutes=15), True),
     (timedelta(minutes=15), timedelta(hours=1), True), (timedelta(hours=1), timedelta(days=1), True)],
)  # fmt: skip
def test_windows_overlapping_a_committed_window_of_another_size_are_refused(committed_size, size, refused) -> None:
    s3 = Listing([manifest(w) for w in split_windows(DAY, DAY + timedelta(days=1), committed_size)])
    ours = split_windows(DAY + timedelta(hours=5), DAY + timedelta(hours=7), size)
    if refused:
        with pytest.raises(ConversationsTableMismatchError, match=f"window_size: table {committed_size}, task {size}"):
            check_committed_windows(s3, "b", LAYOUT, ours, shape(size))
    else:
        check_committed_windows(s3, "b", LAYOUT, ours, shape(size))
    assert s3.asked == ["t/date=2025-01-03/"]  # one listing per day partition


def test_windows_of_another_size_on_other_days_do_not_matter() -> None:
    s3 = Listing([manifest(w) for w in split_windows(DAY, DAY + timedelta(days=1), timedelta(minutes=15))])
    later = DAY + timedelta(days=1)
    check_committed_windows(s3, "b", LAYOUT, split_windows(later, later + timedelta(days=1)), shape(timedelta(hours=1)))
