"""Regime B at scale: a budget-bound read of 10 windows or more under each window rule the API might
follow (calendar-aligned windows, a window opened by the first request after the last one expired, a
sliding window), by one task and by 4 mapped tasks sharing the budget. Share of the budget used after
a measured start-up, 429s, and the points spent per server window (the timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from _common import GroupResult
from harness import DAY, START, Harness, log
from report_format import fmt, pct, table

SCALE_USED = 0.95
SCALE_MAX_429 = 0.01
VARIANTS = {
    "ours": "1 task, hourly windows",
    "ours-daywin": "1 task, default window_size (1 day)",
    "ours-4mapped": "4 mapped tasks, hourly windows",
}


@dataclass
class ScaleRun:
    """One budget-bound run at scale.

    :param rule: the fake API's window rule.
    :param variant: ``ours`` or ``ours-4mapped``.
    :param records: records read.
    :param points: points charged.
    :param elapsed: seconds from the common start to the last task's end.
    :param startup: seconds from the common start to the first request the API charged.
    :param requests: requests received.
    :param throttled: requests answered 429.
    :param failed: failed tasks.
    :param windows: points charged in each server window, first to last.
    """

    rule: str
    variant: str
    records: int
    points: int
    elapsed: float
    startup: float
    requests: int
    throttled: int
    failed: int
    windows: list[int]


@dataclass
class Scale:
    """The served shape and the runs."""

    records: int
    budget: int
    window: float
    latency: float
    runs: list[ScaleRun]

    def bound(self, run: ScaleRun) -> float:
        """Seconds the budget allows for the run's points: ``points / budget`` windows."""
        return run.points / self.budget * self.window

    def used(self, run: ScaleRun) -> float | None:
        """Share of the budget used over the whole run after its first request: the bound over that time."""
        busy = run.elapsed - run.startup
        return self.bound(run) / busy if busy > 0 else None

    def steady(self, run: ScaleRun) -> float | None:
        """Share of the budget used in the windows between the first (start-up) and the last (partial)."""
        inner = run.windows[1:-1]
        return sum(inner) / (len(inner) * self.budget) if inner else None

    def fixed(self, run: ScaleRun) -> float | None:
        """Seconds the run took beyond its points at the steady pace: the fixed start-up (and end)."""
        share = self.steady(run)
        return run.elapsed - self.bound(run) / share if share else None


