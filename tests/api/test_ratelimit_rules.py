"""The pacer uses the budget under every window rule, on a fake clock, against the fake API's budget.

The simulation (``tests/api/pacer_sim.py``) plays tasks' request slots against
:class:`~airflow_provider_conversations.testing.budget.Budget` under each of its window rules, in the
shapes of the outside check of issue 15: 600 points per 6 s or 12 s window, round trips of 10-25 ms
drawn per request (so answers come back out of order), with and without a ``Date`` header, one task or
4 tasks sharing the budget, a task barely faster than the budget, and a remaining count that does not
count down exactly. Budget use is judged over the whole run, from the first request to the last page,
with no start-up allowance (a simulated task has no start-up).
"""

from __future__ import annotations

import pytest

from airflow_provider_conversations.api.ratelimit import RateLimitPacer
from airflow_provider_conversations.testing import WINDOW_RULES
from tests.api.pacer_sim import Shape, per_window, simulate

JITTER = (0.010, 0.025)
SHAPES = {
    "600 per 6 s": Shape(6.0, 600, JITTER),
    "600 per 12 s": Shape(12.0, 600, JITTER),
    "600 per 12 s, Date": Shape(12.0, 600, JITTER, date=True),
    "600 per 6 s, task at 111 pages/s": Shape(6.0, 600, JITTER, work=0.009),
    "600 per 6 s, remaining overstated by up to 3": Shape(6.0, 600, JITTER, overstated=3),
}


def check_read(rule: str, points: int, shape: Shape, tasks: int, phase: float) -> None:
    run = simulate(rule, points, shape, tasks=tasks, phase=phase)
    assert run.sent - run.throttled == points
    assert run.throttled <= 0.01 * run.sent, f"{run.throttled} 429s of {run.sent}"
    assert run.used() >= 0.95, f"{run.windows:.2f} windows; points per window {per_window(run)}"


@pytest.mark.parametrize("phase", [0.3, 0.95], ids=["phase 0.3", "phase 0.95"])
@pytest.mark.parametrize("tasks", [1, 4], ids=["1 task", "4 tasks"])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("rule", WINDOW_RULES)
def test_the_outside_checks_read_uses_95_percent_of_the_budget_under_every_window_rule(rule, shape, tasks, phase):
    """300,000 records, 100 a page: 3,001 points, 5 windows of budget (``phase``: where in a calendar
    window the server's clock stands at the start)."""
    check_read(rule, 3001, shape, tasks, phase)


@pytest.mark.parametrize("tasks", [1, 4], ids=["1 task", "4 tasks"])
@pytest.mark.parametrize("rule", WINDOW_RULES)
def test_a_twelve_window_read_uses_95_percent_of_the_budget_under_every_window_rule(rule, tasks):
    check_read(rule, 12 * 600 + 1, SHAPES["600 per 6 s"], tasks, 0.37)


@pytest.mark.parametrize("phase", [0.0, 0.2, 0.5, 0.93])
def test_calendar_windows_are_used_in_full_whatever_their_phase(phase):
    run = simulate("calendar", 10 * 600, phase=phase)
    assert run.throttled == 0 and run.used() >= 0.95


@pytest.mark.parametrize("rule", WINDOW_RULES)
def test_a_task_alone_fills_every_window_but_the_reserve_and_gets_no_429(rule):
    run = simulate(rule, 6 * 600 + 300, Shape(6.0, 600, JITTER), reserve=8)
    assert run.throttled == 0
    assert all(592 - 4 <= points <= 600 for points in per_window(run)[1:5])  # 8 kept back, give or take in flight


def test_a_window_opened_by_the_first_request_ends_one_window_after_its_first_answer():
    now = [100.0]
    pacer = RateLimitPacer(window_seconds=6.0, budget_per_minute=10, clock=lambda: now[0])
    _, ticket = pacer.acquire()
    pacer.observe({"x-ratelimit-remaining-minute": "0"}, ticket)  # first answer at 100: its point is back by 106
    wait, ticket = pacer.acquire()
    assert wait == 6.0
    now[0] += wait + 0.5  # the blocked request went out; its answer comes half a second later
    pacer.observe({"x-ratelimit-remaining-minute": "9"}, ticket)  # it opened the server's next window
    _, ticket = pacer.acquire()
    pacer.observe({"x-ratelimit-remaining-minute": "0"}, ticket)
    wait, _ = pacer.acquire()
    assert wait == 6.0  # one window after the answer that showed the budget back, not 5.5 s from the old estimate


def test_a_sliding_budget_wakes_when_our_own_points_age_out():
    now = [100.0]
    pacer = RateLimitPacer(window_seconds=10.0, budget_per_minute=10, clock=lambda: now[0])
    for remaining in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0):  # ten answers, one a second
        _, ticket = pacer.acquire()
        pacer.observe({"x-ratelimit-remaining-minute": str(remaining)}, ticket)
        now[0] += 1.0
    wait, ticket = pacer.acquire()  # at 110: the point answered at 100 is back
    assert wait == 0.0
    pacer.observe({"x-ratelimit-remaining-minute": "0"}, ticket)  # only that point came back
    wait, _ = pacer.acquire()
    assert wait == 1.0  # the point answered at 101 is back at 111: not a whole window away


def test_points_a_turned_window_gave_back_are_not_added_back_again():
    now = [100.0]
    pacer = RateLimitPacer(window_seconds=10.0, budget_per_minute=10, clock=lambda: now[0])
    for remaining in (5, 4):  # two points spent, at 100 and 101
        _, ticket = pacer.acquire()
        pacer.observe({"x-ratelimit-remaining-minute": str(remaining)}, ticket)
        now[0] += 1.0
    _, ticket = pacer.acquire()
    pacer.observe({"x-ratelimit-remaining-minute": "9"}, ticket)  # at 102: a window turned, 9 left
    for _ in range(9):
        assert pacer.acquire()[0] == 0.0
    assert pacer.acquire()[0] == 10.0  # at 110 and 111 the old points come due, but they are already back
