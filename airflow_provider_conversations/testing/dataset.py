"""The data a fake API serves, and the changes a test makes to it while a run is in progress.

:class:`FakeDataset` holds the conversations (a :class:`~.store.RecordStore`), their transcriptions
with the sentences (a :class:`~.transcript_store.TranscriptStore`) and the changes scheduled after
the Nth answered request. :class:`~airflow_provider_conversations.testing.FakeConversationsAPI` is
one, served over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .changes import ChangeSchedule
from .records import NON_ASCII_SHARE, generate_conversations
from .store import RecordStore
from .transcript_records import generate_transcriptions
from .transcript_store import TranscriptStore

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

__all__ = ["FakeDataset"]


class FakeDataset:
    """Conversations, transcriptions and sentences, deterministic from a seed, and their changes.

    :param records: the conversations, a number of them to generate with ``seed``, or None (none).
    :param seed: seed of generated conversations, transcriptions and sentences.
    :param title_chars: generated conversations only: lengthen titles to this many characters.
    :param non_ascii_share: generated conversations only: share of titles with non-ASCII text.
    :param transcriptions: also hold the transcription of every conversation that refers to one
        (``transcription.id``), with its sentences (see :mod:`.transcript_records`).
    """

    def __init__(
        self,
        records: list[dict[str, Any]] | int | None = None,
        *,
        seed: int = 0,
        title_chars: int = 0,
        non_ascii_share: float = NON_ASCII_SHARE,
        transcriptions: bool = True,
    ) -> None:
        self._store = RecordStore()
        self._transcripts = TranscriptStore(self._store)
        self._changes: ChangeSchedule[Any] = ChangeSchedule()  # changes get the subclass (the served API)
        if isinstance(records, int):
            records = generate_conversations(
                records, seed=seed, title_chars=title_chars, non_ascii_share=non_ascii_share
            )
        self.add_records(records or [])
        if transcriptions:
            self._transcripts.add(generate_transcriptions(records or [], seed=seed))

    @property
    def transcripts(self) -> TranscriptStore:
        """The transcriptions and their sentences, and the changes to them (insert, update,
        re-transcribe, delete, set sentences); see :class:`~.transcript_store.TranscriptStore`."""
        return self._transcripts

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """Add (or replace, by ``id``) conversations; each needs a string ``id`` and ``created_at``.

        :param records: the records; they are copied.
        """
        self._store.add(records)

    def delete_records(self, ids: Iterable[str]) -> int:
        """Delete conversations by id; returns how many existed.

        :param ids: the ids to delete.
        """
        return self._store.delete(ids)

    def insert_records(self, records: Iterable[dict[str, Any]], *, updated_at: datetime | str | None = None) -> None:
        """Insert new conversations (created now, or back-dated), with ``updated_at`` set if given.

        :param records: the records; each needs a new string ``id`` and a ``created_at``.
        :param updated_at: their ``updated_at``; default their own (or their ``created_at``).
        :raises ValueError: on an id already stored (nothing is inserted then).
        """
        self._store.insert(records, updated_at=updated_at)

    def update_record(self, rid: str, fields: Mapping[str, Any], *, updated_at: datetime | str) -> dict[str, Any]:
        """Change fields of a conversation (``created_at`` too: back-dating) and set its ``updated_at``.

        :param rid: the record's id.
        :param fields: the fields to set.
        :param updated_at: its new ``updated_at`` (aware datetime or ISO-8601 string).
        :return: a copy of the new version.
        :raises KeyError: if no record has this id.
        """
        return self._store.update(rid, fields, updated_at=updated_at)

    def after_request(self, n: int, change: Callable[[Self], object]) -> None:
        """Apply ``change(api)`` once ``n`` data requests have been answered (while a run is in progress).

        :param n: answered data requests (200s on any path; counted from the start) before the change.
        :param change: e.g. ``lambda api: api.update_record(rid, {"title": "new"}, updated_at=ts)`` or
            ``lambda api: api.transcripts.retranscribe(tid, updated_at=ts)``.
        """
        self._changes.add(n, change)

    def records(self) -> list[dict[str, Any]]:
        """Snapshot (copies) of all conversations sorted by ``created_at`` then ``id``."""
        return self._store.records()

    def ids_in_range(self, gte: datetime, lt: datetime) -> set[str]:
        """Ids of the conversations with ``gte <= created_at < lt`` (naive datetimes are UTC).

        :param gte: inclusive lower bound.
        :param lt: exclusive upper bound.
        """
        return self._store.ids_in_range(gte, lt)