def server_windows(charges: list[tuple[float, int, bool]], window: float, rule: str, start: float) -> list[int]:
    """Points charged per server window: calendar windows, windows opened by a first request, or (sliding,
    which has none) consecutive spans of one window from the run's start.

    :param charges: ``(server time, cost, allowed)`` of each request.
    :param window: the window, seconds.
    :param rule: the window rule served.
    :param start: the run's start (``time.time()``).
    """
    points: list[int] = []
    opened: float | None = None
    origin = (start // window) * window if rule == "calendar" else start
    for at, cost, allowed in sorted(charges):
        if rule == "first_request":
            if opened is None or at >= opened + window:  # a request after the window expired opens the next
                opened = at
                points.append(0)
            index = len(points) - 1
        else:
            index = int((at - origin) // window)
            points += [0] * (index + 1 - len(points))
        if allowed:
            points[index] += cost
    return points


def run(h: Harness, api: Any, records: int) -> Scale:
    """Every rule, 1 task and 4 mapped tasks over the whole day, once each.

    :param h: the harness.
    :param api: the fake API holding a day of ``records`` records.
    :param records: the day's records.
    """
    a = h.args
    scale = Scale(records, a.scale_budget, a.scale_window, a.scale_latency, [])
    extra = {"budget_per_minute": a.scale_budget, "rate_limit_window_seconds": a.scale_window, "max_concurrency": 4}
    log(
        f"B at scale: {records:,} records; {a.scale_latency * 1000:g} ms; {a.scale_budget} points per {a.scale_window:g} s"
    )
    for rule in ("calendar", "first_request", "sliding"):
        api.configure(
            rate_limit=a.scale_budget, minute_seconds=a.scale_window, latency=a.scale_latency, retry_after=False
        )
        api.window_rule = rule
        for variant in VARIANTS:
            specs = h.specs(variant, START, START + DAY, conn_extra=dict(extra), limited=True)
            align = a.scale_window if rule == "calendar" else None  # start with a whole calendar window ahead
            g = h.run(api, f"Bscale-{rule}-{variant}", specs, align=align)
            scale.runs.append(_scale_run(g, rule, variant, a.scale_window))
    api.window_rule = "calendar"
    return scale


def _scale_run(g: GroupResult, rule: str, variant: str, window: float) -> ScaleRun:
    first = min((at for at, _, allowed in g.charges if allowed), default=g.start)
    return ScaleRun(
        rule=rule,
        variant=variant,
        records=g.records,
        points=g.points,
        elapsed=g.elapsed,
        startup=max(0.0, first - g.start),
        requests=g.requests,
        throttled=g.throttled,
        failed=g.failed,
        windows=server_windows(g.charges, window, rule, g.start),
    )


def judge(h: Harness, scale: Scale) -> None:
    """Record the targets: >= 95 % of the budget used past the start-up and <= 1 % 429s, every run."""
    for r in scale.runs:
        used, share = scale.steady(r), r.throttled / r.requests if r.requests else None
        h.results.target(
            "B",
            f"at scale, `{r.rule}` windows, {VARIANTS[r.variant]}: >= {SCALE_USED:.0%} of the budget used, "
            f"<= {SCALE_MAX_429:.0%} 429s, 0 failed",
            f"{pct(used)} in the windows past the first (whole run: {pct(scale.used(r))}; fixed start-up "
            f"{fmt(scale.fixed(r), 1)} s); {pct(share, 2)} 429s; {r.failed} failed",
            used is not None and used >= SCALE_USED and share is not None and share <= SCALE_MAX_429 and not r.failed,
        )


def section(scale: Scale) -> str:
    """The page's section."""
    header = [
        "window rule", "tasks", "records", "points", "bound s", "first request s", "seconds",
        "budget used (whole run)", "budget used (past the first window)", "fixed start-up s", "429s",
    ]  # fmt: skip
    rows = [
        [
            f"`{r.rule}`",
            VARIANTS[r.variant],
            f"{r.records:,}",
            f"{r.points:,}",
            fmt(scale.bound(r), 1),
            fmt(r.startup, 2),
            fmt(r.elapsed, 1),
            pct(scale.used(r)),
            pct(scale.steady(r)),
            fmt(scale.fixed(r), 1),
            f"{r.throttled} of {r.requests:,}",
        ]
        for r in scale.runs
    ]
    timeline = [[f"`{r.rule}`", VARIANTS[r.variant], ", ".join(map(str, r.windows))] for r in scale.runs]
    span = timedelta(seconds=scale.window)
    return (
        f"### Budget-bound at scale, under each window rule ({scale.records:,} records)\n\n"
        f"The fake API answers after {scale.latency * 1000:g} ms and allows {scale.budget} points per "
        f"{span.total_seconds():g} s window under each of its window rules in turn; the connection says the same "
        "budget and window. Our operator reads the whole day (one task with hourly windows, one task with the "
        "default one-day window, whose parts are uploaded as each fills while the read goes on; or 4 mapped "
        "tasks of 6 hours with hourly windows), once per rule. *Bound* is what the budget allows for the points spent (`points / budget` "
        "windows); *first request* is from the common start to the first request the API charged (task "
        "set-up, S3 client, the first listing); *budget used (whole run)* is the bound over the seconds after "
        "the first request; *past the first window* is the points in the windows between the first (the read "
        "ramping up) and the last (partial) over their budget: the pace the read holds; *fixed start-up* is "
        "the run's seconds beyond its points at that pace. The targets are judged on the pace.\n\n"
        + table(header, rows)
        + "\n\nPoints per server window, run by run (calendar windows; windows opened by the first request "
        "after the last one expired; for the sliding rule, consecutive spans of one window from the start):\n\n"
        + table(["window rule", "tasks", "points per window"], timeline)
    )
