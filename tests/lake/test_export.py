"""export: records routed into windows, each window committed once the read has passed it, and what a failure does.

An in-memory destination stands in for S3 or Iceberg; the S3 layout's own commit is tested in
``tests/lake/s3/test_table.py``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.lake.destination import Outcome, WindowParts, WindowResult
from airflow_provider_conversations.lake.export import RangeExport, ties_sorted_by_id
from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.schema import CONVERSATIONS_SCHEMA
from airflow_provider_conversations.lake.windows import Window, split_windows
from airflow_provider_conversations.timestamps import format_timestamp

D = datetime(2025, 3, 9, tzinfo=timezone.utc)
WINDOWS = split_windows(D, D + timedelta(hours=4), timedelta(hours=1))  # four hourly windows
READ_STARTED = D + timedelta(days=30)


def export_range(pages, windows, destination, **kwargs) -> list[WindowResult]:
    return RangeExport(windows, destination, read_started=READ_STARTED, **kwargs).run(pages)


class PublishFailed(Exception):
    pass


class MemoryDestination:
    """Commits into a dict; can fail, or hold, the commit of chosen windows."""

    file_format, compression, schema = "jsonl", None, CONVERSATIONS_SCHEMA

    def __init__(self, fail: set[int] = frozenset(), hold: dict[int, threading.Event] | None = None) -> None:
        self.fail, self.hold = fail, hold or {}
        self.staged: list[tuple[int, int]] = []
        self.started: dict[int, threading.Event] = {i: threading.Event() for i in range(len(WINDOWS))}
        self.attempted: list[int] = []
        self.committed: dict[int, dict] = {}  # window index -> its manifest
        self.lines: dict[int, list[dict]] = {}
        self._lock = threading.Lock()

    def check(self, windows: list[Window]) -> None:
        pass

    def finish(self) -> None:
        pass

    def stage(self, window: Window, number: int, part: LocalPart) -> str:
        with self._lock:
            self.staged.append((WINDOWS.index(window), number))
        return f"w{WINDOWS.index(window)}-{number}"

    def commit(self, group: list[WindowParts]) -> list[WindowResult]:
        return [self._commit(parts) for parts in group]

    def _commit(self, parts: WindowParts) -> WindowResult:
        index = WINDOWS.index(parts.window)
        with self._lock:
            self.attempted.append(index)
        self.started[index].set()
        if index in self.hold:
            assert self.hold[index].wait(timeout=10), "the test never released the window"
        if index in self.fail:
            raise PublishFailed(f"window {index}")
        lines = [json.loads(line) for part in parts.parts for line in part.path.read_text().splitlines()]
        with self._lock:
            self.lines[index] = lines
            self.committed[index] = {"records": parts.records, "read_started": parts.read_started}
        return WindowResult(parts.window, records=parts.records, pages=parts.pages, keys=list(parts.staged))


def rec(i: int, minutes: float) -> tuple[dict, datetime]:
    ts = D + timedelta(minutes=minutes)
    return {"id": f"r{i:03d}", "created_at": format_timestamp(ts)}, ts


def page(*timed: tuple[dict, datetime], remaining: int | None = None) -> tuple[Page, list]:
    return Page(records=[r for r, _ in timed], remaining=remaining), list(timed)


def test_records_land_in_their_windows_and_every_window_is_committed(tmp_path: Path):
    publisher = MemoryDestination()
    pages = [
        page(rec(1, 10), rec(2, 59), remaining=598),
        page(rec(3, 60), rec(4, 100), remaining=597),  # window 1
        page(rec(5, 200), remaining=596),  # window 3; window 2 is empty
    ]
    done: list[int] = []
    results = export_range(
        pages,
        WINDOWS,
        publisher,
        tmp_dir=str(tmp_path),
        on_committed=lambda r: done.append(WINDOWS.index(r.window)),
    )
    assert [r.records for r in results] == [2, 2, 0, 1]
    assert [r.pages for r in results] == [1, 1, 0, 1]
    assert {i: [r["id"] for r in lines] for i, lines in publisher.lines.items()} == {
        0: ["r001", "r002"],
        1: ["r003", "r004"],
        2: [],
        3: ["r005"],
    }
    assert sorted(done) == [0, 1, 2, 3]
    assert publisher.committed[1] == {"records": 2, "read_started": READ_STARTED}
    assert results[2].keys == [] and publisher.committed[2]["records"] == 0
    assert results[0].keys == ["w0-0"] and sorted(publisher.staged) == [(0, 0), (1, 0), (3, 0)]
    # The remaining budget a window reports is the last one the read had seen when the window was closed.
    assert results[0].remaining_budget in (597, 598) and results[3].remaining_budget == 596
    assert list(tmp_path.iterdir()) == []  # every local part file is gone


def test_a_window_spanning_pages_counts_each_page_once():
    publisher = MemoryDestination()
    results = export_range([page(rec(1, 1), rec(2, 2)), page(rec(3, 3)), page(rec(4, 61))], WINDOWS, publisher)
    assert [(r.records, r.pages) for r in results] == [(3, 2), (1, 1), (0, 0), (0, 0)]


def test_a_failing_publish_fails_the_export_and_no_later_window_is_touched(tmp_path: Path):
    publisher = MemoryDestination(fail={1})
    pages = [page(rec(1, 10)), page(rec(2, 70)), page(rec(3, 130)), page(rec(4, 190))]
    with pytest.raises(PublishFailed, match="window 1"):
        export_range(pages, WINDOWS, publisher, publish_concurrency=0, tmp_dir=str(tmp_path))
    assert publisher.attempted == [0, 1]  # windows 2 and 3 were never handed over
    assert list(publisher.committed) == [0]  # the failed window stays uncommitted
    assert list(tmp_path.iterdir()) == []


def test_no_window_is_handed_over_once_a_failed_publish_is_known(tmp_path: Path):
    release = threading.Event()
    publisher = MemoryDestination(fail={0}, hold={0: release})
    export = RangeExport(WINDOWS, publisher, read_started=READ_STARTED, publish_concurrency=1, tmp_dir=str(tmp_path))
    export.route(*rec(1, 10), serial=0)
    export.route(*rec(2, 130), serial=1)  # passes windows 0 and 1: both handed over, window 0 still publishing
    release.set()
    # One publishing thread: window 1 starts only once window 0's failure is recorded.
    assert publisher.started[1].wait(timeout=10)
    with pytest.raises(PublishFailed, match="window 0"):
        export.route(*rec(3, 190), serial=2)  # would hand over window 2: the failure is known first
    export.abort()
    assert publisher.attempted == [0, 1]  # window 1 was handed over before the failure was known
    assert list(publisher.committed) == [1]
    assert list(tmp_path.iterdir()) == []  # window 2's local files are dropped


def test_a_failing_read_still_publishes_the_windows_already_read(tmp_path: Path):
    publisher = MemoryDestination()

    def pages() -> Iterator[tuple[Page, list]]:
        yield page(rec(1, 10))
        yield page(rec(2, 70))
        yield page(rec(3, 130), rec(4, 131))  # window 2 has begun (window 1 is read): not read to its end
        raise ConnectionError("the API went away")

    with pytest.raises(ConnectionError):
        export_range(pages(), WINDOWS, publisher, tmp_dir=str(tmp_path))
    assert sorted(publisher.committed) == [0, 1] and sorted(publisher.attempted) == [0, 1]
    assert list(tmp_path.iterdir()) == []


def test_finish_raises_a_publish_failure_of_the_last_windows():
    publisher = MemoryDestination(fail={3})
    with pytest.raises(PublishFailed, match="window 3"):
        export_range([page(rec(1, 10))], WINDOWS, publisher)
    assert sorted(publisher.committed) == [0, 1, 2]


def test_ties_are_ordered_by_id_and_the_rest_kept_in_order():
    rows = [
        ({"id": "b"}, 1, 0),
        ({"id": "a"}, 1, 0),
        ({"id": "z"}, 2, 0),
        ({"id": "c"}, 3, 1),
        ({"id": "a"}, 3, 1),
    ]
    assert [r["id"] for r, _, _ in ties_sorted_by_id(rows)] == ["a", "b", "z", "a", "c"]


def test_windows_commit_in_groups_when_the_destination_asks_for_it(tmp_path: Path):
    publisher = MemoryDestination()
    groups: list[list[int]] = []
    real = publisher.commit

    def commit(group: list[WindowParts]) -> list[WindowResult]:
        groups.append([WINDOWS.index(p.window) for p in group])
        return real(group)

    publisher.commit = commit  # type: ignore[method-assign]
    pages = [page(rec(1, 10)), page(rec(2, 70)), page(rec(3, 130))]
    results = export_range(pages, WINDOWS, publisher, group_size=3, publish_concurrency=0, tmp_dir=str(tmp_path))
    assert groups == [[0, 1, 2], [3]]
    assert [r.records for r in results] == [1, 1, 1, 0]


def test_a_full_tmp_dir_is_named_in_the_error(tmp_path: Path, monkeypatch):
    import errno

    from airflow_provider_conversations.exceptions import ConversationsDestinationError
    from airflow_provider_conversations.lake import jsonl

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(jsonl.JsonlPartWriter, "write", full)
    with pytest.raises(ConversationsDestinationError, match=f"tmp_dir: cannot write .* under '{tmp_path}'.*No space"):
        export_range([page(rec(1, 10))], WINDOWS, MemoryDestination(), tmp_dir=str(tmp_path))


def test_window_result_summary_is_small_and_json_safe():
    result = WindowResult(WINDOWS[0], records=3, pages=1, keys=["k"], manifest_key="m")
    assert json.loads(json.dumps(result.summary())) == {
        "created_at_gte": "2025-03-09T00:00:00.000000Z",
        "created_at_lt": "2025-03-09T01:00:00.000000Z",
        "records": 3,
        "pages": 1,
        "keys": ["k"],
        "manifest": "m",
    }
    skipped = WindowResult(WINDOWS[0], outcome=Outcome.SKIPPED_OLDER_READ)
    assert skipped.summary()["outcome"] == "skipped_older_read" and not skipped.committed
