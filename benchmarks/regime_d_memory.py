"""Regime D, memory: peak RSS of the task process for a small and a large one-day window, with plain
answers (``--runs`` times) and once each with gzip and with chunked answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from _common import Spec, median
from harness import DAY, START, Harness, Runs, log
from report_format import fmt
from results import Memory, MemoryRow, Results

D_GROWTH_MB = 30.0
SHAPES = {"gzip": {"gzip": True}, "chunked": {"chunked": True}}  # the fake's answer shapes, besides plain


def run(h: Harness, api: Any, n: int, results: Results) -> Runs:
    """Our task over one day in fresh interpreters (and the baselines if asked).

    Over the target at the larger size, one more run under tracemalloc shows what holds the memory.

    :param h: the harness.
    :param api: the fake API holding ``n`` records over one day.
    :param n: the number of records.
    :param results: where the tracemalloc run goes.
    """
    day = (START, START + DAY)
    h.unlimited(api)
    log(f"D: one {n:,}-record window (fresh task processes)")
    variants: dict[str, Callable[[], list[Spec]]] = {
        "ours-daywin": lambda: h.specs("ours-daywin", *day, options={"warmup": True}),
    }
    if h.args.memory_baselines:
        variants["handwritten"] = lambda: h.specs("handwritten", *day)
        variants["raw"] = lambda: h.specs("raw", *day)
    res = h.repeat(api, f"D{n // 1000}k", variants, fresh=True)
    for shape, knobs in SHAPES.items():
        api.gzip, api.chunked = knobs.get("gzip", False), knobs.get("chunked", False)
        try:
            spec = h.specs("ours-daywin", *day, options={"warmup": True})
            res[f"ours-daywin-{shape}"] = [h.run(api, f"D{n // 1000}k-{shape}", spec, fresh=True)]
        finally:
            api.gzip = api.chunked = False
    growth = median(r["rss_peak_mb"] - r["rss_baseline_mb"] for g in res["ours-daywin"] for r in g.results)
    if n == max(h.args.memory_records) and growth is not None and growth >= D_GROWTH_MB:
        spec = h.specs("ours-daywin", *day, options={"warmup": True, "tracemalloc": 12})
        group = h.run(api, f"D{n // 1000}k-tracemalloc", spec, fresh=True)
        h.results.memory_trace = {"records": n, **group.results[0].get("tracemalloc", {})}
    return res


def judge(runs_by_size: dict[int, Runs], results: Results) -> None:
    """Fill D's figures and record its target.

    :param runs_by_size: the runs of :func:`run`, by window size.
    :param results: where they go.
    """
    rows = []
    peaks: dict[int, float | None] = {}
    growth: dict[int, float | None] = {}
    shaped: dict[str, dict[int, float | None]] = {}  # answer shape -> window size -> our peak
    sizes = sorted(runs_by_size)
    for n in sizes:
        for v, gs in runs_by_size[n].items():
            rs = [r for g in gs for r in g.results if r.get("ok")]
            peak = median(r["rss_peak_mb"] for r in rs)
            grow = median(r["rss_peak_mb"] - r["rss_baseline_mb"] for r in rs)
            if v == "ours-daywin":
                peaks[n], growth[n] = peak, grow
            if v.startswith("ours-daywin"):
                shaped.setdefault(v.removeprefix("ours-daywin").lstrip("-") or "plain", {})[n] = peak
            rows.append(
                MemoryRow(n, v, median(r["rss_baseline_mb"] for r in rs), peak, grow, median(g.elapsed for g in gs))
            )
    lo, hi = min(sizes), max(sizes)
    between = peaks[hi] - peaks[lo] if peaks.get(hi) is not None and peaks.get(lo) is not None else None
    worst = max((r.growth for r in rows if r.variant.startswith("ours-daywin") and r.growth is not None), default=None)
    spans = {k: p[hi] - p[lo] for k, p in shaped.items() if p.get(hi) is not None and p.get(lo) is not None}
    results.memory = Memory(rows, growth, between, lo, hi)
    results.target(
        "D",
        f"peak RSS growth < {D_GROWTH_MB:g} MB (our task, {lo // 1000}k- and {hi // 1000}k-record window)",
        f"over the task's own baseline: {'; '.join(f'{n // 1000}k: {fmt(g, 1)} MB' for n, g in growth.items())}; "
        f"peak({hi // 1000}k) - peak({lo // 1000}k): {fmt(between, 1)} MB; with "
        + ", ".join(f"{k} answers {fmt(v, 1)} MB" for k, v in spans.items() if k != "plain")
        + f"; worst growth of any shape {fmt(worst, 1)} MB",
        worst is not None
        and worst < D_GROWTH_MB
        and between is not None
        and all(v < D_GROWTH_MB for v in [between, *spans.values()]),
    )
