"""ConversationsHook against requests-mock: what crosses the wire and what comes back."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from requests_mock import ANY

from airflow_provider_conversations.api.retry import RetryPolicy
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsConnectionError,
    ConversationsFilterError,
)
from airflow_provider_conversations.hooks.conversations import ConversationsHook
from tests.conftest import TOKEN, read_records

BASE = "https://api.example.com"
URL = f"{BASE}/v2/conversations"
U1 = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def body(records: list[dict], next_page: int | None = None, **paging: object) -> dict:
    return {"metadata": {"paging": {"next_page": next_page, **paging}}, "data": records}


def query(request) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(request.url).query, keep_blank_values=True)


@pytest.fixture
def hook(set_conn) -> ConversationsHook:
    set_conn(BASE)
    return ConversationsHook(retry_policy=RetryPolicy(max_retries=3, backoff_base=0.001, rng=random.Random(0)))


def test_fetch_page_sends_exact_query_and_bearer_token(hook, requests_mock):
    requests_mock.get(
        URL,
        json=body([{"id": "a", "created_at": "2025-01-01T00:00:00Z"}]),
        headers={"x-ratelimit-remaining-minute": "599"},
    )
    page = hook.fetch_page(
        {"platform": "zoom", "owner_ids": [U1], "is_api": True}, per_page=5, page=2, include_paging_counts=True
    )
    request = requests_mock.last_request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert query(request) == [
        ("platform", "zoom"),
        ("owner_ids[]", U1),
        ("is_api", "true"),
        ("sort_by", "created_at"),
        ("sort_direction", "DESC"),
        ("per_page", "5"),
        ("page", "2"),
        ("include_paging_counts", "true"),
    ]
    assert page.records == [{"id": "a", "created_at": "2025-01-01T00:00:00Z"}] and page.remaining == 599


def test_invalid_filters_fail_before_any_request(hook, requests_mock):
    with pytest.raises(ConversationsFilterError, match="platform"):
        hook.fetch_page({"platform": "skype"})
    with pytest.raises(ConversationsFilterError, match="per_page"):
        read_records(hook, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", per_page=500)
    with pytest.raises(ConversationsFilterError, match="empty or inverted"):
        read_records(hook, "2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z")
    assert requests_mock.call_count == 0


@pytest.mark.parametrize("failure", ["500", "502", "429", "timeout", "connection", "html"])
def test_transient_failures_are_retried_then_succeed(hook, requests_mock, failure):
    ok = {"json": body([{"id": "a", "created_at": "2025-01-01T00:00:00Z"}])}
    first = {
        "500": {"status_code": 500, "text": "boom"},
        "502": {"status_code": 502, "text": "<html>bad gateway</html>"},
        "429": {"status_code": 429, "json": {"error": "slow down"}, "headers": {"Retry-After": "0"}},
        "timeout": {"exc": requests.exceptions.ReadTimeout},
        "connection": {"exc": requests.exceptions.ConnectionError},
        "html": {"status_code": 200, "text": "<html>maintenance</html>"},
    }[failure]
    requests_mock.get(URL, [first, ok])
    assert hook.fetch_page().records[0]["id"] == "a"
    assert requests_mock.call_count == 2 and hook.stats.retries == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried_and_carry_details(hook, requests_mock, status):
    requests_mock.get(URL, status_code=status, json={"message": "nope"}, headers={"x-request-id": "rid-1"})
    with pytest.raises(ConversationsAPIError) as exc:
        hook.fetch_page()
    assert requests_mock.call_count == 1
    assert (exc.value.status, exc.value.api_message, exc.value.request_id) == (status, "nope", "rid-1")
    assert TOKEN not in str(exc.value)


def test_retries_are_bounded(hook, requests_mock):
    requests_mock.get(URL, status_code=503, text="down")
    with pytest.raises(ConversationsAPIError) as exc:
        hook.fetch_page()
    assert exc.value.status == 503 and requests_mock.call_count == 4  # 1 + max_retries


def test_redirects_are_not_followed_so_the_token_stays_home(hook, requests_mock):
    requests_mock.get(URL, status_code=302, headers={"Location": "https://elsewhere.example.net/v2/conversations"})
    requests_mock.get("https://elsewhere.example.net/v2/conversations", json=body([]))
    with pytest.raises(ConversationsAPIError, match="redirects are not followed"):
        hook.fetch_page()
    assert [r.hostname for r in requests_mock.request_history] == ["api.example.com"]


def test_keyset_iteration_moves_the_lower_bound_and_dedupes_the_boundary(hook, requests_mock):
    def rec(i: int, sec: int) -> dict:
        return {"id": f"r{i}", "created_at": f"2025-01-01T00:00:{sec:02d}.000000Z"}

    requests_mock.get(
        URL,
        [
            {"json": body([rec(1, 1), rec(2, 2), rec(3, 3)], next_page=2)},
            {"json": body([rec(3, 3), rec(4, 4), rec(5, 5)], next_page=2)},
            {"json": body([rec(5, 5), rec(6, 6)])},
        ],
    )
    ids = [r["id"] for r in read_records(hook, "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", per_page=3)]
    assert ids == ["r1", "r2", "r3", "r4", "r5", "r6"]
    sent = [dict(query(r)) for r in requests_mock.request_history]
    assert [s["created_at[gte]"] for s in sent] == [
        "2025-01-01T00:00:00.000000Z",
        "2025-01-01T00:00:03.000000Z",
        "2025-01-01T00:00:05.000000Z",
    ]
    assert {s["page"] for s in sent} == {"1"} and {s["created_at[lt]"] for s in sent} == {"2025-01-01T01:00:00.000000Z"}
    assert {(s["sort_by"], s["sort_direction"]) for s in sent} == {("created_at", "ASC")}


def test_count_uses_one_request_with_paging_counts(hook, requests_mock):
    requests_mock.get(
        URL, json=body([{"id": "a", "created_at": "2025-01-01T00:00:00Z"}], total_count=42, total_pages=42)
    )
    n = hook.count_conversations(
        {"platform": "zoom"}, created_at_gte="2025-01-01T00:00:00Z", created_at_lt="2025-01-02T00:00:00Z"
    )
    assert n == 42 and requests_mock.call_count == 1
    sent = dict(query(requests_mock.last_request))
    assert sent["include_paging_counts"] == "true" and sent["per_page"] == "1"
    assert sent["created_at[gte]"] == "2025-01-01T00:00:00.000000Z" and sent["platform"] == "zoom"


def test_count_without_total_count_is_a_clear_error(hook, requests_mock):
    requests_mock.get(URL, json=body([]))
    with pytest.raises(ConversationsAPIError, match=r"did not return metadata\.paging\.total_count"):
        hook.count_conversations()


def test_test_connection_reports_success_and_failure(hook, requests_mock):
    requests_mock.get(URL, json=body([]), headers={"x-ratelimit-remaining-minute": "17"})
    ok, message = hook.test_connection()
    assert ok and "budget left this minute: 17" in message
    requests_mock.get(URL, status_code=401, json={"error": "Unauthorized"})
    ok, message = hook.test_connection()
    assert not ok and "401" in message and TOKEN not in message


def test_bad_connection_is_reported_before_any_request(set_conn, requests_mock):
    set_conn("http://api.example.com")
    with pytest.raises(ConversationsConnectionError, match="plain http"):
        ConversationsHook().fetch_page()
    set_conn(BASE, token=None)
    with pytest.raises(ConversationsConnectionError, match="no API token"):
        ConversationsHook().fetch_page()
    assert requests_mock.call_count == 0


def test_token_not_in_repr_or_settings_repr(hook):
    assert TOKEN not in repr(hook) and TOKEN not in repr(hook.settings)


def test_ui_field_behaviour_hides_unused_fields():
    behaviour = ConversationsHook.get_ui_field_behaviour()
    assert set(behaviour["hidden_fields"]) == {"schema", "login"}
    assert behaviour["relabeling"]["password"] == "API key / OAuth token"
    json.dumps(behaviour)


def _tied_pages(requests_mock) -> None:
    def rec(i: int, sec: int) -> dict:
        return {"id": f"r{i}", "created_at": f"2025-01-01T00:00:{sec:02d}.000000Z"}

    requests_mock.get(
        URL,
        [
            {"json": body([rec(1, 1), rec(2, 2)], next_page=2), "headers": {"x-ratelimit-remaining-minute": "9"}},
            {"json": body([rec(2, 2), rec(3, 3)])},
        ],
    )


def test_read_pages_takes_count_conversations_argument_shape_and_yields_pages_in_order(hook, requests_mock):
    _tied_pages(requests_mock)
    pages = list(
        hook.read_pages(
            {"platform": "zoom"},
            created_at_gte="2025-01-01T00:00:00Z",
            created_at_lt="2025-01-01T01:00:00Z",
            per_page=2,
        )
    )
    assert [[r["id"] for r in p.records] for p in pages] == [["r1", "r2"], ["r3"]]
    assert pages[0].page.remaining == 9 and [ts.second for _, ts in pages[0].timed] == [1, 2]
    page, timed = pages[1]  # still a (page, timed records) pair
    assert timed[0][0]["id"] == "r3" and page is pages[1].page
    assert {dict(query(r))["platform"] for r in requests_mock.request_history} == {"zoom"}


def test_stats_count_requests_retries_throttles_and_cost(hook, requests_mock):
    requests_mock.get(
        URL,
        [
            {"status_code": 429, "json": {}, "headers": {"Retry-After": "0"}},
            {"json": body([]), "headers": {"x-ratelimit-endpoint-cost": "3"}},
        ],
    )
    hook.fetch_page()
    assert (hook.stats.requests, hook.stats.retries, hook.stats.throttled, hook.stats.cost) == (2, 1, 1, 3)
    assert hook.stats.as_dict() == {"requests": 2, "retries": 1, "cost": 3, "throttled": 1}


def test_retry_policy_comes_from_the_connection(set_conn):
    set_conn(BASE, max_retries=2, backoff_base=0.5, rate_limit_window_seconds=30)
    policy = ConversationsHook().retry_policy
    assert (policy.max_retries, policy.backoff_base, policy.rate_limit_window) == (2, 0.5, 30.0)


def test_session_takes_proxies_and_ca_bundle_from_the_environment_once(set_conn, monkeypatch, tmp_path):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "corp-ca.pem"))
    set_conn(BASE)
    session = ConversationsHook().get_conn()
    assert session.proxies.get("https") == "http://proxy.internal:3128"
    assert session.verify == str(tmp_path / "corp-ca.pem")


def test_no_proxy_for_a_host_that_no_proxy_names(set_conn, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "api.example.com")
    set_conn(BASE)
    assert "https" not in ConversationsHook().get_conn().proxies


def test_a_netrc_entry_for_the_api_host_does_not_replace_the_bearer_token(hook, requests_mock, monkeypatch, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example.com login someone password other-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    requests_mock.get(URL, json=body([]))
    hook.fetch_page()
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("conn", "found"),
    [
        ({"conn_type": "http", "host": BASE, "password": "http-SECRET"}, "'http'"),
        (
            {"conn_type": "aws", "login": "AKIA", "password": "aws-SECRET", "extra": {"region_name": "us-east-1"}},
            "'aws'",
        ),
    ],
)
def test_a_connection_of_another_type_is_refused_before_any_request(monkeypatch, requests_mock, conn, found):
    monkeypatch.setenv("AIRFLOW_CONN_NOT_OURS", json.dumps(conn))
    requests_mock.get(ANY, json=body([]))
    hook = ConversationsHook("not_ours")
    with pytest.raises(ConversationsConnectionError) as exc:
        hook.count_conversations()
    assert f"'not_ours' is of type {found}; expected a connection of type 'conversations'" in str(exc.value)
    assert "SECRET" not in str(exc.value) and requests_mock.call_count == 0
    ok, message = ConversationsHook("not_ours").test_connection()
    assert not ok and "expected a connection of type 'conversations'" in message and requests_mock.call_count == 0


def test_fetch_json_requests_a_url_on_the_connections_host_with_the_token(hook, requests_mock):
    href = f"{BASE}/v2/transcriptions/t1/sentences"
    requests_mock.get(href, json={"data": [{"text": "hello"}]})
    assert hook.fetch_json(href, {"per_page": "100"}) == {"data": [{"text": "hello"}]}
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert query(requests_mock.last_request) == [("per_page", "100")]
    assert hook.stats.requests == 1


@pytest.mark.parametrize(
    "href", ["https://cdn.example.net/recording.mp3", "http://api.example.com/v2/x", "https://api.example.com:444/v2/x"]
)
def test_fetch_json_never_sends_the_token_to_another_host(hook, requests_mock, href):
    requests_mock.get(ANY, json={})
    with pytest.raises(ConversationsConnectionError, match="refusing to send the API token"):
        hook.fetch_json(href)
    assert requests_mock.call_count == 0


def test_fetch_json_retries_like_every_request_and_does_not_follow_redirects(hook, requests_mock):
    href = f"{BASE}/v2/transcriptions/t1/artifact"
    requests_mock.get(
        href,
        [
            {"status_code": 503, "json": {}},
            {"status_code": 302, "headers": {"Location": "https://elsewhere.example.net/a?sig=x"}},
        ],
    )
    with pytest.raises(ConversationsAPIError) as exc:
        hook.fetch_json(href)
    assert exc.value.status == 302 and "redirects are not followed" in str(exc.value)
    assert requests_mock.call_count == 2 and hook.stats.retries == 1


def test_session_takes_the_connections_proxy_tls_and_certificate(set_conn, monkeypatch, tmp_path, caplog, capsys):
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    set_conn(BASE, proxy="http://user:px-SECRET@conn-proxy:8080", verify="false", cert=str(cert))
    hook = ConversationsHook()
    session = hook.get_conn()
    assert session.proxies == {
        "http": "http://user:px-SECRET@conn-proxy:8080",
        "https": "http://user:px-SECRET@conn-proxy:8080",
    }
    assert session.verify is False and session.cert == str(cert) and session.trust_env is False
    logged = caplog.text + capsys.readouterr().out  # Airflow 3 logs through structlog to stdout
    assert "TLS certificate verification is off for https://api.example.com" in logged
    assert "px-SECRET" not in repr(hook.settings)
