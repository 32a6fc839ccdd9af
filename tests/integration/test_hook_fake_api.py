"""ConversationsHook over real HTTP against the fake API: keyset correctness, retries, pacing, auth."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.api.retry import RetryPolicy
from airflow_provider_conversations.exceptions import ConversationsAPIError
from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.testing import Faults, generate_conversations
from tests.conftest import TOKEN, read_records

UTC = timezone.utc
START = datetime(2025, 1, 1, tzinfo=UTC)
END = START + timedelta(days=7)


def make_hook(set_conn, api, **extra) -> ConversationsHook:
    set_conn(api.url, TOKEN, **extra)
    return ConversationsHook(retry_policy=RetryPolicy(max_retries=8, backoff_base=0.01, rng=random.Random(0)))


@pytest.fixture
def api(conversations_api_factory):
    return conversations_api_factory(records=3000, token=TOKEN, seed=7, strict_params=True)


def test_range_yields_exactly_the_ids_in_range_at_cost_one_per_request(set_conn, api):
    hook = make_hook(set_conn, api)
    gte, lt = START + timedelta(days=1, hours=3), START + timedelta(days=4, hours=5)
    ids = [r["id"] for r in read_records(hook, gte, lt)]
    expected = api.ids_in_range(gte, lt)
    assert len(ids) == len(set(ids)) and set(ids) == expected and len(expected) > 1000
    log = api.request_log
    assert all(int(dict(e.query)["page"]) <= 100 for e in log)  # pages past 100 cost 3 to 30
    assert api.stats.total_cost == api.stats.requests == hook.stats.requests == hook.stats.cost
    assert api.stats.requests == math.ceil(len(expected) / 100)  # full pages but the last
    assert api.stats.unknown_params == set()


def test_records_come_back_exactly_as_the_api_sent_them(set_conn, api):
    hook = make_hook(set_conn, api)
    by_id = {r["id"]: r for r in api.records()}
    for record in read_records(hook, START, START + timedelta(hours=12)):
        assert record == by_id[record["id"]]


def test_ties_bigger_than_a_page_cost_nothing_extra(set_conn, conversations_api_factory):
    records = generate_conversations(400, seed=3, start=START, end=START + timedelta(hours=1))
    for record in records[100:350]:  # 250 records on one microsecond
        record["created_at"] = "2025-01-01T00:30:00.000000Z"
    api = conversations_api_factory(records=records, token=TOKEN, strict_params=True)
    hook = make_hook(set_conn, api)
    ids = [r["id"] for r in read_records(hook, START, START + timedelta(hours=1))]
    assert len(ids) == len(set(ids)) == 400
    assert sorted(dict(e.query)["page"] for e in api.request_log) == ["1", "2", "3", "4"]


def test_deletions_while_paging_skip_no_survivor(set_conn, api):
    hook = make_hook(set_conn, api)
    before = api.ids_in_range(START, END)
    api.faults.delete_per_request = 5
    ids = [r["id"] for r in read_records(hook, START, END)]
    api.faults.delete_per_request = 0
    survivors = api.ids_in_range(START, END)
    assert len(before) - len(survivors) >= 5 * 25
    assert survivors <= set(ids) <= before and len(ids) == len(set(ids))


def test_faults_are_retried_and_nothing_is_lost_or_repeated(set_conn, api):
    hook = make_hook(set_conn, api, timeout=0.5)
    api.faults = Faults(
        error_rate=0.1,
        drop_rate=0.05,
        non_json_rate=0.05,
        throttle_rate=0.05,
        throttle_retry_after=0.01,
        slow_rate=0.03,
        slow_seconds=0.8,
        boundary_quirk_rate=0.3,
    )
    ids = [r["id"] for r in read_records(hook, START, END)]
    assert len(ids) == len(set(ids)) and set(ids) == api.ids_in_range(START, END)
    assert hook.stats.retries > 0 and sum(api.stats.faults.values()) >= hook.stats.retries


def test_pacing_keeps_429s_rare_on_a_small_budget(set_conn, conversations_api_factory):
    api = conversations_api_factory(records=2000, token=TOKEN, rate_limit_per_minute=8, minute_seconds=0.5)
    hook = make_hook(set_conn, api, budget_per_minute=8, rate_limit_window_seconds=0.5)
    ids = [r["id"] for r in read_records(hook, START, END)]
    assert set(ids) == api.ids_in_range(START, END)
    requests = api.stats.requests
    assert requests > 2 * 8  # several windows of budget were needed
    assert api.stats.throttled <= max(2, requests // 10)


def test_429_without_retry_after_is_survived(set_conn, conversations_api_factory):
    api = conversations_api_factory(
        records=300, token=TOKEN, rate_limit_per_minute=2, minute_seconds=0.3, retry_after=False
    )
    set_conn(api.url, TOKEN, rate_limit_window_seconds=0.3, budget_per_minute=1000)
    hook = ConversationsHook(retry_policy=RetryPolicy(max_retries=20, backoff_base=0.05))
    ids = [r["id"] for r in read_records(hook, START, END, per_page=50)]
    assert set(ids) == api.ids_in_range(START, END)


def test_wrong_token_is_401_and_not_retried(set_conn, api):
    set_conn(api.url, "wrong-token")
    hook = ConversationsHook()
    with pytest.raises(ConversationsAPIError) as exc:
        read_records(hook, START, END)
    assert exc.value.status == 401 and api.stats.requests == 1
    assert exc.value.request_id


def test_count_is_one_cheap_request(set_conn, api):
    hook = make_hook(set_conn, api)
    gte, lt = START + timedelta(days=2), START + timedelta(days=3)
    assert hook.count_conversations(created_at_gte=gte, created_at_lt=lt) == len(api.ids_in_range(gte, lt))
    assert api.stats.requests == 1 and api.stats.total_cost == 1


def test_filters_reach_the_api_and_filter(set_conn, api):
    hook = make_hook(set_conn, api)
    got = {r["id"] for r in read_records(hook, START, END, {"platform": "zoom", "media_type": "video"})}
    expected = {r["id"] for r in api.records() if r["platform"] == "zoom" and r["media_type"] == "video"}
    assert got == expected and got
    assert ("platform", "zoom") in api.request_log[0].query


def test_redirect_to_another_host_does_not_carry_the_token(set_conn, api, conversations_api_factory):
    other = conversations_api_factory(records=10, token="other")
    api.faults.redirect_to = other.url.replace("127.0.0.1", "localhost")
    hook = make_hook(set_conn, api)
    with pytest.raises(ConversationsAPIError, match="redirects are not followed"):
        hook.fetch_page()
    assert other.stats.requests == 0


def test_test_connection_against_the_fake(set_conn, api):
    ok, message = make_hook(set_conn, api).test_connection()
    assert ok and "budget left this minute" in message
    set_conn(api.url, "nope")
    ok, message = ConversationsHook().test_connection()
    assert not ok and "401" in message


def test_list_filters_are_sent_as_repeated_brackets(set_conn, api):
    hook = make_hook(set_conn, api)
    some = api.records()[:3]
    got = [r["id"] for r in hook.fetch_page({"ids": [r["id"] for r in some]}, per_page=10).records]
    assert sorted(got) == sorted(r["id"] for r in some)
    assert [v for k, v in api.request_log[-1].query if k == "ids[]"] == [r["id"] for r in some]
