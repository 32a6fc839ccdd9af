"""The fake's rate-limit window rules: pure accounting on a given clock, and the answers over real HTTP."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_conversations.testing import WINDOW_RULES, FakeConversationsAPI
from airflow_provider_conversations.testing.budget import Budget

TOKEN = "test-token"


def spend(budget: Budget, times: list[float], cost: int = 1) -> list[tuple[bool, int, float]]:
    out = []
    for now in times:
        charge = budget.charge("t", cost, now)
        out.append((charge.allowed, charge.remaining, round(charge.wait, 6)))
    return out


def test_calendar_windows_start_on_multiples_of_the_window():
    budget = Budget(3, 10.0, "calendar")
    assert spend(budget, [105.0, 106.0, 107.0, 109.0]) == [
        (True, 2, 5.0), (True, 1, 4.0), (True, 0, 3.0), (False, 0, 1.0)
    ]  # fmt: skip
    assert spend(budget, [110.0]) == [(True, 2, 10.0)]  # the next multiple of 10: back in full
    assert budget.remaining("t", 119.9) == 2 and budget.remaining("t", 120.0) == 3


def test_first_request_window_opens_at_the_first_request_after_the_last_one_expired():
    budget = Budget(3, 10.0, "first_request")
    assert spend(budget, [105.0, 106.0, 107.0, 114.0]) == [
        (True, 2, 10.0), (True, 1, 9.0), (True, 0, 8.0), (False, 0, 1.0)
    ]  # fmt: skip
    assert budget.remaining("t", 114.9) == 0 and budget.remaining("t", 115.0) == 3
    assert spend(budget, [117.5, 118.0]) == [(True, 2, 10.0), (True, 1, 9.5)]  # opened at 117.5, not at 115
    assert budget.remaining("t", 127.4) == 1 and budget.remaining("t", 127.5) == 3


def test_sliding_window_counts_each_cost_for_window_seconds_after_it():
    budget = Budget(3, 10.0, "sliding")
    assert spend(budget, [100.0, 104.0, 108.0, 109.0]) == [
        (True, 2, 10.0), (True, 1, 6.0), (True, 0, 2.0), (False, 0, 1.0)
    ]  # fmt: skip
    assert spend(budget, [110.0]) == [(True, 0, 4.0)]  # the charge of 100.0 aged out, no more
    assert budget.remaining("t", 114.0) == 1 and budget.remaining("t", 120.0) == 3


def test_sliding_refusal_waits_until_enough_has_aged_out_for_the_cost():
    budget = Budget(10, 10.0, "sliding")
    spend(budget, [100.0, 101.0, 102.0], cost=3)  # 1 left
    assert spend(budget, [103.0], cost=8) == [(False, 1, 9.0)]  # needs the points of all three back
    assert spend(budget, [111.0], cost=8) == [(False, 7, 1.0)]
    assert spend(budget, [112.0], cost=8) == [(True, 2, 10.0)]


def test_budgets_are_per_token_and_reset_forgets_them():
    for rule in WINDOW_RULES:
        budget = Budget(2, 10.0, rule)
        spend(budget, [100.0, 100.5])
        assert budget.remaining("t", 101.0) == 0 and budget.remaining("other", 101.0) == 2
        budget.reset()
        assert budget.remaining("t", 101.0) == 2


def test_unknown_rule_is_a_clear_error():
    with pytest.raises(ValueError, match=r"window_rule: 'hourly'.*calendar, first_request, sliding"):
        Budget(1, 1.0, "hourly")
    with pytest.raises(ValueError, match="window_rule"):
        FakeConversationsAPI(window_rule="minute")


@pytest.mark.parametrize("rule", WINDOW_RULES)
def test_each_rule_over_http_counts_down_then_answers_429_with_retry_after(rule):
    with FakeConversationsAPI(20, token=TOKEN, rate_limit_per_minute=3, minute_seconds=30.0, window_rule=rule) as api:
        answers = [
            requests.get(f"{api.url}/v2/conversations", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
            for _ in range(4)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining-minute"] for a in answers] == ["2", "1", "0", "0"]
    assert 0 < float(answers[3].headers["Retry-After"]) <= 30.0
    assert api.stats.total_cost == 3 and api.stats.throttled == 1 and api.window_rule == rule
