"""Regime C, our CPU cost: no latency, no budget; records/s of the task itself.

The same runs give regime A its points (:mod:`regime_a_cost`): every client copies the records spread
over :data:`harness.MAIN_DAYS` days. One extra profiled run per client explains where the time goes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from _common import WORK_DIR, median, ratio
from harness import DAY, MAIN_DAYS, START, Harness, Runs, log
from profiles import STAGES, stage_times, summarize_profile
from regime_a_cost import breakdown
from report_format import fmt
from results import ClientRun, Profile, Results

C_VS_RAW = 1.1
C_VS_HANDWRITTEN = 1.0
#: C's targets are judged at this many records and more (below, fixed costs per task dominate: reported).
C_FROM_RECORDS = 50_000
#: The variants C runs (regime D runs the answer shapes).
C_VARIANTS = ("ours", "ours-4mapped", "ours-daywin", "handwritten", "raw")


def run(h: Harness, api: Any, n: int, profile: Profile | None) -> Runs:
    """Every client over the whole range, ``--runs`` times; then the profiled runs if asked.

    :param h: the harness.
    :param api: the fake API holding ``n`` records.
    :param n: the number of records.
    :param profile: where to put the profiled runs (``None``: none at this size).
    """
    gte, lt = START, START + MAIN_DAYS * DAY
    h.unlimited(api)
    log(f"A+C: {n:,} records, no latency, no budget")
    variants = {v: (lambda v=v: h.specs(v, gte, lt)) for v in C_VARIANTS}
    res = h.repeat(api, f"C{n // 1000}k", variants)
    if profile is not None:
        profile_runs(h, api, gte, lt, profile)
    return res


def profile_runs(h: Harness, api: Any, gte: datetime, lt: datetime, profile: Profile) -> None:
    """One profiled run per client (cProfile on the task's thread; ours with max_concurrency=1 and
    windows published on that thread)."""
    pdir = WORK_DIR / "profiles"
    pdir.mkdir(parents=True, exist_ok=True)
    for variant, opts in (
        ("ours", {"max_concurrency": 1, "publish_inline": True}),
        ("ours-daywin", {"max_concurrency": 1, "publish_inline": True}),
        ("handwritten", {}),
        ("raw", {}),
    ):
        path = pdir / f"C-{variant}.prof"
        h.run(api, f"profile-{variant}", h.specs(variant, gte, lt, options={**opts, "profile": str(path)}))
        profile.stages[variant] = stage_times(str(path), STAGES["ours" if "ours" in variant else variant])
        profile.categories[variant], profile.top[variant] = summarize_profile(str(path))


def measure(runs_by_size: dict[int, Runs]) -> list[ClientRun]:
    """Medians of every client at every size (A's and C's figures).

    :param runs_by_size: the runs of :func:`run`, by number of records.
    """
    out = []
    for n, res in runs_by_size.items():
        rate = {v: median(g.records / g.elapsed for g in gs) for v, gs in res.items()}
        for v, gs in res.items():
            out.append(
                ClientRun(
                    size=n,
                    variant=v,
                    points=median(g.points for g in gs),
                    records_per_point=median(g.records / g.points for g in gs if g.points),
                    seconds=median(g.elapsed for g in gs),
                    rate=rate[v],
                    vs_raw=ratio(rate[v], rate["raw"]),
                    vs_handwritten=ratio(rate[v], rate["handwritten"]),
                    cpu=median(g.cpu for g in gs),
                    cpu_per_1k=median(1e6 * g.cpu / g.records for g in gs if g.records),
                    server_cpu=median(g.server_cpu for g in gs),
                    busy=median(g.machine_busy for g in gs),
                    breakdown=breakdown(gs[0]),
                )
            )
    return out


def judge(results: Results) -> None:
    """Record C's targets: our records/s against the raw loop's and the hand-written way's.

    :param results: with ``cost_cpu`` filled by :func:`measure`.
    """
    by = {(r.size, r.variant): r for r in results.cost_cpu}
    sizes = list(dict.fromkeys(r.size for r in results.cost_cpu))
    for label, variant, limit, whom, attr in (
        ("1 task, default `window_size` (1 day: one data object per day, as the baselines write)", "ours-daywin",
         C_VS_RAW, "raw loop", "vs_raw"),
        ("1 task, default `window_size`", "ours-daywin", C_VS_HANDWRITTEN, "hand-written way", "vs_handwritten"),
    ):  # fmt: skip
        rows = [(n, getattr(by[n, variant], attr)) for n in sizes if (n, variant) in by and n >= C_FROM_RECORDS]
        if rows:
            results.target(
                "C",
                f"records/s >= {limit}x the {whom}'s at {C_FROM_RECORDS:,} records and more (our operator, {label})",
                ", ".join(f"{n // 1000}k: {fmt(x, 2, 'x')}" for n, x in rows),
                all(x is not None and x >= limit for _, x in rows),
            )
