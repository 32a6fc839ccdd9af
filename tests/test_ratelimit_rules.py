"""The pacer learns where the API's windows start, on a fake clock, against the fake API's window rules.

A small event loop plays a task's request slots (or several tasks sharing one budget) against
:class:`~airflow_provider_conversations.testing.budget.Budget`: a slot asks its pacer, sends, the
server charges the request half a latency later and the answer comes back after a full latency.
Nothing sleeps: the clock jumps from event to event.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

import pytest

from airflow_provider_conversations.ratelimit import RateLimitPacer
from airflow_provider_conversations.testing import WINDOW_RULES
from airflow_provider_conversations.testing.budget import Budget

WINDOW, BUDGET, LATENCY, WORK = 6.0, 600, 0.015, 0.001  # the bench's scale: 600 points per 6 s, 15 ms


@dataclass
class Run:
    elapsed: float = 0.0
    sent: int = 0
    throttled: int = 0
    pacers: list[RateLimitPacer] = field(default_factory=list)

    @property
    def windows(self) -> float:
        return self.elapsed / WINDOW


def simulate(
    rule: str, points: int, *, tasks: int = 1, slots: int = 4, reserve: int = 8, phase: float = 0.37, seed: int = 0
) -> Run:
    """Spend ``points`` (1 a request) over ``tasks`` tasks of ``slots`` request slots each; time 0 is the start."""
    now = [0.0]
    budget = Budget(BUDGET, WINDOW, rule)
    run = Run()
    run.pacers = [
        RateLimitPacer(window_seconds=WINDOW, budget_per_minute=BUDGET, reserve=reserve, clock=lambda: now[0])
        for _ in range(tasks)
    ]
    for n, pacer in enumerate(run.pacers):
        pacer._rng = random.Random(seed + n)
    left = [points // tasks] * tasks
    events: list[tuple[float, int, int, str, int]] = []  # (time, order, task, what, ticket)
    answers: dict[int, tuple[dict[str, str], int]] = {}  # order of an answer event -> (headers, status)
    order = 0
    for task in range(tasks):
        for _ in range(slots):
            events.append((0.0, order, task, "ask", 0))
            order += 1
    heapq.heapify(events)
    while events:
        at, seq, task, what, ticket = heapq.heappop(events)
        now[0] = at
        pacer = run.pacers[task]
        if what == "ask":
            if left[task] <= 0:
                continue
            left[task] -= 1
            wait, ticket = pacer.acquire()
            # The server's clock runs `phase` windows ahead of ours: calendar windows fall anywhere.
            charge = budget.charge("team", 1, at + wait + LATENCY / 2 + phase * WINDOW)
            run.sent += 1
            headers = {"x-ratelimit-remaining-minute": str(charge.remaining), "x-ratelimit-endpoint-cost": "1"}
            answers[order] = (headers, 200 if charge.allowed else 429)
            heapq.heappush(events, (at + wait + LATENCY, order, task, "answer", ticket))
            order += 1
            run.elapsed = max(run.elapsed, at + wait + LATENCY)
        else:
            headers, status = answers.pop(seq)
            pacer.observe(headers, ticket, status=status)
            if status == 429:
                run.throttled += 1
                left[task] += 1  # retried, after a window (a 429 without Retry-After)
                heapq.heappush(events, (at + WINDOW, order, task, "ask", 0))
            else:
                heapq.heappush(events, (at + WORK, order, task, "ask", 0))
            order += 1
    return run


@pytest.mark.parametrize("tasks", [1, 4], ids=["1 task", "4 tasks"])
@pytest.mark.parametrize("rule", WINDOW_RULES)
def test_a_budget_bound_read_uses_95_percent_of_the_budget_under_every_window_rule(rule, tasks):
    points = 12 * BUDGET  # twelve windows of budget
    run = simulate(rule, points, tasks=tasks)
    assert run.sent - run.throttled == points
    assert run.throttled <= 0.01 * run.sent
    assert points / BUDGET / run.windows >= 0.95, f"{run.windows:.2f} windows"  # >= 95 % of the budget used


@pytest.mark.parametrize("phase", [0.0, 0.2, 0.5, 0.93])
def test_calendar_windows_are_used_in_full_whatever_their_phase(phase):
    run = simulate("calendar", 10 * BUDGET, phase=phase)
    assert run.throttled == 0 and 10 / run.windows >= 0.95


@pytest.mark.parametrize(("rule", "sliding"), [("calendar", False), ("first_request", False), ("sliding", True)])
def test_the_pacer_learns_whether_the_budget_comes_back_at_once_or_gradually(rule, sliding):
    run = simulate(rule, 4 * BUDGET)
    assert [p.sliding for p in run.pacers] == [sliding]


def test_a_window_opened_by_the_first_request_ends_one_window_after_the_first_answer():
    now = [100.0]
    pacer = RateLimitPacer(window_seconds=6.0, budget_per_minute=10, clock=lambda: now[0])
    _, ticket = pacer.acquire()
    pacer.observe({"x-ratelimit-remaining-minute": "0"}, ticket)  # first answer at 100: the window ends by 106
    wait, ticket = pacer.acquire()
    assert 6.0 <= wait <= 6.06
    now[0] += wait + 0.5  # the blocked request went out; its answer comes half a second later
    pacer.observe({"x-ratelimit-remaining-minute": "9"}, ticket)  # it opened the server's next window
    _, ticket = pacer.acquire()
    pacer.observe({"x-ratelimit-remaining-minute": "0"}, ticket)
    wait, _ = pacer.acquire()
    assert 6.0 <= wait <= 6.06  # from that answer, not from the previous estimate (which would be 5.5 s)


def test_sliding_budget_wakes_when_our_own_points_age_out():
    now = [100.0]
    pacer = RateLimitPacer(window_seconds=10.0, budget_per_minute=10, clock=lambda: now[0])
    for remaining in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0):  # ten answers, one a second
        _, ticket = pacer.acquire()
        pacer.observe({"x-ratelimit-remaining-minute": str(remaining)}, ticket)
        now[0] += 1.0
    wait, ticket = pacer.acquire()  # at 110: the window "ends" at 110 (first answer at 100)
    now[0] += wait
    pacer.observe({"x-ratelimit-remaining-minute": "0"}, ticket)  # only the point of 100 came back
    assert pacer.sliding
    wait, _ = pacer.acquire()
    assert 0.0 < wait <= 1.0  # the point spent at 101 is back at 111: not a whole window away


def test_a_date_placed_end_that_proves_early_moves_to_one_window_after_our_first_answer():
    now = [1000.0]
    pacer = RateLimitPacer(window_seconds=60.0, budget_per_minute=600, reserve=8, clock=lambda: now[0])
    _, ticket = pacer.acquire()
    date = {"Date": "Thu, 26 Nov 2026 10:00:30 GMT"}  # the calendar minute ends in 30 s
    pacer.observe({**date, "x-ratelimit-remaining-minute": "5"}, ticket)
    wait, ticket = pacer.acquire()
    now[0] += wait  # 30 s on: but this API opened its window at our first request, at 1000
    pacer.observe({"x-ratelimit-remaining-minute": "4"}, ticket)
    wait, _ = pacer.acquire()
    assert not pacer.sliding and 1060.0 <= now[0] + wait <= 1060.6
