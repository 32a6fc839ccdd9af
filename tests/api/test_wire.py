from __future__ import annotations

import json

import pytest

from airflow_provider_conversations.api.wire import parse_page
from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsResponseError

ENVELOPE = {
    "metadata": {"paging": {"per_page": 2, "current_page": 1, "next_page": None, "total_count": 2}},
    "data": [{"id": "a", "created_at": "2025-01-01T00:00:00Z"}, {"id": "b", "created_at": "2025-01-01T00:00:01Z"}],
}


def test_envelope_is_parsed_with_rate_limit_headers():
    headers = {"X-RateLimit-Endpoint-Cost": "1", "x-ratelimit-remaining-minute": "599", "x-request-id": "r1"}
    page = parse_page(200, headers, json.dumps(ENVELOPE).encode())
    assert [r["id"] for r in page.records] == ["a", "b"]
    assert (page.cost, page.remaining, page.request_id) == (1, 599, "r1")
    assert page.has_next is False and page.total_count == 2


def test_bare_list_is_the_data_alone():
    page = parse_page(200, {}, json.dumps(ENVELOPE["data"]).encode())
    assert len(page.records) == 2 and page.has_next is None and page.paging == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad gateway</html>", "body that is not JSON: '<html>Bad gateway</html>'"),
        (b'{"items": []}', "unexpected shape (no 'data' list)"),
        (b'{"data": [1, 2]}', "holds something other than conversations"),
        (b'{"data": [{"id": "x"}]}', "objects with 'id' and 'created_at'"),
        (b"", "not JSON"),
    ],
)
def test_unexpected_bodies_are_clear_errors(body, message):
    with pytest.raises(ConversationsResponseError) as exc:
        parse_page(200, {}, body)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (401, b'{"error": "Unauthorized"}', "rejected the token (401 Unauthorized)"),
        (403, b'{"message": "missing scope"}', "403 Forbidden"),
        (404, b"not found", "check the connection's host"),
        (422, b'{"errors": {"per_page": ["must be <= 100"]}}', "rejected a parameter value (422"),
        (503, b"<html>down</html>", "the API failed (503)"),
        (418, b"", "the API refused the request (418)"),
    ],
)
def test_error_statuses_carry_status_message_and_request_id(status, body, hint):
    with pytest.raises(ConversationsAPIError) as exc:
        parse_page(status, {"x-request-id": "req-9"}, body)
    err = exc.value
    assert err.status == status and err.request_id == "req-9"
    assert hint in str(err) and "request_id=req-9" in str(err)
    if body.startswith(b"{"):
        assert err.api_message and err.api_message in str(err)


def test_429_carries_retry_after():
    with pytest.raises(ConversationsAPIError) as exc:
        parse_page(429, {"Retry-After": "7"}, b"{}")
    assert exc.value.retry_after == 7.0


def test_redirect_names_the_target_but_not_its_query():
    with pytest.raises(ConversationsAPIError) as exc:
        parse_page(302, {"Location": "https://evil.example.com/v2/conversations?x=1"}, b"")
    assert "redirected (302) to https://evil.example.com/v2/conversations;" in str(exc.value)
    assert "x=1" not in str(exc.value)


def test_a_list_endpoint_names_its_own_required_keys_and_records():
    sentences = {"data": [{"id": "t1", "text": "hello"}, {"id": "t1", "text": "world"}]}
    page = parse_page(200, {}, json.dumps(sentences).encode(), required=("id",), records="sentences")
    assert [r["text"] for r in page.records] == ["hello", "world"]
    with pytest.raises(ConversationsResponseError, match=r"other than sentences \(objects with 'id' and 'text'\)"):
        parse_page(200, {}, json.dumps({"data": [{"id": "t1"}]}).encode(), required=("id", "text"), records="sentences")
