"""ConversationsHook's transcription reads against requests-mock: the paths, the query, the cost."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_conversations.api.retry import RetryPolicy
from airflow_provider_conversations.exceptions import ConversationsFilterError, ConversationsNotFoundError
from airflow_provider_conversations.hooks.conversations import ConversationsHook

BASE = "https://api.example.com"
T1 = "7b1c2d3e-0000-4000-8000-000000000001"


@pytest.fixture
def hook(set_conn) -> ConversationsHook:
    set_conn(BASE)
    return ConversationsHook(retry_policy=RetryPolicy(max_retries=2, backoff_base=0.001, rng=random.Random(0)))


def page(records: list[dict], total: int | None = None, current: int = 1, cost: str = "1") -> dict:
    paging: dict = {"next_page": None, "current_page": current}
    if total is not None:
        paging["total_count"] = total
    return {"json": {"metadata": {"paging": paging}, "data": records}, "headers": {"x-ratelimit-endpoint-cost": cost}}


def test_read_transcriptions_sends_the_range_to_the_transcriptions_path(hook, requests_mock):
    records = [
        {"id": "t1", "created_at": "2025-01-01T00:00:01.000000Z", "updated_at": "2025-01-01T00:00:01.000000Z"},
        {"id": "t2", "created_at": "2025-01-01T00:00:02.000000Z", "updated_at": "2025-01-01T00:00:02.000000Z"},
    ]
    requests_mock.get(f"{BASE}/v2/transcriptions", **page(records, total=2))
    pages = hook.read_transcriptions(
        {"language_code": "en-US"},
        created_at_gte="2025-01-01T00:00:00Z",
        created_at_lt="2025-01-02T00:00:00Z",
        max_concurrency=1,
    )
    assert [r["id"] for p in pages for r in p.records] == ["t1", "t2"]
    sent = parse_qsl(urlsplit(requests_mock.request_history[0].url).query)
    assert urlsplit(requests_mock.request_history[0].url).path == "/v2/transcriptions"
    assert ("language_code", "en-US") in sent and ("created_at[gte]", "2025-01-01T00:00:00.000000Z") in sent
    assert ("sort_by", "created_at") in sent and ("sort_direction", "ASC") in sent


def test_read_transcriptions_by_updated_at_sorts_by_it(hook, requests_mock):
    requests_mock.get(f"{BASE}/v2/transcriptions", **page([], total=0))
    list(hook.read_transcriptions(updated_at_gte="2025-01-01T00:00:00Z", updated_at_lt="2025-01-02T00:00:00Z"))
    sent = parse_qsl(urlsplit(requests_mock.last_request.url).query)
    assert ("sort_by", "updated_at") in sent and ("updated_at[lt]", "2025-01-02T00:00:00.000000Z") in sent


@pytest.mark.parametrize(
    ("filters", "bounds", "message"),
    [
        (
            {"platform": "zoom"},
            {"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": "2025-01-02T00:00:00Z"},
            "platform",
        ),
        (
            {"created_at_gte": "2025-01-01T00:00:00Z"},
            {"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": "2025-01-02T00:00:00Z"},
            "created_at_gte",
        ),
        ({}, {"created_at_gte": "2025-01-01T00:00:00Z"}, "created_at_lt"),
        (
            {"language_code": "xx"},
            {"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": "2025-01-02T00:00:00Z"},
            "language_code",
        ),
    ],
)
def test_read_transcriptions_refuses_bad_arguments_before_any_request(hook, requests_mock, filters, bounds, message):
    with pytest.raises((ConversationsFilterError, TypeError), match=message):
        list(hook.read_transcriptions(filters, **bounds))
    assert requests_mock.call_count == 0


def test_read_sentences_pages_with_counts_and_adds_the_three_keys(hook, requests_mock):
    sentences = [{"id": T1, "text": f"s{i}", "conversation": {"id": "c9"}} for i in range(150)]
    url = f"{BASE}/v2/transcriptions/{T1}/sentences"
    requests_mock.get(url, [page(sentences[:100], 150, 1), page(sentences[100:], 150, 2, cost="3")])
    read = hook.read_sentences(T1, conversation_id="c1")
    assert [r["text"] for r in read.rows] == [f"s{i}" for i in range(150)]
    assert read.rows[149] | {} == {
        **sentences[149],
        "transcription_id": T1,
        "conversation_id": "c1",
        "sentence_index": 149,
    }
    assert [dict(parse_qsl(urlsplit(r.url).query))["page"] for r in requests_mock.request_history] == ["1", "2"]
    assert read.cost == 4 and hook.stats.cost == 4  # the header's cost, not one per request


def test_read_sentences_of_an_unknown_transcription_is_a_typed_404(hook, requests_mock):
    requests_mock.get(
        f"{BASE}/v2/transcriptions/{T1}/sentences", status_code=404, json={"error": "Not Found", "message": "no"}
    )
    with pytest.raises(ConversationsNotFoundError, match=T1):
        hook.read_sentences(T1)
    assert requests_mock.call_count == 1


def test_read_sentences_refuses_an_id_that_is_not_one_before_any_request(hook, requests_mock):
    with pytest.raises(ConversationsFilterError, match="transcription_id"):
        hook.read_sentences("../conversations")
    assert requests_mock.call_count == 0


def test_conversations_path_is_unchanged(hook, requests_mock):
    requests_mock.get(f"{BASE}/v2/conversations", **page([], total=0))
    list(hook.read_pages(created_at_gte="2025-01-01T00:00:00Z", created_at_lt="2025-01-02T00:00:00Z"))
    assert urlsplit(requests_mock.last_request.url).path == "/v2/conversations"
