from __future__ import annotations

import pytest

from airflow_provider_conversations.ratelimit import RateLimitPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def headers(remaining: int, cost: int = 1, date: str = "Thu, 26 Nov 2026 10:00:30 GMT") -> dict[str, str]:
    return {"x-ratelimit-remaining-minute": str(remaining), "x-ratelimit-endpoint-cost": str(cost), "Date": date}


def test_requests_go_while_budget_remains_then_wait_for_the_next_minute():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    assert pacer.acquire() == 0.0
    pacer.observe(headers(remaining=1))  # server at :30 -> window ends in 30 s
    assert pacer.acquire() == 0.0
    pacer.observe(headers(remaining=0, date="Thu, 26 Nov 2026 10:00:31 GMT"))
    wait = pacer.acquire()
    assert 29.0 <= wait <= 31.3
    clock.now += wait
    assert pacer.acquire() == 0.0  # the new minute's budget is assumed back


def test_budget_share_caps_our_own_spending():
    clock = Clock()
    pacer = RateLimitPacer(budget_per_minute=10, budget_share=0.3, clock=clock)
    for remaining in (9, 8, 7):
        assert pacer.acquire() == 0.0
        pacer.observe(headers(remaining=remaining))
    assert pacer.acquire() > 0  # 3 points spent: our 30% of 10


def test_a_rise_in_remaining_marks_the_start_of_a_new_window():
    clock = Clock()
    pacer = RateLimitPacer(window_seconds=6.0, clock=clock)
    pacer.acquire()
    pacer.observe(headers(remaining=2, date="Thu, 26 Nov 2026 10:00:00 GMT"))
    clock.now += 1.0
    pacer.acquire()
    pacer.observe(headers(remaining=9))  # reset seen now: next reset in 6 s
    pacer.acquire()
    pacer.observe(headers(remaining=0))
    wait = pacer.acquire()
    assert 6.0 <= wait <= 6.2


def test_429_empties_the_window_and_unanswered_requests_are_released():
    clock = Clock()
    pacer = RateLimitPacer(budget_per_minute=2, clock=clock)
    assert pacer.acquire() == 0.0
    pacer.release()
    assert pacer.acquire() == 0.0
    pacer.observe(headers(remaining=5), status=429)
    assert pacer.acquire() > 0


def test_budget_share_must_be_a_share():
    with pytest.raises(ValueError, match="budget_share"):
        RateLimitPacer(budget_share=0)


def test_retry_after_on_429_holds_every_request_until_then():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    pacer.acquire()
    pacer.observe({"Retry-After": "2.5", "x-ratelimit-remaining-minute": "0"}, status=429)
    assert pacer.acquire() == pytest.approx(2.5)
    clock.now += 2.5
    assert pacer.acquire() == 0.0  # not held until the end of a 60 s window
