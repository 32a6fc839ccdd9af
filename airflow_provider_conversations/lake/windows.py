"""Cut a ``created_at`` range into half-open windows aligned to UTC, for tasks and for task mapping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_conversations.api.filters import validate_range
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.timestamps import format_range, format_timestamp

DAY = timedelta(days=1)
#: The operators' ``window_size`` when none is given: one object set per UTC day (see the operator docs'
#: table of objects per day and re-export cost by window size).
DEFAULT_WINDOW_SIZE = DAY
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True, order=True)
class Window:
    """A half-open ``created_at`` window ``[start, end)`` inside one UTC day.

    :param start: inclusive lower bound (aware, UTC).
    :param end: exclusive upper bound (aware, UTC).
    """

    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        """``[start, end)`` for messages."""
        return format_range(self.start, self.end)

    def as_kwargs(self) -> dict[str, str]:
        """The window as operator arguments (``created_at_gte``/``created_at_lt`` ISO strings)."""
        return {"created_at_gte": format_timestamp(self.start), "created_at_lt": format_timestamp(self.end)}

    def is_aligned(self, window_size: timedelta) -> bool:
        """Whether the window is a whole grid cell of ``window_size`` (not clipped by the range)."""
        return self.end - self.start == window_size and (self.start - EPOCH) % window_size == timedelta(0)


def check_window_size(window_size: Any, name: str = "window_size") -> timedelta:
    """Check that ``window_size`` is a timedelta of whole seconds that divides one day.

    Windows then never cross a UTC midnight, so each lands in exactly one ``date=`` partition.

    :param window_size: the size to check.
    :param name: the argument's name, for the error message.
    """
    if not isinstance(window_size, timedelta):
        raise ConversationsFilterError(f"{name}: expected a datetime.timedelta, got {type(window_size).__name__}")
    if window_size <= timedelta(0) or window_size > DAY or DAY % window_size or window_size.microseconds:
        raise ConversationsFilterError(
            f"{name}: {window_size} must be whole seconds and divide one day evenly "
            "(e.g. 5 or 15 minutes, 1, 2, 6 or 12 hours, 1 day)"
        )
    return window_size


def _floor(ts: datetime, size: timedelta) -> datetime:
    return ts - (ts - EPOCH) % size


def split_windows(
    created_at_gte: datetime | str, created_at_lt: datetime | str, window_size: timedelta = DEFAULT_WINDOW_SIZE
) -> list[Window]:
    """Cut ``[created_at_gte, created_at_lt)`` into windows on the UTC grid of ``window_size``.

    Windows cover the range with no gap and no overlap; the first and last are clipped when the range
    does not start or end on the grid.

    :param created_at_gte: inclusive start (aware datetime or ISO-8601 string with offset).
    :param created_at_lt: exclusive end.
    :param window_size: a size that divides one day (see :func:`check_window_size`).
    """
    start, end = validate_range(created_at_gte, created_at_lt)
    size = check_window_size(window_size)
    windows: list[Window] = []
    cell = _floor(start, size)
    while cell < end:
        windows.append(Window(max(cell, start), min(cell + size, end)))
        cell += size
    return windows


def split_range(
    created_at_gte: datetime | str,
    created_at_lt: datetime | str,
    chunk_size: timedelta = DAY,
    window_size: timedelta = DEFAULT_WINDOW_SIZE,
) -> list[dict[str, str]]:
    """Cut a range into sub-ranges for dynamic task mapping (``.partial(...).expand_kwargs(...)``).

    Map one task per chunk (a day by default: 365 tasks for a year) rather than one per window (a year
    of hourly windows is 8,760), to stay under ``[core] max_map_length`` and spare the scheduler.

    :param created_at_gte: inclusive start.
    :param created_at_lt: exclusive end.
    :param chunk_size: length of one mapped task's sub-range; a multiple of ``window_size`` that
        divides one day, or a whole number of days.
    :param window_size: the operator's window size, so chunk edges fall on window edges (default: the
        operators' default, one day).
    """
    size = check_window_size(window_size)
    if not isinstance(chunk_size, timedelta) or chunk_size <= timedelta(0) or chunk_size % size:
        raise ConversationsFilterError(f"chunk_size: {chunk_size} must be a positive multiple of window_size ({size})")
    if chunk_size <= DAY:
        check_window_size(chunk_size, "chunk_size")
    elif chunk_size % DAY:
        raise ConversationsFilterError(f"chunk_size: {chunk_size} longer than a day must be whole days")
    start, end = validate_range(created_at_gte, created_at_lt)
    ranges: list[dict[str, str]] = []
    cell = _floor(start, chunk_size if chunk_size <= DAY else DAY)
    while cell < end:
        ranges.append(Window(max(cell, start), min(cell + chunk_size, end)).as_kwargs())
        cell += chunk_size
    return ranges


def window_of(created_at: datetime, window_size: timedelta) -> Window:
    """The window on the UTC grid of ``window_size`` that holds ``created_at``.

    :param created_at: an aware timestamp.
    :param window_size: a size that divides one day (see :func:`check_window_size`).
    """
    start = _floor(created_at, window_size)
    return Window(start, start + window_size)


def contiguous_runs(windows: Iterable[Window]) -> list[list[Window]]:
    """Group windows into runs of adjacent ones (each run is read with one read of its range).

    :param windows: windows, in any order, without overlaps.
    """
    runs: list[list[Window]] = []
    for window in sorted(set(windows)):
        if runs and runs[-1][-1].end == window.start:
            runs[-1].append(window)
        else:
            runs.append([window])
    return runs
