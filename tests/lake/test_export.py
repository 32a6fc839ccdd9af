"""export: records routed into windows, each window published once the read has passed it, and what a failure does.

An in-memory publisher stands in for S3 where the routing and the failure semantics are tested; a
fake S3 hook records what :class:`WindowPublisher` does to the bucket.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.lake.export import (
    RangeExport,
    WindowPublisher,
    WindowResult,
    export_range,
    ties_sorted_by_id,
)
from airflow_provider_conversations.lake.jsonl import LocalPart
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.windows import Window, split_windows
from airflow_provider_conversations.timestamps import format_timestamp

D = datetime(2025, 3, 9, tzinfo=timezone.utc)
WINDOWS = split_windows(D, D + timedelta(hours=4), timedelta(hours=1))  # four hourly windows
FILTERS = ConversationFilters(platform="zoom")


class PublishFailed(Exception):
    pass


class MemoryPublisher:
    """Publishes into a dict; can fail, or hold, the publish of chosen windows."""

    def __init__(self, fail: set[int] = frozenset(), hold: dict[int, threading.Event] | None = None) -> None:
        self.layout = PartitionLayout("p")
        self.fail, self.hold = fail, hold or {}
        self.started: dict[int, threading.Event] = {i: threading.Event() for i in range(len(WINDOWS))}
        self.attempted: list[int] = []
        self.committed: dict[int, dict] = {}  # window index -> its manifest
        self.lines: dict[int, list[dict]] = {}
        self._lock = threading.Lock()

    def publish(self, window: Window, parts: list[LocalPart], manifest: bytes) -> tuple[list[str], int]:
        index = WINDOWS.index(window)
        with self._lock:
            self.attempted.append(index)
        self.started[index].set()
        if index in self.hold:
            assert self.hold[index].wait(timeout=10), "the test never released the window"
        if index in self.fail:
            raise PublishFailed(f"window {index}")
        lines = [json.loads(line) for part in parts for line in part.path.read_text().splitlines()]
        with self._lock:
            self.lines[index] = lines
            self.committed[index] = json.loads(manifest)
        return [self.layout.part_key(window, n) for n in range(len(parts))], 0


def rec(i: int, minutes: float) -> tuple[dict, datetime]:
    ts = D + timedelta(minutes=minutes)
    return {"id": f"r{i:03d}", "created_at": format_timestamp(ts)}, ts


def page(*timed: tuple[dict, datetime], remaining: int | None = None) -> tuple[Page, list]:
    return Page(records=[r for r, _ in timed], remaining=remaining), list(timed)


def test_records_land_in_their_windows_and_every_window_is_committed(tmp_path: Path):
    publisher = MemoryPublisher()
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
        filters=FILTERS,
        tmp_dir=tmp_path,
        on_published=lambda r: done.append(WINDOWS.index(r.window)),
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
    manifest = publisher.committed[1]
    assert manifest["record_count"] == 2 and manifest["filters"] == {"platform": "zoom"} and manifest["complete"]
    assert results[2].keys == [] and publisher.committed[2]["parts"] == []
    # The remaining budget a window reports is the last one the read had seen when the window was closed.
    assert results[0].remaining_budget in (597, 598) and results[3].remaining_budget == 596
    assert list(tmp_path.iterdir()) == []  # every local part file is gone


def test_a_window_spanning_pages_counts_each_page_once():
    publisher = MemoryPublisher()
    results = export_range(
        [page(rec(1, 1), rec(2, 2)), page(rec(3, 3)), page(rec(4, 61))], WINDOWS, publisher, filters=FILTERS
    )
    assert [(r.records, r.pages) for r in results] == [(3, 2), (1, 1), (0, 0), (0, 0)]


def test_a_failing_publish_fails_the_export_and_no_later_window_is_touched(tmp_path: Path):
    publisher = MemoryPublisher(fail={1})
    pages = [page(rec(1, 10)), page(rec(2, 70)), page(rec(3, 130)), page(rec(4, 190))]
    with pytest.raises(PublishFailed, match="window 1"):
        export_range(pages, WINDOWS, publisher, filters=FILTERS, publish_concurrency=0, tmp_dir=tmp_path)
    assert publisher.attempted == [0, 1]  # windows 2 and 3 were never handed over
    assert list(publisher.committed) == [0]  # the failed window stays uncommitted
    assert list(tmp_path.iterdir()) == []


def test_no_window_is_handed_over_once_a_failed_publish_is_known(tmp_path: Path):
    release = threading.Event()
    publisher = MemoryPublisher(fail={0}, hold={0: release})
    export = RangeExport(WINDOWS, publisher, filters=FILTERS, publish_concurrency=1, tmp_dir=tmp_path)
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
    publisher = MemoryPublisher()

    def pages() -> Iterator[tuple[Page, list]]:
        yield page(rec(1, 10))
        yield page(rec(2, 70))
        yield page(rec(3, 130), rec(4, 131))  # window 2 has begun (window 1 is read): not read to its end
        raise ConnectionError("the API went away")

    with pytest.raises(ConnectionError):
        export_range(pages(), WINDOWS, publisher, filters=FILTERS, tmp_dir=tmp_path)
    assert sorted(publisher.committed) == [0, 1] and sorted(publisher.attempted) == [0, 1]
    assert list(tmp_path.iterdir()) == []


def test_finish_raises_a_publish_failure_of_the_last_windows():
    publisher = MemoryPublisher(fail={3})
    with pytest.raises(PublishFailed, match="window 3"):
        export_range([page(rec(1, 10))], WINDOWS, publisher, filters=FILTERS)
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


class FakeS3:
    """The few S3Hook methods WindowPublisher calls, over a dict; ``fail_upload`` makes part uploads fail."""

    def __init__(self, objects: dict[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.calls: list[tuple[str, object]] = []
        self.fail_upload = False

    def list_keys(self, bucket_name: str, prefix: str) -> list[str]:
        self.calls.append(("list", prefix))
        return sorted(k for k in self.objects if k.startswith(prefix))

    def delete_objects(self, bucket: str, keys: list[str]) -> None:
        self.calls.append(("delete", tuple(keys)))
        for key in keys:
            self.objects.pop(key, None)

    def load_file(self, filename: Path, key: str, bucket_name: str, replace: bool) -> None:
        self.calls.append(("put", key))
        if self.fail_upload:
            raise OSError("upload failed")
        self.objects[key] = Path(filename).read_bytes()

    def load_bytes(self, data: bytes, key: str, bucket_name: str, replace: bool) -> None:
        self.calls.append(("put", key))
        self.objects[key] = data


def local_part(tmp_path: Path, name: str, body: bytes) -> LocalPart:
    path = tmp_path / name
    path.write_bytes(body)
    return LocalPart(path, body.count(b"\n"), len(body), "md5")


def test_publisher_replaces_a_window_and_writes_the_manifest_last(tmp_path: Path):
    layout, window = PartitionLayout("p"), WINDOWS[0]
    stale = layout.part_key(window, 1)
    s3 = FakeS3({layout.manifest_key(window): b"old", layout.part_key(window, 0): b"old", stale: b"old"})
    publisher = WindowPublisher(s3, "bucket", layout)  # type: ignore[arg-type]
    keys, deleted = publisher.publish(window, [local_part(tmp_path, "a", b"{}\n")], b"manifest")
    assert keys == [layout.part_key(window, 0)] and deleted == 1
    assert s3.calls == [
        ("list", "p/date=2025-03-09/"),
        ("delete", (layout.manifest_key(window),)),  # from here on the window reads as incomplete
        ("put", layout.part_key(window, 0)),
        ("delete", (stale,)),
        ("put", layout.manifest_key(window)),  # committed last
    ]
    assert s3.objects == {layout.part_key(window, 0): b"{}\n", layout.manifest_key(window): b"manifest"}


def test_publisher_failure_leaves_the_window_without_a_manifest(tmp_path: Path):
    layout, window = PartitionLayout("p"), WINDOWS[1]
    s3 = FakeS3({layout.manifest_key(window): b"old"})
    s3.fail_upload = True
    publisher = WindowPublisher(s3, "bucket", layout)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="upload failed"):
        publisher.publish(window, [local_part(tmp_path, "a", b"{}\n")], b"manifest")
    assert layout.manifest_key(window) not in s3.objects


def test_publisher_lists_each_day_once(tmp_path: Path):
    s3 = FakeS3()
    publisher = WindowPublisher(s3, "bucket", PartitionLayout("p"))  # type: ignore[arg-type]
    for window in WINDOWS:
        publisher.publish(window, [], b"m")
    assert [c for c in s3.calls if c[0] == "list"] == [("list", "p/date=2025-03-09/")]
    assert [c[0] for c in s3.calls].count("put") == 4  # an empty window costs its manifest only


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
