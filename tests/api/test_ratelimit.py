from __future__ import annotations

import pytest

from airflow_provider_conversations.api.ratelimit import RateLimitPacer

DATE_30 = "Thu, 26 Nov 2026 10:00:30 GMT"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def headers(remaining: int, cost: int = 1, date: str = DATE_30) -> dict[str, str]:
    return {"x-ratelimit-remaining-minute": str(remaining), "x-ratelimit-endpoint-cost": str(cost), "Date": date}


def test_requests_go_while_budget_remains_then_wait_until_our_first_point_is_back():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    wait, ticket = pacer.acquire()
    assert wait == 0.0
    pacer.observe(headers(remaining=1), ticket)
    clock.now += 1.0
    wait, ticket = pacer.acquire()
    assert wait == 0.0
    pacer.observe(headers(remaining=0), ticket)
    wait, _ = pacer.acquire()
    assert wait == 59.0  # the point answered at 1000 is back by 1060, whatever the window rule
    clock.now += wait
    assert pacer.acquire()[0] == 1.0  # the next request waits for the point answered at 1001


def test_requests_in_flight_count_against_the_remaining_budget():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=3), ticket)
    assert [pacer.acquire()[0] for _ in range(3)] == [0.0, 0.0, 0.0]  # three in flight use the 3 points
    assert pacer.acquire()[0] > 0


def test_every_request_after_a_block_waits_too():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=0), ticket)
    waits = [pacer.acquire()[0] for _ in range(4)]  # four threads asking at once
    assert waits == [60.0] * 4  # everything the answer counted is back one window after it


def test_answers_older_than_the_budget_coming_back_do_not_block_the_new_window():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    _, first = pacer.acquire()
    pacer.observe(headers(remaining=5), first)
    _, late = pacer.acquire()  # in flight while the window turns
    clock.now += 31
    _, fresh = pacer.acquire()
    pacer.observe(headers(remaining=590), fresh)  # the budget is back
    pacer.observe(headers(remaining=0), late)  # the old window's last word, sent before the fresh request
    assert pacer.acquire()[0] == 0.0


def test_budget_share_caps_our_own_spending():
    clock = Clock()
    pacer = RateLimitPacer(budget_per_minute=10, budget_share=0.3, clock=clock)
    for remaining in (9, 8, 7):
        wait, ticket = pacer.acquire()
        assert wait == 0.0
        pacer.observe(headers(remaining=remaining), ticket)
    assert pacer.acquire()[0] > 0  # 3 points spent: our 30% of 10


def test_a_rise_in_remaining_marks_the_start_of_a_new_window():
    clock = Clock()
    pacer = RateLimitPacer(window_seconds=6.0, budget_per_minute=10, clock=clock)
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=2), ticket)
    clock.now += 1.0
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=9), ticket)  # reset seen now: the next one in 6 s
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=0), ticket)
    wait, _ = pacer.acquire()
    assert 6.0 <= wait <= 6.1


def test_429_without_retry_after_empties_the_window_and_unanswered_requests_are_released():
    clock = Clock()
    pacer = RateLimitPacer(budget_per_minute=2, clock=clock)
    wait, ticket = pacer.acquire()
    pacer.release(ticket)
    wait, ticket = pacer.acquire()
    assert wait == 0.0
    pacer.observe(headers(remaining=5), ticket, status=429)
    assert pacer.acquire()[0] > 0


def test_retry_after_on_429_holds_every_request_until_then():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock)
    _, ticket = pacer.acquire()
    pacer.observe({"Retry-After": "2.5", "x-ratelimit-remaining-minute": "0"}, ticket, status=429)
    assert pacer.acquire()[0] == pytest.approx(2.5)
    clock.now += 2.5
    assert pacer.acquire()[0] == 0.0  # not held until the end of a 60 s window


def test_budget_share_must_be_a_share():
    with pytest.raises(ValueError, match="budget_share"):
        RateLimitPacer(budget_share=0)


def test_answers_arriving_out_of_order_are_not_taken_for_a_new_window():
    clock = Clock()
    pacer = RateLimitPacer(budget_per_minute=20, budget_share=0.5, clock=clock)  # we may spend 10 a window
    _, first = pacer.acquire()
    pacer.observe(headers(remaining=19), first)
    tickets = [pacer.acquire()[1] for _ in range(4)]  # four in flight: the server answers 18, 17, 16, 15
    for ticket, remaining in zip(tickets, (15, 16, 17, 18)):  # ... in reverse order
        pacer.observe(headers(remaining=remaining), ticket)
    free = 0
    while pacer.acquire()[0] == 0.0:
        free += 1
    assert free == 5  # 5 of our 10 points are spent: no straggler was taken for a new window


def test_reserve_leaves_points_unspent_for_other_tasks_requests_in_flight():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock, reserve=8, budget_per_minute=11)  # the other 10 points: ours to spend
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=10), ticket)
    assert pacer.acquire()[0] == 0.0  # 10 left, 1 of ours in flight: 9 >= 8
    assert pacer.acquire()[0] == 0.0  # 2 in flight: 8 >= 8
    assert pacer.acquire()[0] == 60.0  # a third would leave 7 < 8: wait until our point is back


def test_the_hooks_pacer_keeps_two_requests_per_slot_in_reserve(set_conn):
    from airflow_provider_conversations.hooks.conversations import ConversationsHook

    set_conn("https://api.example.com", "tok", max_concurrency=6)
    assert ConversationsHook().pacer.reserve == 12


def test_other_tasks_spending_between_our_answers_is_not_taken_for_a_new_window():
    """4 mapped tasks on one budget: our answers, reordered, differ by what the others spent meanwhile."""
    clock = Clock()
    pacer = RateLimitPacer(budget_per_minute=600, budget_share=0.125, clock=clock)  # 75 points a window
    _, first = pacer.acquire()
    pacer.observe(headers(remaining=500), first)
    tickets = [pacer.acquire()[1] for _ in range(4)]
    for ticket, remaining in zip(tickets, (440, 470, 455, 490)):  # others spent ~10 between each of ours
        pacer.observe(headers(remaining=remaining), ticket)
    free = 0
    while pacer.acquire()[0] == 0.0:
        free += 1
    assert free == 70  # 5 of our 75 are spent: a rise of 50 is not a new window


def test_the_margin_grows_only_while_other_tasks_are_seen_spending():
    clock = Clock()
    pacer = RateLimitPacer(clock=clock, reserve=8)
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=300), ticket)  # half the budget gone before us: nobody seen spending
    assert pacer.margin == 8
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=250), ticket)  # 49 points gone beyond our 1: other tasks are spending
    assert pacer.margin == 16  # their requests in flight, estimated, count up to another reserve
    clock.now += 61
    _, ticket = pacer.acquire()
    pacer.observe(headers(remaining=599), ticket)  # the budget back, ours alone spent: none seen for a window
    assert pacer.margin == 8


def test_the_points_ledger_settles_what_is_due_and_forgets_what_an_answer_shows_back():
    from airflow_provider_conversations.api.ratelimit import PointLedger

    ledger = PointLedger()
    for answered, points in ((1.0, 2), (2.0, 3), (3.0, 1)):
        ledger.charge(points, answered, answered + 60)
    assert ledger.points == 6 and ledger.due_for(4) == 62.0 and ledger.due_for(7) is None
    assert ledger.answered_by(2.0) == 5
    ledger.forget_answered_by(2.0, limit=1, due_by=61.5)  # only the oldest entry is due by then
    assert ledger.points == 4
    assert ledger.settle(62.0) == 3 and ledger.points == 1
