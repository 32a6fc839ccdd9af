"""The records a list endpoint of the fake API serves: a thread-safe store with sorted snapshots."""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from .query import Row, copy_record, sorted_rows, to_row
from .records import format_timestamp

__all__ = ["RecordStore"]


class RecordStore:
    """Records by id, with a snapshot sorted by ``created_at`` then ``id`` for the query engine.

    A snapshot is never changed once handed out: a change makes a new one (copy-on-write), so a
    request being answered keeps the records it started with.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, Row] = {}
        self._sorted: tuple[list[Row], list[datetime]] | None = None

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Add (or replace, by ``id``) records; each needs a string ``id`` and ``created_at``.

        :param records: the records; they are copied.
        :raises ValueError: on a record without them (nothing is added then).
        """
        rows = [to_row(record) for record in records]
        with self._lock:
            for row in rows:
                self._rows[row.rid] = row
            self._sorted = None

    def insert(self, records: Iterable[dict[str, Any]], *, updated_at: datetime | str | None = None) -> None:
        """Insert new records (a conversation created now, or back-dated), ``updated_at`` set if given.

        :param records: the records; each needs a string ``id`` not stored yet and a ``created_at``.
        :param updated_at: their ``updated_at`` (aware datetime or ISO-8601 string); default their own
            (or their ``created_at``).
        :raises ValueError: on an id already stored or a record without ``id``/``created_at`` (nothing
            is inserted then).
        """
        stamped = [_stamped(record, updated_at) for record in records]
        rows = [to_row(record) for record in stamped]
        with self._lock:
            taken = sorted(row.rid for row in rows if row.rid in self._rows)
            if taken:
                raise ValueError(f"insert: ids already stored: {', '.join(taken[:5])} (update them instead)")
            for row in rows:
                self._rows[row.rid] = row
            self._sorted = None

    def update(self, rid: str, fields: Mapping[str, Any], *, updated_at: datetime | str) -> dict[str, Any]:
        """Change fields of a stored record and set its ``updated_at``, as an edit on the API does.

        ``fields`` may hold ``created_at`` (a back-dated conversation moves to another window).

        :param rid: the record's id.
        :param fields: the fields to set (copied); ``id`` cannot change.
        :param updated_at: the new ``updated_at`` (aware datetime or ISO-8601 string).
        :return: a copy of the new version.
        :raises KeyError: if no record has this id.
        :raises ValueError: on a change of ``id`` or an invalid timestamp.
        """
        if "id" in fields and fields["id"] != rid:
            raise ValueError(f"update: the id of {rid!r} cannot change")
        with self._lock:
            if rid not in self._rows:
                raise KeyError(f"update: no record with id {rid!r}")
            row = to_row(_stamped({**self._rows[rid].record, **fields}, updated_at))
            self._rows[rid] = row
            self._sorted = None  # readers keep their snapshots: a new one is built when asked for
        return copy_record(row.record)

    def delete(self, ids: Iterable[str]) -> int:
        """Delete records by id; return how many existed.

        :param ids: the ids to delete.
        """
        with self._lock:
            gone = {rid for rid in set(ids) if self._rows.pop(rid, None) is not None}
            if gone and self._sorted is not None:  # copy-on-write keeps readers' snapshots intact
                rows = [r for r in self._sorted[0] if r.rid not in gone]
                self._sorted = (rows, [r.created for r in rows])
            return len(gone)

    def delete_random(self, rng: random.Random, n: int) -> int:
        """Delete ``n`` records drawn with ``rng`` (all of them if there are fewer); return how many.

        :param rng: the random source (the caller serialises its use).
        :param n: how many to delete.
        """
        with self._lock:
            ids = list(self._rows)
        return self.delete(rng.sample(ids, min(n, len(ids))))

    def snapshot(self) -> tuple[list[Row], list[datetime]]:
        """The rows sorted by ``created_at`` then ``id``, and their ``created_at`` (do not mutate)."""
        with self._lock:
            if self._sorted is None:
                rows = sorted_rows(self._rows.values())
                self._sorted = (rows, [r.created for r in rows])
            return self._sorted

    def records(self) -> list[dict[str, Any]]:
        """Copies of all records sorted by ``created_at`` then ``id``."""
        rows, _ = self.snapshot()
        return [copy_record(r.record) for r in rows]

    def get(self, rid: str) -> dict[str, Any] | None:
        """A copy of one record, or ``None`` if there is none with this id.

        :param rid: the record's id.
        """
        with self._lock:
            row = self._rows.get(rid)
        return None if row is None else copy_record(row.record)

    def __contains__(self, rid: object) -> bool:
        with self._lock:
            return rid in self._rows

    def ids_in_range(self, gte: datetime, lt: datetime) -> set[str]:
        """Ids of the records with ``gte <= created_at < lt`` (naive datetimes are UTC).

        :param gte: inclusive lower bound.
        :param lt: exclusive upper bound.
        """
        rows, keys = self.snapshot()
        lo, hi = bisect.bisect_left(keys, _aware(gte)), bisect.bisect_left(keys, _aware(lt))
        return {row.rid for row in rows[lo:hi]}


def _stamped(record: dict[str, Any], updated_at: datetime | str | None) -> dict[str, Any]:
    if updated_at is None:
        return record
    if isinstance(updated_at, datetime):
        updated_at = format_timestamp(_aware(updated_at))
    return {**record, "updated_at": updated_at}


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
