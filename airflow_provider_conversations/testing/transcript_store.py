"""The transcriptions of the fake API and their sentences, and the changes a test makes to them.

A :class:`TranscriptStore` is reached as ``api.transcripts`` on a
:class:`~airflow_provider_conversations.testing.FakeConversationsAPI`. Transcriptions live in a
:class:`~.store.RecordStore` (the query engine answers ``/v2/transcriptions`` from its snapshots);
each one's sentences are a list built on first read from its :class:`~.transcript_records.SentencePlan`
or set by a test, and replaced, never changed in place, so an answer being sent keeps its list.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .store import RecordStore
from .transcript_records import SentencePlan, artifact_url, make_sentences

__all__ = ["SentencesArg", "TranscriptStore"]

#: Sentences given to the store: a count to generate, or the sentences themselves.
SentencesArg = int | Sequence[Mapping[str, Any]]


class TranscriptStore:
    """Transcriptions by id, each with its sentences; thread-safe.

    :param conversations: the fake's conversations: a re-transcription moves its conversation's
        ``updated_at`` too, as on the real API.
    """

    def __init__(self, conversations: RecordStore) -> None:
        self._lock = threading.Lock()
        self._conversations = conversations
        self.rows = RecordStore()  # what /v2/transcriptions answers from
        self._plans: dict[str, SentencePlan] = {}
        self._sentences: dict[str, list[dict[str, Any]]] = {}

    # -- changes -----------------------------------------------------------------------------
    def add(self, transcriptions: Iterable[tuple[dict[str, Any], SentencePlan]]) -> None:
        """Add (or replace, by ``id``) transcriptions with the plans of their sentences.

        :param transcriptions: ``(record, plan)`` pairs, e.g. from
            :func:`~.transcript_records.generate_transcriptions`.
        """
        pairs = list(transcriptions)
        self.rows.add(record for record, _ in pairs)
        with self._lock:
            for record, plan in pairs:
                self._plans[record["id"]] = plan
                self._sentences.pop(record["id"], None)

    def insert(
        self,
        records: Iterable[dict[str, Any]],
        *,
        sentences: Mapping[str, SentencesArg] | None = None,
        updated_at: datetime | str | None = None,
    ) -> None:
        """Insert new transcriptions (a transcript that just arrived), with their sentences.

        :param records: the transcriptions; each needs a new string ``id`` and a ``created_at``.
        :param sentences: transcription id -> a number of sentences to generate, or the sentences
            themselves (default: none).
        :param updated_at: their ``updated_at``; default their own (or their ``created_at``).
        :raises ValueError: on an id already stored, or sentences for an id not inserted (nothing is
            inserted then).
        """
        records = list(records)
        given = dict(sentences or {})
        stray = sorted(set(given) - {str(r.get("id")) for r in records})
        if stray:
            raise ValueError(f"insert: sentences for transcriptions not inserted: {', '.join(stray[:5])}")
        self.rows.insert(records, updated_at=updated_at)
        with self._lock:
            for record in records:
                tid = record["id"]
                plan = SentencePlan(tid, _conversation_id(record), 0, key=f"inserted:{tid}")
                self._plans[tid] = plan
                self._set(tid, plan, given.get(tid, 0))

    def update(self, tid: str, fields: Mapping[str, Any], *, updated_at: datetime | str) -> dict[str, Any]:
        """Change fields of a transcription (``created_at`` too) and set its ``updated_at``.

        :param tid: the transcription's id.
        :param fields: the fields to set.
        :param updated_at: its new ``updated_at`` (aware datetime or ISO-8601 string).
        :return: a copy of the new version.
        :raises KeyError: if no transcription has this id.
        """
        return self.rows.update(tid, fields, updated_at=updated_at)

    def retranscribe(
        self, tid: str, *, updated_at: datetime | str, sentences: SentencesArg | None = None
    ) -> dict[str, Any]:
        """Reprocess a transcript: new sentences, and ``updated_at`` moved on it and on its conversation.

        :param tid: the transcription's id.
        :param updated_at: the new ``updated_at`` of the transcription and of its conversation.
        :param sentences: the new sentences: a number to generate, the sentences themselves, or ``None``
            (as many as before, with new text and timings).
        :return: a copy of the new version of the transcription.
        :raises KeyError: if no transcription has this id.
        """
        record = self.rows.update(tid, {}, updated_at=updated_at)
        with self._lock:
            plan = self._plans[tid].retranscribed(sentences if isinstance(sentences, int) else None)
            self._plans[tid] = plan
            self._set(tid, plan, plan.count if sentences is None else sentences)
        conversation_id = _conversation_id(record)
        if conversation_id is not None and conversation_id in self._conversations:
            self._conversations.update(conversation_id, {}, updated_at=updated_at)
        return record

    def set_sentences(self, tid: str, sentences: SentencesArg) -> None:
        """Replace a transcription's sentences, leaving its ``updated_at`` as it is.

        :param tid: the transcription's id.
        :param sentences: a number of sentences to generate, or the sentences themselves.
        :raises KeyError: if no transcription has this id.
        """
        with self._lock:
            if tid not in self._plans:
                raise KeyError(f"set_sentences: no transcription with id {tid!r}")
            self._set(tid, self._plans[tid], sentences)

    def delete(self, ids: Iterable[str]) -> int:
        """Delete transcriptions (and their sentences) by id; return how many existed.

        :param ids: the ids to delete.
        """
        ids = set(ids)
        gone = self.rows.delete(ids)
        with self._lock:
            for tid in ids:
                self._plans.pop(tid, None)
                self._sentences.pop(tid, None)
        return gone

    def delete_random(self, rng: random.Random, n: int) -> int:
        """Delete ``n`` transcriptions drawn with ``rng`` (all of them if there are fewer); return how many.

        :param rng: the random source (the caller serialises its use).
        :param n: how many to delete.
        """
        ids = sorted(row.rid for row in self.rows.snapshot()[0])
        return self.delete(rng.sample(ids, min(n, len(ids))))

    # -- reads -------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        """Copies of all transcriptions sorted by ``created_at`` then ``id``."""
        return self.rows.records()

    def get(self, tid: str) -> dict[str, Any] | None:
        """A copy of one transcription, or ``None`` if there is none with this id.

        :param tid: the transcription's id.
        """
        return self.rows.get(tid)

    def sentences(self, tid: str) -> list[dict[str, Any]]:
        """The transcription's sentences in the API's order (the list is shared: do not mutate it).

        :param tid: the transcription's id.
        :raises KeyError: if no transcription has this id.
        """
        with self._lock:
            if tid not in self._plans:
                raise KeyError(f"sentences: no transcription with id {tid!r}")
            built = self._sentences.get(tid)
            if built is None:
                built = self._sentences[tid] = make_sentences(self._plans[tid])
            return built

    def sentence_rows(self, tid: str) -> list[dict[str, Any]]:
        """The rows the transcripts export writes for the transcription: each sentence with the added keys.

        ``transcription_id``, ``conversation_id``, ``sentence_index`` and ``transcription_created_at``
        (the sentences table's columns, :data:`~airflow_provider_conversations.lake.schema.SENTENCE_FIELDS`).

        :param tid: the transcription's id.
        :raises KeyError: if no transcription has this id.
        """
        transcription = self.get(tid)
        if transcription is None:
            raise KeyError(f"sentence_rows: no transcription with id {tid!r}")
        added = {
            "transcription_id": tid,
            "conversation_id": transcription["conversation"]["id"],
            "transcription_created_at": transcription["created_at"],
        }
        return [{**s, **added, "sentence_index": i} for i, s in enumerate(self.sentences(tid))]

    def artifact(self, tid: str) -> str:
        """The signed URL of the transcription's transcript file.

        :param tid: the transcription's id.
        :raises KeyError: if no transcription has this id.
        """
        with self._lock:
            if tid not in self._plans:
                raise KeyError(f"artifact: no transcription with id {tid!r}")
            return artifact_url(self._plans[tid])

    def ids_in_range(self, gte: datetime, lt: datetime) -> set[str]:
        """Ids of the transcriptions with ``gte <= created_at < lt`` (naive datetimes are UTC).

        :param gte: inclusive lower bound.
        :param lt: exclusive upper bound.
        """
        return self.rows.ids_in_range(gte, lt)

    def _set(self, tid: str, plan: SentencePlan, sentences: SentencesArg) -> None:
        """Set ``tid``'s sentences (the lock is held): generated from ``plan``, or copies of those given."""
        if isinstance(sentences, bool) or not isinstance(sentences, (int, Sequence)):
            raise TypeError(f"sentences: expected a count or a list of sentences, got {type(sentences).__name__}")
        if isinstance(sentences, int):
            if sentences < 0:
                raise ValueError(f"sentences: {sentences} is out of range; allowed: >= 0")
            self._plans[tid] = plan = SentencePlan(
                plan.transcription_id, plan.conversation_id, sentences, plan.legacy, plan.key
            )
            self._sentences.pop(tid, None)
        else:
            self._sentences[tid] = [dict(s) for s in sentences]


def _conversation_id(record: Mapping[str, Any]) -> str | None:
    ref = record.get("conversation")
    return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") is not None else None
