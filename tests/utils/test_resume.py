"""Resume on retry, against an in-memory task state store and table (the S3 and dag.test() runs are in
``tests/integration/test_resume_dag.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_conversations.lake.destination import Outcome, WindowResult
from airflow_provider_conversations.lake.windows import Window, split_windows
from airflow_provider_conversations.utils.resume import WindowResume, table_shape, window_key

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
WINDOWS = split_windows(DAY, DAY + timedelta(hours=6), timedelta(hours=1))
READ = DAY + timedelta(days=1, minutes=5)
SHAPE = table_shape({"bucket": "b", "prefix": "p"}, window_size=3600, file_format="jsonl", filters={})


class Store:
    """Airflow's TaskStateStoreAccessor, kept in a dict (JSON values, as the real one stores)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.gets = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.gets += 1
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


class Table:
    """A destination's committed versions: window -> when its read began."""

    def __init__(self) -> None:
        self.reads: dict[Window, datetime] = {}

    def committed_reads(self, windows: list[Window]) -> dict[Window, datetime]:
        return {w: self.reads[w] for w in windows if w in self.reads}


def commit(resume: WindowResume, table: Table, window: Window, read: datetime = READ) -> None:
    """What the export does for a committed window: the table holds it, the try records it."""
    table.reads[window] = read
    resume.record(WindowResult(window, records=7, size=70, manifest_key=f"m-{window.start.hour}", read_started=read))


def context(store: Store | None, try_number: int) -> dict[str, Any]:
    return {"task_state_store": store, "ti": SimpleNamespace(try_number=try_number)}


def first_try_committing(windows: list[Window], store: Store, table: Table) -> None:
    first = WindowResume.from_context(context(store, 1), SHAPE)
    assert first is not None
    for window in windows:
        commit(first, table, window)


def test_a_retry_skips_the_windows_the_first_try_committed_and_reads_the_rest_in_contiguous_runs():
    store, table = Store(), Table()
    first_try_committing([WINDOWS[0], WINDOWS[1], WINDOWS[3]], store, table)
    retry = WindowResume.from_context(context(store, 2), SHAPE)
    assert retry is not None
    left, resumed = retry.skip_committed([WINDOWS], table)
    assert left == [[WINDOWS[2]], WINDOWS[4:]]
    assert [(r.window, r.outcome, r.records, r.manifest_key) for r in resumed] == [
        (WINDOWS[0], Outcome.RESUMED, 7, "m-0"),
        (WINDOWS[1], Outcome.RESUMED, 7, "m-1"),
        (WINDOWS[3], Outcome.RESUMED, 7, "m-3"),
    ]
    assert all(r.committed for r in resumed) and resumed[0].summary()["outcome"] == "resumed"


def test_a_window_rewritten_or_removed_since_is_exported_again():
    store, table = Store(), Table()
    first_try_committing(WINDOWS[:3], store, table)
    table.reads[WINDOWS[0]] = READ + timedelta(minutes=1)  # another task committed a later read
    del table.reads[WINDOWS[1]]  # its manifest is gone
    retry = WindowResume.from_context(context(store, 2), SHAPE)
    assert retry is not None
    left, resumed = retry.skip_committed([WINDOWS], table)
    assert [r.window for r in resumed] == [WINDOWS[2]]
    assert left == [WINDOWS[:2], WINDOWS[3:]]


def test_records_of_another_table_shape_are_not_resumed():
    store, table = Store(), Table()
    first_try_committing(WINDOWS, store, table)
    other = table_shape({"bucket": "b", "prefix": "p"}, window_size=3600, file_format="jsonl", filters={"x": 1})
    retry = WindowResume.from_context(context(store, 2), other)
    assert retry is not None
    assert retry.skip_committed([WINDOWS], table) == ([WINDOWS], [])


def test_a_first_try_reads_no_records_and_a_success_forgets_them():
    store, table = Store(), Table()
    first = WindowResume.from_context(context(store, 1), SHAPE)
    assert first is not None
    assert first.skip_committed([WINDOWS], table) == ([WINDOWS], []) and store.gets == 0
    first_try_committing(WINDOWS[:2], store, table)
    retry = WindowResume.from_context(context(store, 2), SHAPE)
    assert retry is not None
    _left, resumed = retry.skip_committed([WINDOWS], table)
    commit(retry, table, WINDOWS[2])
    assert set(store.values) == {window_key(w) for w in WINDOWS[:3]}
    retry.forget([*resumed, WindowResult(WINDOWS[2], read_started=READ)])
    assert store.values == {}  # a later clear of the successful task exports every window again


def test_only_committed_windows_are_recorded():
    store = Store()
    resume = WindowResume(store, SHAPE, earlier_tries=False)
    resume.record(WindowResult(WINDOWS[0], read_started=READ, outcome=Outcome.SKIPPED_OLDER_READ))
    assert store.values == {}


def test_without_a_task_state_store_nothing_is_resumed():
    assert WindowResume.from_context({"ti": SimpleNamespace(try_number=3)}, SHAPE) is None


def test_a_failing_store_is_logged_once_and_never_fails_the_export(caplog: pytest.LogCaptureFixture):
    class Broken(Store):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("the API server is away")

        def set(self, key: str, value: Any) -> None:
            raise RuntimeError("the API server is away")

    resume = WindowResume(Broken(), SHAPE, earlier_tries=True)
    assert resume.skip_committed([WINDOWS], Table()) == ([WINDOWS], [])
    resume.record(WindowResult(WINDOWS[0], read_started=READ))
    assert caplog.text.count("Task state store unusable") == 1
