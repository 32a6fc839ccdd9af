"""A fake-clock event loop playing tasks' request slots against the fake API's rate-limit budget.

Each task has ``slots`` request threads sharing one :class:`RateLimitPacer` and one CPU (the GIL): a
slot asks its pacer, waits what it says, sends; the server charges the request (in the order requests
reach it) after the request leg of its latency and answers after the answer leg; the task then spends
``work`` seconds of its one CPU on the page before that slot asks again. Several tasks share one budget.
Latencies are drawn per request, so requests reach the server and answers come back out of order.
Nothing sleeps: the clock jumps from event to event.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from email.utils import formatdate

from airflow_provider_conversations.api.ratelimit import RateLimitPacer
from airflow_provider_conversations.testing.budget import Budget

EPOCH = 1_795_000_020.0  # the server's clock at our time 0 (a multiple of 60 s: calendar windows at 0)


@dataclass(frozen=True)
class Shape:
    """The API and the task as served.

    :param window: the rate-limit window, seconds (the connection says the same).
    :param budget: points per window.
    :param latency: the shortest and longest round trip, seconds; each request draws its own, split at
        random between the request and the answer leg.
    :param date: whether answers carry a ``Date`` header (the server's clock, 1 s resolution).
    :param work: CPU seconds a task spends on a page (one CPU per task, shared by its slots).
    :param overstated: answers may state up to this many points more remaining than the server holds
        (a remaining count that does not count down exactly).
    """

    window: float = 6.0
    budget: int = 600
    latency: tuple[float, float] = (0.015, 0.015)
    date: bool = False
    work: float = 0.002
    overstated: int = 0


@dataclass
class Run:
    """What a simulated read did."""

    shape: Shape
    points: int
    elapsed: float = 0.0  # from the first request (time 0) to the last page processed
    sent: int = 0
    throttled: int = 0
    pacers: list[RateLimitPacer] = field(default_factory=list)
    spent_at: list[float] = field(default_factory=list)  # when the server charged each request it allowed

    @property
    def windows(self) -> float:
        """The run's length in windows."""
        return self.elapsed / self.shape.window

    def used(self, startup: float = 0.0) -> float:
        """Share of the budget used over the whole run: ``points / budget`` windows over its length,
        less ``startup`` seconds."""
        return self.points / self.shape.budget * self.shape.window / (self.elapsed - startup)


def simulate(
    rule: str,
    points: int,
    shape: Shape = Shape(),
    *,
    tasks: int = 1,
    slots: int = 4,
    reserve: int = 8,
    phase: float = 0.37,
    seed: int = 0,
) -> Run:
    """Spend ``points`` (1 a request) over ``tasks`` tasks of ``slots`` request slots each.

    :param rule: the server's window rule.
    :param points: points the read needs (split evenly over the tasks).
    :param shape: the API and the task.
    :param tasks: tasks sharing the budget, each with its own pacer.
    :param slots: request slots per task.
    :param reserve: each pacer's reserve (the hook gives ``2 x max_concurrency``).
    :param phase: where in a calendar window the server's clock stands at time 0, in windows.
    :param seed: seeds the latencies.
    """
    rng = random.Random(seed)
    now = [0.0]
    budget = Budget(shape.budget, shape.window, rule)
    run = Run(shape, points)
    run.pacers = [
        RateLimitPacer(
            window_seconds=shape.window, budget_per_minute=shape.budget, reserve=reserve, clock=lambda: now[0]
        )
        for _ in range(tasks)
    ]
    left = [points // tasks + (n < points % tasks) for n in range(tasks)]
    cpu_free = [0.0] * tasks
    events: list[tuple[float, int, str, int, int, object]] = []  # (time, order, what, task, ticket, answer)
    order = 0

    def push(at: float, what: str, task: int, ticket: int = 0, answer: object = None) -> None:
        nonlocal order
        heapq.heappush(events, (at, order, what, task, ticket, answer))
        order += 1

    for task in range(tasks):
        for _ in range(slots):
            push(0.0, "ask", task)
    while events:
        at, _, what, task, ticket, answer = heapq.heappop(events)
        now[0] = at
        pacer = run.pacers[task]
        if what == "ask":
            if left[task] <= 0:
                continue
            left[task] -= 1
            wait, ticket = pacer.acquire()
            trip = rng.uniform(*shape.latency)
            up = trip * rng.uniform(0.2, 0.8)
            run.sent += 1
            push(at + wait + up, "charge", task, ticket, trip - up)
        elif what == "charge":
            server = EPOCH + phase * shape.window + at
            charge = budget.charge("team", 1, server)
            shown = min(shape.budget, charge.remaining + rng.randint(0, shape.overstated))
            headers = {"x-ratelimit-remaining-minute": str(shown), "x-ratelimit-endpoint-cost": "1"}
            if shape.date:
                headers["Date"] = formatdate(server, usegmt=True)
            if charge.allowed:
                run.spent_at.append(at)
            assert isinstance(answer, float)
            push(at + answer, "answer", task, ticket, (headers, 200 if charge.allowed else 429))
        else:
            assert isinstance(answer, tuple)
            headers, status = answer
            pacer.observe(headers, ticket, status=status)
            if status == 429:
                run.throttled += 1
                left[task] += 1  # retried after a window (a 429 without Retry-After)
                push(at + shape.window, "ask", task)
                continue
            cpu_free[task] = max(at, cpu_free[task]) + shape.work
            run.elapsed = max(run.elapsed, cpu_free[task])
            push(cpu_free[task], "ask", task)
    return run


def per_window(run: Run, origin: float = 0.0) -> list[int]:
    """Points the server charged in each span of one window from ``origin`` (the run's timeline).

    :param run: a simulated run.
    :param origin: where the first span starts.
    """
    counts = [0] * (int((run.elapsed - origin) // run.shape.window) + 1)
    for at in run.spent_at:
        counts[int((at - origin) // run.shape.window)] += 1
    return counts
