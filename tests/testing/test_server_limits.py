"""Real-HTTP tests of the fake Conversations API: its rate limit and its fault knobs."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_conversations.testing import (
    COST_TABLE,
    Faults,
    parse_timestamp,
    request_cost,
)
from tests.testing.server_helpers import Factory, get


# -- rate limit --------------------------------------------------------------------------------------
def test_cost_table() -> None:
    assert [request_cost(p) for p in (1, 100, 101, 150, 151, 250, 251, 500, 501, 10_000)] == [
        1,
        1,
        3,
        3,
        8,
        8,
        10,
        10,
        30,
        30,
    ]
    assert COST_TABLE[0] == (1, 100, 1)


def test_cost_headers_by_page_depth(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(120)
    first = get(api, {"per_page": 1, "page": 1})
    deep = get(api, {"per_page": 1, "page": 101})
    assert first.headers["x-ratelimit-endpoint-cost"] == "1"
    assert deep.headers["x-ratelimit-endpoint-cost"] == "3" and len(deep.json()["data"]) == 1
    assert int(first.headers["x-ratelimit-remaining-minute"]) - int(deep.headers["x-ratelimit-remaining-minute"]) == 3
    assert api.stats.total_cost == 4


def _wait_window_start(seconds: float) -> None:
    time.sleep(seconds - time.time() % seconds + 0.01)


def test_budget_exhaustion_429_and_recovery(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(10, rate_limit_per_minute=3, minute_seconds=0.5)
    _wait_window_start(0.5)
    remaining = [get(api).headers["x-ratelimit-remaining-minute"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    r = get(api)
    assert r.status_code == 429 and r.json()["error"] == "Too Many Requests"
    assert r.headers["x-ratelimit-remaining-minute"] == "0"
    retry_after = r.headers["Retry-After"]
    assert len(retry_after.split(".")[1]) == 3 and 0 < float(retry_after) <= 0.5
    assert api.stats.throttled == 1 and api.stats.total_cost == 3  # the 429 cost nothing
    time.sleep(float(retry_after) + 0.01)
    assert get(api).status_code == 200


def test_429_without_retry_after_and_whole_seconds(conversations_api_factory: Factory) -> None:
    bare = conversations_api_factory(5, rate_limit_per_minute=0, retry_after=False)
    r = get(bare)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    minute = conversations_api_factory(5, rate_limit_per_minute=0)
    assert 1 <= int(get(minute).headers["Retry-After"]) <= 60


# -- faults ------------------------------------------------------------------------------------------
def test_error_rate(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(5, faults=Faults(error_rate=1.0))
    responses = [get(api) for _ in range(12)]
    assert {r.status_code for r in responses} <= {500, 502, 503}
    kinds = {r.headers["Content-Type"].split(";")[0] for r in responses}
    assert kinds == {"application/json", "text/html"}
    assert api.stats.faults["error"] == 12 and api.stats.total_cost == 0
    api.faults.error_rate = 0.0  # mutable at runtime
    assert get(api).status_code == 200
    stats = api.stats
    api.reset_stats()
    assert stats.requests == 0 and stats.faults["error"] == 0 and api.request_log == []


def test_drop_rate(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(5, faults=Faults(drop_rate=1.0))
    with pytest.raises(requests.ConnectionError):
        get(api)
    assert api.stats.faults["drop"] == 1


def test_slow_answer_exceeds_client_timeout(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(5, faults=Faults(slow_rate=1.0, slow_seconds=0.4))
    with pytest.raises(requests.Timeout):
        get(api, timeout=0.1)
    api.faults.slow_seconds = 0.05
    assert get(api, timeout=2).status_code == 200
    assert api.stats.faults["slow"] == 2


def test_throttle_and_non_json(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(5, faults=Faults(throttle_rate=1.0))
    r = get(api)
    assert r.status_code == 429 and r.headers["Retry-After"] == "0.050"
    api.faults = Faults(non_json_rate=1.0)
    r = get(api)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()
    assert api.stats.faults["throttle"] == 1 and api.stats.faults["non_json"] == 1 and api.stats.total_cost == 0


def test_delete_per_request(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(50, faults=Faults(delete_per_request=5))
    first = get(api, {"per_page": 100}).json()["data"]
    assert len(first) == 50 and len(api.records()) == 45
    assert len(get(api, {"per_page": 100}).json()["data"]) == 45
    assert api.stats.faults["delete"] == 10


def test_boundary_quirk(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(100, faults=Faults(boundary_quirk_rate=1.0))
    records = api.records()
    bound = records[40]["created_at"]
    data = get(api, {"created_at[gte]": bound, "sort_direction": "ASC"}).json()["data"]
    assert data[0]["id"] == records[39]["id"] and parse_timestamp(data[0]["created_at"]) < parse_timestamp(bound)
    assert [r["id"] for r in data[1:]] == [r["id"] for r in records[40:65]]
    assert len(get(api).json()["data"]) == 25  # no lower bound: no quirk
    assert api.stats.faults["boundary_quirk"] == 1


def test_redirect_does_not_get_auth_forwarded(conversations_api_factory: Factory) -> None:
    target = conversations_api_factory(5)
    other_host = f"http://localhost:{target.port}"
    api = conversations_api_factory(5, faults=Faults(redirect_to=other_host))
    r = get(api, {"per_page": 2}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == f"{other_host}/v2/conversations?per_page=2"
    followed = get(api, {"per_page": 2})  # requests strips Authorization on a cross-host redirect
    assert followed.status_code == 401
    assert "Authorization" not in target.request_log[-1].headers
    assert api.stats.faults["redirect"] == 2
