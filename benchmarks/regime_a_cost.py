"""Regime A, cost: records per rate-limit point, from the fake API's accounting of regime C's runs."""

from __future__ import annotations

import math

from _common import GroupResult
from report_format import fmt
from results import Breakdown, Results

A_RECORDS_PER_POINT = 99


def breakdown(group: GroupResult) -> Breakdown:
    """Our requests split into floor, task ranges and paging overhead (from each task's summary).

    :param group: one run of our operator.
    """
    tasks = [(r.get("records", 0), r.get("client_requests", 0)) for r in group.results]
    records = sum(t[0] for t in tasks)
    pages = sum(t[1] for t in tasks)
    floor = math.ceil(records / 100)
    per_task = sum(max(1, math.ceil(t[0] / 100)) for t in tasks)
    return Breakdown(
        windows=sum(len(r.get("windows", [])) for r in group.results),
        floor=floor,
        granularity=per_task - floor,
        overhead=pages - per_task,
        pages=pages,
        points=group.points,
    )


def judge(results: Results) -> None:
    """Mark each run of our operator against the target and record A's targets.

    :param results: with ``cost_cpu`` filled by :func:`regime_c_cpu.measure`.
    """
    a_met, a_text, m_met, m_text = [], [], [], []
    for run in results.cost_cpu:
        rpp = run.records_per_point
        ok = rpp is not None and rpp >= A_RECORDS_PER_POINT
        if run.variant in ("ours", "ours-4mapped"):
            run.cost_met = ok
        if run.variant == "ours":
            a_met.append(ok)
            a_text.append(f"{run.size // 1000}k: {fmt(rpp, 1)}")
        if run.variant == "ours-4mapped":
            b = run.breakdown
            reads_floor = b.floor + b.granularity
            m_met.append(b.pages <= reads_floor * 1.01 + 1)
            m_text.append(f"{run.size // 1000}k: {b.pages} for a floor of {reads_floor} ({fmt(rpp, 1)} records/point)")
    results.target(
        "A",
        f"records per rate-limit point >= {A_RECORDS_PER_POINT}, our operator (1 task) at every size",
        ", ".join(a_text),
        all(a_met),
    )
    if m_text:
        results.target(
            "A",
            "4 mapped tasks: requests <= the floor of 4 separate reads, sum of ceil(task records / 100), "
            "+1 % (no paging overhead)",
            ", ".join(m_text),
            all(m_met),
        )
