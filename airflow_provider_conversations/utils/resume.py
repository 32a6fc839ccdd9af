"""Resume on retry: a retry skips the windows an earlier try of the same task instance committed.

Airflow 3.3's task state store (``context["task_state_store"]``) keeps small JSON values per task
instance across its tries. As each window is committed, the export records it there under one key per
window: the table's shape (a hash of the table, window size, format and filters), when the committed
read began, and the window's counts. A later try (``try_number > 1``) reads the records of the windows
it would export and asks the table when each window's *current* version was read
(:meth:`~airflow_provider_conversations.lake.destination.Destination.committed_reads`, e.g. the S3
manifest's ``read_started_at``): a window whose current version is still the one recorded is not read
again. A window another task rewrote since, or whose version is gone, or recorded for another table
shape, is exported as usual.

After a successful try the records are deleted, so clearing a successful task later re-exports every
window. Without a store (Airflow before 3.3, a task run outside Airflow) nothing is recorded or
skipped. The store is an optimisation: a store that fails is logged and ignored, never failing the
export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from airflow_provider_conversations.lake.destination import Destination, Outcome, WindowResult
from airflow_provider_conversations.lake.windows import Window, contiguous_runs
from airflow_provider_conversations.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

#: The prefix of this package's keys in the task state store.
KEY_PREFIX = "conversations.window"


class StateStore(Protocol):
    """What resuming needs of Airflow's ``TaskStateStoreAccessor``: JSON values by key, per task instance."""

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default``."""

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when absent)."""


def window_key(window: Window) -> str:
    """The state store key of ``window``'s record."""
    return f"{KEY_PREFIX}.{format_timestamp(window.start)}.{format_timestamp(window.end)}"


def table_shape(table: Mapping[str, Any], **shape: Any) -> str:
    """A short hash naming the table and what its windows hold: a record of another shape is never resumed.

    :param table: the table's identity (the XCom fields naming it: bucket and prefix, or catalog table).
    :param shape: window size, format, compression, filters.
    """
    text = json.dumps({"table": dict(table), **shape}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class WindowResume:
    """The records of committed windows of one task instance, in its state store (see the module docstring).

    :param store: the task's state store.
    :param shape: :func:`table_shape` of this task's table.
    :param earlier_tries: whether an earlier try may have recorded windows (``try_number > 1``).
    """

    store: StateStore
    shape: str
    earlier_tries: bool

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failed = False

    @classmethod
    def from_context(cls, context: Mapping[str, Any], shape: str) -> WindowResume | None:
        """The task's resume records, or ``None`` when the run has no task state store (Airflow < 3.3).

        :param context: the task context.
        :param shape: :func:`table_shape` of the task's table.
        """
        store = context.get("task_state_store")
        if store is None:
            return None
        ti = context.get("ti")
        return cls(store, shape, earlier_tries=int(getattr(ti, "try_number", 1) or 1) > 1)

    def skip_committed(
        self, runs: list[list[Window]], destination: Destination
    ) -> tuple[list[list[Window]], list[WindowResult]]:
        """Take out of ``runs`` the windows an earlier try committed and nobody changed since.

        :param runs: the contiguous runs of windows the task would export.
        :param destination: the table, asked for its windows' current versions.
        :return: the runs left (contiguous runs of the remaining windows, in order), and one
            :attr:`Outcome.RESUMED` result per skipped window.
        """
        if not self.earlier_tries:
            return runs, []
        records = self._records(w for run in runs for w in run)
        current = destination.committed_reads(list(records)) if records else {}
        resumed: list[WindowResult] = []
        for window, record in records.items():
            if current.get(window) == record.read_started:
                resumed.append(record.result(window))
        if not resumed:
            return runs, []
        done = {r.window for r in resumed}
        left = [part for run in runs for part in contiguous_runs(w for w in run if w not in done)]
        log.info(
            "Resuming: %d window(s) committed by an earlier try and unchanged since are not read again; "
            "%d window(s) left to export",
            len(resumed),
            sum(len(run) for run in left),
        )
        return left, resumed

    def record(self, result: WindowResult) -> None:
        """Record a window this try committed (called from publishing threads).

        :param result: the window's result.
        """
        if result.outcome is not Outcome.COMMITTED or result.read_started is None:
            return
        value = {
            "shape": self.shape,
            "read_started": format_timestamp(result.read_started),
            "records": result.records,
            "size": result.size,
            "manifest": result.manifest_key,
        }
        self._call("record", self.store.set, window_key(result.window), value)

    def forget(self, results: Iterable[WindowResult]) -> None:
        """After a successful try: delete the records of its windows (a later clear exports them all again).

        :param results: the task's window results.
        """
        for result in results:
            if result.outcome in (Outcome.COMMITTED, Outcome.RESUMED):
                self._call("forget", self.store.delete, window_key(result.window))

    def _records(self, windows: Iterable[Window]) -> dict[Window, _Record]:
        found: dict[Window, _Record] = {}
        for window in windows:
            raw = self._call("read", self.store.get, window_key(window))
            record = _Record.parse(raw, self.shape)
            if record is not None:
                found[window] = record
        return found

    def _call(self, what: str, method: Any, *args: Any) -> Any:
        # One call at a time: the publishing threads record concurrently, and dag.test()'s in-process
        # supervisor channel is not thread-safe (a worker's is).
        with self._lock:
            if self._failed:
                return None
            try:
                return method(*args)
            except Exception as err:  # the store only saves work: an export never fails for it
                self._failed = True
                log.warning("Task state store unusable (%s: %s); resume on retry is off", what, type(err).__name__)
                return None


@dataclass(frozen=True)
class _Record:
    read_started: datetime
    records: int
    size: int
    manifest: str

    @classmethod
    def parse(cls, raw: Any, shape: str) -> _Record | None:
        """The record if it is one of this table shape, else ``None``."""
        if not isinstance(raw, dict) or raw.get("shape") != shape:
            return None
        try:
            return cls(
                parse_timestamp(raw["read_started"], "read_started"),
                int(raw["records"]),
                int(raw["size"]),
                str(raw.get("manifest") or ""),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def result(self, window: Window) -> WindowResult:
        return WindowResult(
            window,
            records=self.records,
            size=self.size,
            manifest_key=self.manifest,
            outcome=Outcome.RESUMED,
            read_started=self.read_started,
        )
