"""Read one transcription's sentences whole: paged, every page checked against the counts, in the API's order.

The read goes through a ``get(path, params) -> Page`` callable, so the hook supplies its session,
retries and pacing; this module only decides which pages to ask for and whether their answers
hold together. Every page asks for ``include_paging_counts``: page ``n`` must hold
``min(per_page, total_count - (n - 1) * per_page)`` sentences and say it is page ``n``. A page that
disagrees is read again, and a ``total_count`` that changes during the read (the transcript was
reprocessed) starts the read over, so a transcription is never returned short; past
``max_rereads`` the read fails. A transcription with no sentences costs one request.

Each row is a sentence as the API returned it plus three keys: ``transcription_id``,
``conversation_id`` and ``sentence_index`` (0-based position in the API's order, a stable key even
where ``order_number`` is missing).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_conversations.api.transcriptions import check_transcription_id, sentences_path
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.checks import check_int
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsNotFoundError,
    ConversationsResponseError,
)

__all__ = ["ADDED_KEYS", "MAX_REREADS", "SENTENCES_PER_PAGE", "GetPage", "SentenceRead", "read_sentences"]

#: Sentences asked for per request (the API's maximum).
SENTENCES_PER_PAGE = 100
#: Pages read again (or whole reads started over) before a read fails, by default.
MAX_REREADS = 3
#: The keys each row gets on top of the API's fields.
ADDED_KEYS: tuple[str, ...] = ("transcription_id", "conversation_id", "sentence_index")

#: ``get(path, params)``: one request to the API, answered as a :class:`~.api.wire.Page` or a raised
#: :class:`~airflow_provider_conversations.exceptions.ConversationsAPIError`.
GetPage = Callable[[str, list[tuple[str, str]]], Page]


@dataclass(frozen=True)
class SentenceRead:
    """The sentences of one transcription, read whole.

    :param transcription_id: the transcription read.
    :param rows: its sentences in the API's order, each with :data:`ADDED_KEYS`.
    :param requests: requests sent (re-reads included).
    :param cost: rate-limit points they cost (``x-ratelimit-endpoint-cost``; 1 where the API sent none).
    :param rereads: why pages were read again, one entry per re-read, for the caller's log.
    """

    transcription_id: str
    rows: list[dict[str, Any]]
    requests: int
    cost: int
    rereads: tuple[str, ...] = ()


class _Disagreement(Exception):
    """A page does not agree with the counts; ``restart`` when the whole read must start over."""

    def __init__(self, message: str, *, restart: bool) -> None:
        super().__init__(message)
        self.restart = restart


def read_sentences(
    get: GetPage,
    transcription_id: Any,
    *,
    conversation_id: str | None = None,
    per_page: int = SENTENCES_PER_PAGE,
    max_rereads: int = MAX_REREADS,
) -> SentenceRead:
    """Read every sentence of one transcription, in the API's order, checked against the paging counts.

    :param get: sends one request: ``get(path, params) -> Page`` (the hook's session, retries, pacing).
    :param transcription_id: the transcription's id (letters, digits, ``-``, ``_``).
    :param conversation_id: the ``conversation_id`` of every row (the transcription's ``conversation.id``);
        default each sentence's own ``conversation.id``.
    :param per_page: sentences per request, 1..100.
    :param max_rereads: how many times pages may be read again (or the read started over) before it fails.
    :return: the rows and what the read cost.
    :raises ConversationsFilterError: on a bad argument, before any request.
    :raises ConversationsNotFoundError: when the API has no such transcription (404).
    :raises ConversationsResponseError: when the pages still disagree with the counts after
        ``max_rereads`` re-reads, or the API sent no ``total_count``.
    """
    tid = check_transcription_id(transcription_id)
    per_page = check_int(per_page, "per_page", minimum=1, maximum=SENTENCES_PER_PAGE)
    max_rereads = check_int(max_rereads, "max_rereads", minimum=0)
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise TypeError(f"conversation_id: expected a string or None, got {type(conversation_id).__name__}")
    reader = _Reader(get, tid, per_page)
    rereads: list[str] = []
    while True:
        try:
            sentences = reader.read_all(rereads, max_rereads)
            break
        except _Disagreement as problem:  # the counts moved under the read: start over
            _note(rereads, max_rereads, tid, f"{problem}; reading the transcription again from page 1")
    rows = []
    for index, sentence in enumerate(sentences):
        ref = sentence.get("conversation")
        own = ref.get("id") if isinstance(ref, dict) else None
        conversation = conversation_id if conversation_id is not None else (None if own is None else str(own))
        rows.append({**sentence, "transcription_id": tid, "conversation_id": conversation, "sentence_index": index})
    return SentenceRead(tid, rows, reader.requests, reader.cost, tuple(rereads))


def _note(rereads: list[str], max_rereads: int, tid: str, reason: str) -> None:
    """Count one re-read, or fail when none is left."""
    if len(rereads) >= max_rereads:
        raise ConversationsResponseError(
            f"sentences of transcription {tid}: {reason.split(';')[0]}, still after {max_rereads} re-read(s); "
            "the transcription is not returned short"
        )
    rereads.append(reason)


class _Reader:
    """Sends the page requests of one transcription and counts what they cost."""

    def __init__(self, get: GetPage, tid: str, per_page: int) -> None:
        self.get, self.tid, self.per_page = get, tid, per_page
        self.path = sentences_path(tid)
        self.requests = self.cost = 0

    def fetch(self, number: int) -> Page:
        params = [("per_page", str(self.per_page)), ("page", str(number)), ("include_paging_counts", "true")]
        self.requests += 1
        try:
            page = self.get(self.path, params)
        except ConversationsAPIError as err:
            if err.status == 404:
                raise ConversationsNotFoundError(
                    f"the API has no transcription {self.tid} (404): it does not exist or was deleted",
                    resource="transcription",
                    ident=self.tid,
                    status=404,
                    api_message=err.api_message,
                    request_id=err.request_id,
                    server_time=err.server_time,
                ) from err
            raise
        self.cost += page.cost if page.cost is not None else 1
        return page

    def read_all(self, rereads: list[str], max_rereads: int) -> list[dict[str, Any]]:
        """All sentences, each page read until it agrees with the first page's ``total_count``.

        :raises _Disagreement: with ``restart`` when a later page reports another ``total_count``.
        """
        first = self.checked(1, None, rereads, max_rereads)
        total = first.total_count or 0
        sentences = list(first.records)
        for number in range(2, math.ceil(total / self.per_page) + 1):
            sentences.extend(self.checked(number, total, rereads, max_rereads).records)
        return sentences

    def checked(self, number: int, total: int | None, rereads: list[str], max_rereads: int) -> Page:
        """Page ``number``, read again while it disagrees with the counts (``total``: the first page's)."""
        while True:
            page = self.fetch(number)
            problem = self.disagreement(page, number, total)
            if problem is None:
                return page
            _note(rereads, max_rereads, self.tid, f"{problem}; reading page {number} again")

    def disagreement(self, page: Page, number: int, total: int | None) -> str | None:
        """Why ``page`` cannot be page ``number`` of ``total`` sentences, or ``None`` when it can."""
        if page.total_count is None:
            raise ConversationsResponseError(
                f"sentences of transcription {self.tid}: the API did not return metadata.paging.total_count "
                "although include_paging_counts=true was sent",
                request_id=page.request_id,
            )
        if total is not None and page.total_count != total:
            raise _Disagreement(
                f"page {number} counts {page.total_count} sentences where page 1 counted {total}", restart=True
            )
        current = page.paging.get("current_page")
        if current is not None and str(current) != str(number):
            return f"page {number} came back as page {current}"
        expected = max(0, min(self.per_page, page.total_count - (number - 1) * self.per_page))
        if len(page.records) != expected:
            return (
                f"page {number} held {len(page.records)} sentences where total_count {page.total_count} says {expected}"
            )
        return None
