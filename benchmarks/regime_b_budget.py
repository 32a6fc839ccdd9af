"""Regime B, the real API's shape sped up: latency, a per-window point budget, the deep-page costs,
no Retry-After. Records per minute, share of the budget used, 429s, failed tasks; budget-bound
ranges; the ``budget_share`` setting (our pacer's pace)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _common import GroupResult, Spec, median, ratio
from harness import DAY, HOUR, MAIN_DAYS, REAL_BUDGET, START, VARIANT_TEXT, Harness, Runs, log
from report_format import fmt, pct
from results import BoundRun, Budget, BudgetRow

B_BUDGET_USED = 0.95
B_MAX_429 = 0.01
B_VS_HANDWRITTEN = 6.0
SHARE_TOLERANCE = 0.02  # of the team budget, on top of the share
SHARE_CAPS = {"share-0.5": 0.5, "share-0.125x4": 0.5}  # what one window may hold, of the budget


def setup(h: Harness) -> Budget:
    """Regime B's results, with the shape served.

    :param h: the harness.
    """
    return Budget(h.latency, h.budget, h.window, h.speed, h.real_minute, h.args.bound_windows)


def run(h: Harness, api: Any, n: int) -> Runs:
    """Our operator (1 task, 4 mapped, 1-day windows) and the hand-written task over the whole range.

    :param h: the harness.
    :param api: the fake API holding ``n`` records.
    :param n: the number of records.
    """
    gte, lt = START, START + MAIN_DAYS * DAY
    h.real_shape(api)
    log(f"B: {n:,} records; {h.latency * 1000:g} ms; {h.budget} points per {h.window:g} s")
    variants = {
        v: (lambda v=v: h.specs(v, gte, lt, conn_extra=h.conn_extra(), limited=True))
        for v in ("ours", "ours-4mapped", "ours-daywin", "handwritten")
    }
    # Start on a window boundary when a run may need more than half a window's budget (its points
    # estimated at 90 records a point); else at once, on a fresh budget.
    align = {v: h.window if n / 90 > h.budget / 2 else None for v in variants}
    return h.repeat(api, f"B{n // 1000}k", variants, align=align)


def row(h: Harness, size: str, text: str, gs: list[GroupResult]) -> BudgetRow:
    """Medians of one client's runs."""
    return BudgetRow(
        size=size,
        client=text,
        minutes=median(g.elapsed / h.real_minute for g in gs),
        records_per_minute=median(h.per_minute(g, g.records) for g in gs),
        points=median(g.points for g in gs),
        budget_per_minute=median(h.per_minute(g, g.points) / REAL_BUDGET for g in gs),
        budget_used=median(h.budget_used(g) for g in gs),
        share_429=median(g.throttled / g.requests for g in gs if g.requests),
        failed=sum(g.failed for g in gs),
        connections=median(g.max_open_connections for g in gs),
        task_cores=median(g.cpu / g.elapsed for g in gs),
        pacer_waits=median(len(g.pacer_waits) for g in gs),
        longest_wait=max((w for g in gs for w in g.pacer_waits), default=None),
    )


def judge(h: Harness, runs_by_size: dict[int, Runs], budget: Budget, ours_429: list[float]) -> int:
    """Fill the main runs' figures and record the target against the hand-written way.

    :param h: the harness.
    :param runs_by_size: the runs of :func:`run`, by number of records.
    :param budget: regime B's results.
    :param ours_429: collects the 429 share of every run of ours.
    :return: how many of our tasks failed.
    """
    failed = 0
    per_min: dict[int, dict[str, float | None]] = {}
    for n, res in runs_by_size.items():
        per_min[n] = {v: median(h.per_minute(g, g.records) for g in gs) for v, gs in res.items()}
        for v, gs in res.items():
            budget.rows.append(row(h, f"{n:,}", VARIANT_TEXT[v], gs))
            if v.startswith("ours"):
                ours_429 += [g.throttled / g.requests for g in gs if g.requests]
                failed += sum(g.failed for g in gs)
    top = max(runs_by_size)
    budget.top_windows = [
        [
            VARIANT_TEXT[v],
            *(
                ", ".join(map(str, g.window_points()))
                + f" ({g.throttled} x 429, {len(g.pacer_waits)} pacer waits, {g.elapsed:.1f} s)"
                for g in gs
            ),
        ]
        for v, gs in runs_by_size[top].items()
    ]
    budget.top = top
    budget.vs = vs = ratio(per_min[top]["ours"], per_min[top]["handwritten"])
    budget.vs_4mapped = vs4 = ratio(per_min[top]["ours-4mapped"], per_min[top]["handwritten"])
    budget.vs_daywin = ratio(per_min[top].get("ours-daywin"), per_min[top]["handwritten"])
    h.results.target(
        "B",
        f"records per minute >= {B_VS_HANDWRITTEN:g}x the hand-written way's at {top:,} records (1 task; 4 mapped)",
        f"{fmt(vs, 1, 'x')}; {fmt(vs4, 1, 'x')}",
        vs is not None and vs >= B_VS_HANDWRITTEN and vs4 is not None and vs4 >= B_VS_HANDWRITTEN,
    )
    return failed


