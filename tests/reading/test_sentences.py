"""The checked sentence reader against a simulated sentences endpoint (no HTTP)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsFilterError,
    ConversationsNotFoundError,
    ConversationsResponseError,
)
from airflow_provider_conversations.reading.sentences import ADDED_KEYS, read_sentences

TID = "5f0c6f0e-7d7c-4e0b-9a51-1c2b3d4e5f60"
CID = "c-1"


def sentences(n: int, *, legacy: bool = False, text: str = "s") -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        s: dict[str, Any] = {"id": TID, "start_time": i * 2.0, "end_time": i * 2.0 + 1.5, "text": f"{text}{i}"}
        if not legacy:
            s["order_number"] = i + 1
        s["conversation"] = {"id": CID, "_href": f"https://api.example/v2/conversations/{CID}"}
        out.append(s)
    return out


class SentencesAPI:
    """Answers ``/v2/transcriptions/{TID}/sentences`` like the API, with knobs to misbehave.

    :param data: the transcription's sentences (``None``: no such transcription, a 404).
    :param short: page number -> how many answers of it come back one sentence short.
    :param replace_after: after this many answers, the transcript is reprocessed into ``replacement``.
    """

    def __init__(
        self,
        data: list[dict[str, Any]] | None,
        *,
        short: dict[int, int] | None = None,
        replace_after: int | None = None,
        replacement: list[dict[str, Any]] | None = None,
        counts: bool = True,
        ignore_page: bool = False,
        cost: int | None = 1,
    ) -> None:
        self.data, self.short = data, dict(short or {})
        self.replace_after, self.replacement = replace_after, replacement
        self.counts, self.ignore_page, self.cost = counts, ignore_page, cost
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, path: str, params: list[tuple[str, str]]) -> Page:
        query = dict(params)
        self.calls.append((path, query))
        if self.data is None or path != f"/v2/transcriptions/{TID}/sentences":
            raise ConversationsAPIError("not found", status=404, api_message="Transcription not found")
        per_page, number = int(query["per_page"]), int(query["page"])
        if self.ignore_page:
            number = 1
        first = (number - 1) * per_page
        records = list(self.data[first : first + per_page])
        if self.short.get(number, 0) > 0:
            self.short[number] -= 1
            records = records[:-1]
        paging: dict[str, Any] = {"per_page": per_page, "current_page": number}
        if self.counts and query.get("include_paging_counts") == "true":
            paging |= {"total_count": len(self.data), "total_pages": math.ceil(len(self.data) / per_page)}
        if self.replace_after is not None and len(self.calls) == self.replace_after:
            self.data = self.replacement
        return Page(records=records, paging=paging, cost=self.cost)


@pytest.mark.parametrize(("n", "pages"), [(0, 1), (1, 1), (99, 1), (100, 1), (101, 2), (250, 3)])
def test_reads_every_sentence_in_order_with_the_added_keys(n: int, pages: int) -> None:
    api = SentencesAPI(sentences(n))
    read = read_sentences(api, TID)
    assert [r["text"] for r in read.rows] == [f"s{i}" for i in range(n)]
    assert [r["sentence_index"] for r in read.rows] == list(range(n))
    assert all(r["transcription_id"] == TID and r["conversation_id"] == CID for r in read.rows)
    assert read.requests == pages == len(api.calls) and read.cost == pages and read.rereads == ()
    assert [c[1] for c in api.calls] == [
        {"per_page": "100", "page": str(p), "include_paging_counts": "true"} for p in range(1, pages + 1)
    ]


def test_rows_keep_the_api_fields_as_returned_and_index_legacy_sentences() -> None:
    data = sentences(101, legacy=True)
    read = read_sentences(SentencesAPI(data), TID)
    assert [{k: v for k, v in r.items() if k not in ADDED_KEYS} for r in read.rows] == data
    assert "order_number" not in read.rows[100] and read.rows[100]["sentence_index"] == 100


def test_conversation_id_given_wins_and_cost_is_read_from_the_pages() -> None:
    read = read_sentences(SentencesAPI(sentences(150), cost=3), TID, conversation_id="conv-9")
    assert {r["conversation_id"] for r in read.rows} == {"conv-9"} and read.cost == 6


def test_sentence_without_conversation_ref_gets_none() -> None:
    data = [{"id": TID, "text": "x"}]
    assert read_sentences(SentencesAPI(data), TID).rows[0]["conversation_id"] is None


@pytest.mark.parametrize("page", [1, 2, 3])
def test_a_short_page_is_read_again_never_returned_short(page: int) -> None:
    api = SentencesAPI(sentences(250), short={page: 2})
    read = read_sentences(api, TID)
    assert len(read.rows) == 250 and [r["sentence_index"] for r in read.rows] == list(range(250))
    assert read.requests == 3 + 2 and len(read.rereads) == 2
    assert all(f"page {page}" in reason for reason in read.rereads)


def test_a_page_that_stays_short_fails_after_max_rereads() -> None:
    api = SentencesAPI(sentences(250), short={2: 99})
    with pytest.raises(ConversationsResponseError, match=r"page 2 held 99 sentences where total_count 250 says 100"):
        read_sentences(api, TID, max_rereads=2)
    assert len(api.calls) == 1 + 3  # page 1, then page 2 three times


def test_max_rereads_zero_fails_on_the_first_disagreement() -> None:
    with pytest.raises(ConversationsResponseError, match="still after 0 re-read"):
        read_sentences(SentencesAPI(sentences(5), short={1: 1}), TID, max_rereads=0)


def test_a_reprocessed_transcript_mid_read_starts_the_read_over() -> None:
    new = sentences(120, text="new")
    api = SentencesAPI(sentences(250), replace_after=1, replacement=new)
    read = read_sentences(api, TID)
    assert [r["text"] for r in read.rows] == [f"new{i}" for i in range(120)]
    assert [c[1]["page"] for c in api.calls] == ["1", "2", "1", "2"]
    assert len(read.rereads) == 1 and "counts 120 sentences where page 1 counted 250" in read.rereads[0]


def test_an_api_that_ignores_the_page_number_is_caught() -> None:
    api = SentencesAPI(sentences(200), ignore_page=True)
    with pytest.raises(ConversationsResponseError, match="page 2 came back as page 1"):
        read_sentences(api, TID)


def test_missing_total_count_is_a_clear_error() -> None:
    with pytest.raises(ConversationsResponseError, match=r"did not return metadata\.paging\.total_count"):
        read_sentences(SentencesAPI(sentences(3), counts=False), TID)


def test_unknown_transcription_is_a_typed_not_found_error() -> None:
    with pytest.raises(ConversationsNotFoundError) as caught:
        read_sentences(SentencesAPI(None), TID)
    err = caught.value
    assert (err.status, err.resource, err.ident, err.api_message) == (
        404,
        "transcription",
        TID,
        "Transcription not found",
    )
    assert isinstance(err, ConversationsAPIError) and TID in str(err)


def test_other_api_errors_pass_through() -> None:
    def failing(path: str, params: list[tuple[str, str]]) -> Page:
        raise ConversationsAPIError("the API failed (503)", status=503)

    with pytest.raises(ConversationsAPIError) as caught:
        read_sentences(failing, TID)
    assert caught.value.status == 503 and not isinstance(caught.value, ConversationsNotFoundError)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"transcription_id": "../conversations"}, "transcription_id: '../conversations' is not a transcription id"),
        ({"transcription_id": ""}, "transcription_id: '' is not a transcription id"),
        ({"transcription_id": None}, "transcription_id: None"),
        ({"transcription_id": "a/b"}, "allowed: 1 to 128 letters"),
        ({"transcription_id": TID, "per_page": 101}, "per_page: 101 is out of range; allowed: [1, 100]"),
        ({"transcription_id": TID, "per_page": 0}, "per_page: 0 is out of range"),
        ({"transcription_id": TID, "max_rereads": -1}, "max_rereads: -1 is out of range; allowed: >= 0"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(kwargs: dict[str, Any], needle: str) -> None:
    api = SentencesAPI(sentences(3))
    with pytest.raises(ConversationsFilterError) as caught:
        read_sentences(api, **kwargs)
    assert needle in str(caught.value) and api.calls == []


def test_small_pages_are_checked_the_same_way() -> None:
    read = read_sentences(SentencesAPI(sentences(7), short={3: 1}), TID, per_page=3)
    assert len(read.rows) == 7 and read.requests == 4 and len(read.rereads) == 1
