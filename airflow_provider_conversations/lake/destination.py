"""The seam between reading windows and committing them: what a destination (the S3 layout, an Iceberg table) does.

The export reads a range once, routes its records into windows and writes each window's records into
bounded local part files (:mod:`.formats`). A destination then:

1. **stages** each finished part file at once, while the read goes on, where no reader sees it yet;
2. **commits** a group of fully read windows: metadata only, each window replaced whole, so a reader
   sees either the old version of a window or the new one, never a mix;
3. never lets an **older read** win: each committed window version records when the read that
   produced it began, and a commit whose read began before the committed version's is skipped
   (logged and counted), so a slow task cannot revert what a faster, newer one committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Protocol

from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.schema import TableSchema
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp


class Outcome(str, Enum):
    """What a commit did to one window."""

    #: The window's new version is the committed one.
    COMMITTED = "committed"
    #: The committed version came from a read that began later than this one: it was kept.
    SKIPPED_OLDER_READ = "skipped_older_read"
    #: An earlier try of the same task committed the window, and it is unchanged since: not read again.
    RESUMED = "resumed"


@dataclass
class WindowParts:
    """One fully read window, ready to commit.

    :param window: the window.
    :param read_started: when the read that produced these records began (aware UTC): a commit never
        replaces a version read later.
    :param parts: its finished local part files, in order (none for an empty window).
    :param staged: what :meth:`Destination.stage` returned for each part (e.g. its object key), in order.
    :param pages: API pages the window's records came on.
    """

    window: Window
    read_started: datetime
    parts: list[LocalPart] = field(default_factory=list)
    staged: list[str] = field(default_factory=list)
    pages: int = 0

    @property
    def records(self) -> int:
        """The window's records."""
        return sum(p.records for p in self.parts)

    @property
    def size(self) -> int:
        """Bytes of its part files."""
        return sum(p.size for p in self.parts)


@dataclass
class WindowResult:
    """What one window's export did (goes to XCom through :meth:`summary`).

    :param window: the window.
    :param records: records read into it.
    :param size: bytes of its data files (the lineage's output size; not in :meth:`summary`).
    :param pages: API pages its records came on.
    :param keys: its data objects (S3 keys, or Iceberg data file paths) as committed.
    :param manifest_key: the S3 layout's manifest of the window (empty for other destinations).
    :param deleted_stale: data objects of the replaced version (or of failed attempts) deleted.
    :param outcome: :class:`Outcome`.
    :param read_started: when the read of this version began.
    :param seconds: from the start of its read to its commit.
    :param remaining_budget: the API's ``x-ratelimit-remaining-minute`` when its read ended.
    """

    window: Window
    records: int = 0
    size: int = 0
    pages: int = 0
    keys: list[str] = field(default_factory=list)
    manifest_key: str = ""
    deleted_stale: int = 0
    outcome: Outcome = Outcome.COMMITTED
    read_started: datetime | None = None
    seconds: float = 0.0
    remaining_budget: int | None = None

    @property
    def committed(self) -> bool:
        """Whether this task's version of the window (read by this try, or resumed) is now the table's."""
        return self.outcome is not Outcome.SKIPPED_OLDER_READ

    def summary(self) -> dict[str, Any]:
        """A small JSON-safe dict: bounds, counts, keys and outcome, never records."""
        out: dict[str, Any] = {
            "created_at_gte": format_timestamp(self.window.start),
            "created_at_lt": format_timestamp(self.window.end),
            "records": self.records,
            "pages": self.pages,
            "keys": self.keys,
            "manifest": self.manifest_key,
        }
        if self.outcome is not Outcome.COMMITTED:
            out["outcome"] = self.outcome.value
        return out


class Destination(Protocol):
    """Where windows are committed: the S3 layout (:class:`~.s3.table.S3Table`) or an Iceberg table.

    Methods may be called from several publishing threads at once.
    """

    #: ``"jsonl"`` or ``"parquet"``: the part files the export writes for it.
    file_format: str
    #: The part files' compression (see :func:`~.formats.check_compression`).
    compression: str | None
    #: The records the table holds (their columns in a typed format).
    schema: TableSchema

    def check(self, windows: list[Window]) -> None:
        """Before any API request: refuse what the table cannot take (another window size, format or filter set).

        :param windows: every window the task may commit.
        """

    def stage(self, window: Window, number: int, part: LocalPart) -> str:
        """Put one finished part file where the commit will reference it; invisible to readers until then.

        :param window: its window.
        :param number: its 0-based position in the window.
        :param part: the local file.
        :return: its name in the destination (an object key).
        """

    def commit(self, group: list[WindowParts]) -> list[WindowResult]:
        """Replace each window of ``group`` by its new version (never by an older read), metadata only.

        :param group: fully read windows whose parts are all staged.
        :return: one result per window, in order.
        """

    def windows_holding(self, ids: Iterable[str], window_size: timedelta) -> set[Window]:
        """The committed windows that hold any of ``ids`` now (where a conversation back-dated out of its
        window still is); a destination that cannot tell cheaply returns none.

        :param ids: conversation ids.
        :param window_size: the table's window size.
        """

    def committed_reads(self, windows: list[Window]) -> dict[Window, datetime]:
        """When the read of each window's committed version began (resume on retry compares it with its
        record); windows without a committed version are left out.

        :param windows: the windows to look up.
        """

    def finish(self) -> None:
        """After the task's last commit: make what the destination deferred visible (e.g. one snapshot for
        all of a change sync's windows, updating their results). The S3 layout defers nothing.
        """


class ReadableDestination(Destination, Protocol):
    """A destination that can read a window's committed records back (the transcripts' change sync keeps
    unchanged rows from there).
    """

    def committed_rows(self, window: Window) -> list[dict[str, Any]] | None:
        """The records of the window's committed version, rebuilt as the API returned them.

        :param window: the window.
        :return: its records, or ``None`` when the window has no committed version.
        """

    def committed_records(self, window: Window) -> Iterator[dict[str, Any]] | None:
        """The same records, in the same order, read as they are taken (a part or a batch at a time).

        :param window: the window.
        :return: its records, or ``None`` when the window has no committed version.
        """

    def has_window(self, window: Window) -> bool:
        """Whether the window has a committed version.

        :param window: the window.
        """
