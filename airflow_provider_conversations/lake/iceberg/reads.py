"""What a commit records and compares per window: the read start of each committed version, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp, parse_api_timestamp

if TYPE_CHECKING:
    from pyiceberg.table import Table

#: Snapshot summary key prefix: ``<prefix><gte>/<lt>`` holds when the read of that window's version began.
READ_STARTED = "conversations.read-started."


class GroupItem(Protocol):
    """One fully read window handed to :meth:`IcebergDestination.commit`."""

    window: Window
    read_started: datetime
    parts: list[LocalPart]
    staged: list[str]
    pages: int


@dataclass
class WindowOutcome:
    """What a commit did to one window.

    :param window: the window.
    :param committed: whether this read's version is now the table's (``False``: a later read's was kept).
    :param records: records of this read's version.
    :param size: bytes of its data files.
    :param files: its data file paths.
    :param removed: data files of the replaced version taken out of the table.
    :param kept_read_started: when skipped, the read start of the version that was kept.
    """

    window: Window
    committed: bool
    records: int = 0
    size: int = 0
    files: list[str] = field(default_factory=list)
    removed: int = 0
    kept_read_started: datetime | None = None


@dataclass
class CommitResult:
    """One commit of a group: the snapshot it made (``None`` when nothing changed) and each window's outcome."""

    snapshot_id: int | None
    windows: list[WindowOutcome]
    attempts: int = 1
    seconds: float = 0.0


def read_started_key(window: Window) -> str:
    """The snapshot summary key recording the read start of ``window``'s version."""
    return f"{READ_STARTED}{format_timestamp(window.start)}/{format_timestamp(window.end)}"


def committed_reads(table: Table, snapshot_id: int | None = None) -> dict[Window, datetime]:
    """Each window's latest recorded read start, along a snapshot's ancestry (newest entry wins).

    :param table: the table, as loaded.
    :param snapshot_id: the snapshot (default the current one).
    """
    found: dict[Window, datetime] = {}
    snapshot = table.current_snapshot() if snapshot_id is None else table.snapshot_by_id(snapshot_id)
    while snapshot is not None:
        for key, value in (snapshot.summary.additional_properties if snapshot.summary else {}).items():
            if key.startswith(READ_STARTED):
                gte, _, lt = key[len(READ_STARTED) :].partition("/")
                window = Window(parse_api_timestamp(gte, "gte"), parse_api_timestamp(lt, "lt"))
                found.setdefault(window, parse_api_timestamp(value, "read_started"))
        parent = snapshot.parent_snapshot_id
        snapshot = table.snapshot_by_id(parent) if parent is not None else None
    return found


def newer_read(window: Window, read_started: datetime, committed: dict[Window, datetime]) -> datetime | None:
    """The read start of a committed version overlapping ``window`` that began after ``read_started``, if any."""
    later = [t for w, t in committed.items() if w.start < window.end and window.start < w.end and t > read_started]
    return max(later) if later else None
