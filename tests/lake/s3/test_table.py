"""The S3 layout's commit on moto's server: staged parts, the manifest swap, and an older read never winning."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsTableMismatchError
from airflow_provider_conversations.lake.destination import Outcome, WindowParts
from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.s3.guard import TableShape, check_table_shape, claim_table_shape
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.s3.table import S3Table
from airflow_provider_conversations.lake.windows import Window
from tests.integration.conftest import read_objects

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
WINDOW = Window(DAY, DAY + timedelta(days=1))
LAYOUT = PartitionLayout("t")
T1 = datetime(2025, 2, 1, 10, tzinfo=UTC)
T2 = T1 + timedelta(minutes=5)


def table(bucket: str, **kwargs) -> S3Table:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    kwargs.setdefault("window_size", timedelta(days=1))
    return S3Table(S3Hook(aws_conn_id="aws_default"), bucket, LAYOUT, filters={}, owner="task t", **kwargs)


def version(tmp_path: Path, name: str, ids: list[str], read_started: datetime) -> WindowParts:
    """A window version of one part holding ``ids``."""
    body = "".join(json.dumps({"id": i}) + "\n" for i in ids).encode()
    path = tmp_path / name
    path.write_bytes(body)
    part = LocalPart(path, len(ids), len(body), hashlib.md5(body).hexdigest())
    return WindowParts(WINDOW, read_started, parts=[part], pages=1)


def staged_and_committed(t: S3Table, parts: WindowParts):
    parts.staged = [t.stage(parts.window, n, p) for n, p in enumerate(parts.parts)]
    return t.commit([parts])[0]


def table_ids(s3_client, bucket: str) -> list[str]:
    """The ids a manifest reader sees in the window."""
    objects = read_objects(s3_client, bucket, "t/")
    manifest = json.loads(objects[LAYOUT.manifest_key(WINDOW)])
    return [json.loads(line)["id"] for p in manifest["parts"] for line in objects[p["key"]].decode().splitlines()]


def test_a_commit_lists_content_keyed_parts_and_its_read_start_and_a_rerun_writes_the_same_keys(
    s3_client, bucket, tmp_path
):
    t = table(bucket)
    first = staged_and_committed(t, version(tmp_path, "a", ["1", "2"], T1))
    objects = read_objects(s3_client, bucket, "t/")
    manifest = json.loads(objects[LAYOUT.manifest_key(WINDOW)])
    assert manifest["read_started_at"] == "2025-02-01T10:00:00.000000Z" and manifest["record_count"] == 2
    assert [p["key"] for p in manifest["parts"]] == first.keys
    assert first.keys[0].endswith(f"-00000-{hashlib.md5(objects[first.keys[0]]).hexdigest()[:16]}.jsonl")
    again = staged_and_committed(t, version(tmp_path, "b", ["1", "2"], T2))
    assert again.keys == first.keys and again.deleted_stale == 0
    assert sorted(k for k in read_objects(s3_client, bucket, "t/") if "/part-" in k) == first.keys


def test_a_new_version_replaces_the_old_whole_and_removes_its_parts(s3_client, bucket, tmp_path):
    t = table(bucket)
    old = staged_and_committed(t, version(tmp_path, "a", ["1", "2"], T1))
    new = staged_and_committed(t, version(tmp_path, "b", ["1", "3"], T2))
    assert new.committed and new.deleted_stale == 1 and new.keys != old.keys
    assert table_ids(s3_client, bucket) == ["1", "3"]
    assert not any(k in read_objects(s3_client, bucket, "t/") for k in old.keys)
    assert not any("/_lease-" in k for k in read_objects(s3_client, bucket, "t/"))


@pytest.mark.parametrize("order", ["newer first", "older first"])
def test_an_older_read_never_replaces_a_newer_one_in_either_order(s3_client, bucket, tmp_path, order):
    t = table(bucket)
    older, newer = version(tmp_path, "old", ["1", "stale"], T1), version(tmp_path, "new", ["1", "edited"], T2)
    first, second = (newer, older) if order == "newer first" else (older, newer)
    results = [staged_and_committed(t, first), staged_and_committed(t, second)]
    assert table_ids(s3_client, bucket) == ["1", "edited"]
    outcomes = {r.read_started: r.outcome for r in results}
    assert outcomes[T2] is Outcome.COMMITTED
    assert outcomes[T1] is (Outcome.SKIPPED_OLDER_READ if order == "newer first" else Outcome.COMMITTED)
    parts = sorted(k for k in read_objects(s3_client, bucket, "t/") if "/part-" in k)
    assert len(parts) == 1  # the skipped version's staged part is gone too


def test_the_old_version_stays_readable_until_the_new_manifest_is_written(s3_client, bucket, tmp_path):
    t = table(bucket)
    staged_and_committed(t, version(tmp_path, "a", ["1", "2"], T1))
    new = version(tmp_path, "b", ["1", "2", "3"], T2)
    new.staged = [t.stage(WINDOW, 0, new.parts[0])]  # staged while the read goes on: not visible yet
    assert table_ids(s3_client, bucket) == ["1", "2"]
    t.commit([new])
    assert table_ids(s3_client, bucket) == ["1", "2", "3"]


def test_a_failed_upload_leaves_the_committed_version_readable(s3_client, bucket, tmp_path, monkeypatch):
    t = table(bucket)
    staged_and_committed(t, version(tmp_path, "a", ["1", "2"], T1))

    def refused(*args, **kwargs):
        raise OSError("PUT refused")

    monkeypatch.setattr(t.s3, "load_file", refused)
    with pytest.raises(OSError, match="PUT refused"):
        staged_and_committed(t, version(tmp_path, "b", ["3"], T2))
    assert table_ids(s3_client, bucket) == ["1", "2"]


def test_a_staged_part_another_writer_removed_is_uploaded_again_under_the_lease(s3_client, bucket, tmp_path):
    t = table(bucket)
    mine = version(tmp_path, "a", ["1", "2"], T2)
    mine.staged = [t.stage(WINDOW, 0, mine.parts[0])]
    other = staged_and_committed(t, version(tmp_path, "b", ["1"], T1))  # its commit removes unlisted parts
    assert other.deleted_stale == 1 and mine.staged[0] not in read_objects(s3_client, bucket, "t/")
    assert t.commit([mine])[0].committed
    assert table_ids(s3_client, bucket) == ["1", "2"]


def test_the_lease_is_renewed_while_held_and_released_after(s3_client, bucket, tmp_path, monkeypatch):
    from airflow_provider_conversations.lake.s3 import lease as lease_module

    seen: list[bytes] = []
    t = table(bucket, lease_seconds=0.9)
    real_check = lease_module.WindowLease.check

    def slow_check(self):
        key = self.key
        for _ in range(4):
            threading.Event().wait(0.4)
            seen.append(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read())
        real_check(self)

    monkeypatch.setattr(lease_module.WindowLease, "check", slow_check)
    staged_and_committed(t, version(tmp_path, "a", ["1"], T1))
    expiries = {json.loads(body)["expires_at"] for body in seen}
    assert len(expiries) >= 2  # renewed meanwhile
    assert len({json.loads(body)["taken_at"] for body in seen}) == 1
    assert not any("/_lease-" in k for k in read_objects(s3_client, bucket, "t/"))


SHAPE = TableShape(timedelta(days=1), "jsonl", None, {"platform": "zoom"})


@pytest.mark.parametrize(
    ("other", "named"),
    [
        (TableShape(timedelta(hours=1), "jsonl", None, {"platform": "zoom"}), "window_size: table 1 day, 0:00:00, task 1:00:00"),
        (TableShape(timedelta(days=1), "parquet", None, {"platform": "zoom"}), "file_format: table jsonl, task parquet"),
        (TableShape(timedelta(days=1), "jsonl", "gzip", {"platform": "zoom"}), "compression: table None, task gzip"),
        (TableShape(timedelta(days=1), "jsonl", None, {}), 'filters: table {"platform": "zoom"}, task {}'),
    ],
)  # fmt: skip
def test_a_task_of_another_shape_is_refused_naming_the_difference(s3_client, bucket, other, named):
    assert check_table_shape(s3_client, bucket, LAYOUT, SHAPE, [WINDOW], {}) is False  # no marker: writes nothing
    assert read_objects(s3_client, bucket) == {}
    claim_table_shape(s3_client, bucket, LAYOUT, SHAPE, {})
    assert check_table_shape(s3_client, bucket, LAYOUT, SHAPE, [WINDOW], {}) is True  # the same shape again
    with pytest.raises(ConversationsTableMismatchError) as err:
        check_table_shape(s3_client, bucket, LAYOUT, other, [WINDOW], {})
    assert named in str(err.value) and err.value.differences == [named]


def test_two_shapes_started_together_on_an_empty_prefix_one_wins_and_the_other_leaves_nothing(
    s3_client, bucket, tmp_path
):
    """Both tasks find no marker and stage parts; at their first commit exactly one creates the marker and
    commits, the other is refused and deletes what it staged."""
    daily, hourly = table(bucket), table(bucket, window_size=timedelta(hours=1))
    hour = Window(DAY, DAY + timedelta(hours=1))
    assert daily.check([WINDOW]) is None and hourly.check([hour]) is None
    versions = {"daily": version(tmp_path, "d", ["1", "2"], T1), "hourly": version(tmp_path, "h", ["1"], T1)}
    versions["hourly"].window = hour
    for name, t in (("daily", daily), ("hourly", hourly)):
        parts = versions[name]
        parts.staged = [t.stage(parts.window, n, p) for n, p in enumerate(parts.parts)]
    barrier = threading.Barrier(2)
    outcomes: dict[str, BaseException | None] = {}

    def run(name: str, t: S3Table) -> None:
        barrier.wait(5)
        try:
            t.commit([versions[name]])
            outcomes[name] = None
        except BaseException as err:
            outcomes[name] = err

    threads = [threading.Thread(target=run, args=(n, t)) for n, t in (("daily", daily), ("hourly", hourly))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(type(e).__name__ for e in outcomes.values()) == ["ConversationsTableMismatchError", "NoneType"]
    winner = next(n for n, e in outcomes.items() if e is None)
    objects = read_objects(s3_client, bucket, "t/")
    parts = sorted(k for k in objects if "/part-" in k)
    assert parts == versions[winner].staged  # the loser's staged part is gone
    assert [k for k in objects if "/_manifest-" in k] == [LAYOUT.manifest_key(versions[winner].window)]


def test_committed_reads_are_each_manifests_read_start_and_leave_out_windows_without_one(s3_client, bucket, tmp_path):
    t = table(bucket)
    staged_and_committed(t, version(tmp_path, "a", ["1"], T1))
    empty = Window(DAY + timedelta(days=1), DAY + timedelta(days=2))
    assert t.committed_reads([WINDOW, empty]) == {WINDOW: T1}
    staged_and_committed(t, version(tmp_path, "b", ["1", "2"], T2))  # a later read rewrote it
    assert t.committed_reads([WINDOW]) == {WINDOW: T2}


def test_committed_records_are_read_back_part_by_part_and_a_vanished_part_is_a_clear_error(s3_client, bucket, tmp_path):
    t = table(bucket)
    assert t.committed_records(WINDOW) is None and t.committed_rows(WINDOW) is None
    two = version(tmp_path, "a", ["1", "2"], T1)
    three = version(tmp_path, "b", ["3"], T1)
    parts = WindowParts(WINDOW, T1, parts=[*two.parts, *three.parts], pages=1)
    committed = staged_and_committed(t, parts)
    assert t.committed_rows(WINDOW) == [{"id": "1"}, {"id": "2"}, {"id": "3"}]
    records = t.committed_records(WINDOW)
    assert records is not None and next(records) == {"id": "1"}  # the first part is read
    s3_client.delete_object(Bucket=bucket, Key=committed.keys[1])  # a newer version removed the second meanwhile
    assert next(records) == {"id": "2"}
    with pytest.raises(ConversationsDestinationError, match=f"lists {committed.keys[1]}, which is missing"):
        next(records)