def run_bound(h: Harness, api: Any, records: int) -> tuple[Runs, dict[str, str]]:
    """Budget-bound: a range that takes a few windows' budget; and the budget_share setting."""
    # Hours of the day (split 4 ways, and halved for the share runs split 4 ways again) whose points
    # take about --bound-windows windows of budget: points ~ records/99 + one page per hourly window.
    per_hour = records / 24 / 99 + 1
    hours = min((8, 16, 24), key=lambda hr: abs(hr * per_hour - h.args.bound_windows * h.budget))
    # The share runs: about 1.2 windows of the capped budget (the cap must hold in every window).
    share_hours = min((4, 8, 12), key=lambda hr: abs(hr * per_hour - 1.2 * 0.5 * h.budget))
    full, half = (START, START + hours * HOUR), (START, START + share_hours * HOUR)
    ex = h.conn_extra
    variants: dict[str, Callable[[], list[Spec]]] = {
        "ours": lambda: h.specs("ours", *full, conn_extra=ex(), limited=True),
        "ours-4mapped": lambda: h.specs("ours-4mapped", *full, conn_extra=ex(), limited=True),
        "share-0.5": lambda: h.specs("ours", *half, conn_extra=ex(budget_share=0.5), limited=True),
        "share-0.125x4": lambda: h.specs("ours-4mapped", *half, conn_extra=ex(budget_share=0.125), limited=True),
    }
    if not h.args.share_mapped:
        variants.pop("share-0.125x4")
    h.real_shape(api)
    log(f"B, budget-bound: the first {hours} h of a day of {records:,} records")
    res = h.repeat(api, f"Bbound{records // 1000}k", variants, align=h.window)
    text = {
        "ours": f"our operator, 1 task, {hours} h",
        "ours-4mapped": f"our operator, 4 mapped tasks ({hours // 4} h each)",
        "share-0.5": f"1 task, `budget_share=0.5`, {share_hours} h",
        "share-0.125x4": f"4 mapped tasks, `budget_share=0.125` each, {share_hours} h",
    }
    return res, text


def judge_bound(
    h: Harness, res: Runs, text: dict[str, str], records: int, budget: Budget, ours_429: list[float], failed: int
) -> None:
    """Fill the budget-bound figures and record their targets, then the one over every run of ours.

    :param h: the harness.
    :param res: the runs of :func:`run_bound`.
    :param text: each variant's description.
    :param records: the day's records.
    :param budget: regime B's results.
    :param ours_429: the 429 share of every run of ours in B so far.
    :param failed: our failed tasks in B so far.
    """
    results = h.results
    budget.bound_records = records
    budget.most_points = int(max((r.points or 0 for r in results.cost_cpu if r.variant.startswith("ours")), default=0))
    for v, gs in res.items():
        budget.bound_rows.append(row(h, f"{median(g.records for g in gs):,.0f}", text[v], gs))
        windows = [w for g in gs for w in g.full_windows()]
        used = median(h.budget_used(g) for g in gs)
        peak = max(windows) / h.budget if windows else None
        if v in SHARE_CAPS:  # a cap must hold in every window, partial ones too
            peak = max((w for g in gs for w in g.window_points()), default=0) / h.budget
        rates = [g.throttled / g.requests for g in gs if g.requests]
        v_failed = sum(g.failed for g in gs)
        budget.bound[v] = BoundRun(
            text=text[v],
            used=used,
            peak=peak,
            cap=SHARE_CAPS.get(v),
            windows=[g.window_points() for g in gs],
            throttled=[g.throttled for g in gs],
            requests=[g.requests for g in gs],
            retries=[g.retries for g in gs],
            retry_waits=[w for g in gs for w in g.retry_waits],
            longest_wait=max((w for g in gs for w in g.pacer_waits), default=None),
            window_text=[
                ", ".join(str(w) for w in g.window_points()) + f" ({g.throttled} x 429, {g.retries} retries)"
                for g in gs
            ],
        )
        if v in ("ours", "ours-4mapped"):
            who = "1 task" if v == "ours" else "4 mapped tasks together"
            results.target(
                "B",
                f"budget-bound, {who}: >= {B_BUDGET_USED:.0%} of the budget used",
                f"{pct(used)} (median of runs; windows {pct(min(windows) / h.budget if windows else None, 0)}"
                f"-{pct(peak, 0)})",
                used is not None and used >= B_BUDGET_USED,
            )
            results.target(
                "B",
                f"budget-bound, {who}: <= {B_MAX_429:.0%} of requests answered 429; 0 failed tasks",
                f"worst run {pct(max(rates) if rates else None, 2)}; {v_failed} failed",
                bool(rates) and max(rates) <= B_MAX_429 and v_failed == 0,
            )
            ours_429 += rates
            failed += v_failed
        if v in SHARE_CAPS:
            results.target(
                "B",
                f"{text[v]}: points per window <= {SHARE_CAPS[v]:.0%} of the budget (+{SHARE_TOLERANCE:.0%} tolerance)",
                f"worst window {pct(peak)}; {v_failed} failed",
                None if peak is None else peak <= SHARE_CAPS[v] + SHARE_TOLERANCE and v_failed == 0,
            )
    results.target(
        "B",
        f"every run of our operator in B: <= {B_MAX_429:.0%} 429s, 0 failed tasks",
        f"worst run {pct(max(ours_429) if ours_429 else None, 2)}; {failed} failed",
        bool(ours_429) and max(ours_429) <= B_MAX_429 and failed == 0,
    )
