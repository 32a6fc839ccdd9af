"""The regime sections of ``docs/benchmarks.md`` (A, B, C, D and the profiles), rendered from :mod:`results`."""

from __future__ import annotations

from harness import MAIN_DAYS, REAL_BUDGET, REAL_WINDOW, VARIANT_TEXT
from profiles import CATEGORIES
from regime_a_cost import A_RECORDS_PER_POINT
from regime_d_memory import D_GROWTH_MB
from report_format import fmt, pct, table, yes
from results import Budget, BudgetRow, Memory, Profile, Results

BUDGET_HEADER = [
    "records",
    "client",
    "minutes",
    "records/min",
    "points",
    "points/min (of 600)",
    "budget used",
    "429s",
    "failed",
    "connections",
    "task CPU (cores)",
    "pacer waits (longest)",
]


def cost_section(results: Results) -> str:
    """Regime A: records per point, and where our points go."""
    cost_rows, overhead_rows = [], []
    for r in results.cost_cpu:
        met = yes(r.cost_met) if r.variant in ("ours", "ours-4mapped") else ""
        cost_rows.append([f"{r.size:,}", VARIANT_TEXT[r.variant], fmt(r.points), fmt(r.records_per_point, 1), met])
        if r.variant in ("ours", "ours-4mapped", "ours-daywin"):
            b = r.breakdown
            overhead_rows.append(
                [
                    f"{r.size:,}",
                    VARIANT_TEXT[r.variant],
                    str(b.windows),
                    str(b.floor),
                    f"+{b.granularity}",
                    f"+{b.overhead}",
                    f"{b.pages} ({b.points} points charged)",
                ]
            )
    return (
        "## A. Cost: records per rate-limit point\n\n"
        f"The records spread over {MAIN_DAYS} days; every client copies all of them. Points are the fake "
        "API's own accounting (`stats.total_cost`: 1 per page up to page 100, then 3, 8, 10, 30), from the "
        "runs of regime C.\n\n"
        + table(["records", "client", "points", "records/point", f">= {A_RECORDS_PER_POINT}"], cost_rows)
        + "\n\n**Where our points go** (first run; requests counted by each task's hook): the floor is "
        "`ceil(records / 100)`. Each task reads its range once, whatever its number of windows, and its "
        "read ends on a partial page: *+ task ranges* is what the 4 mapped tasks' 4 reads cost over one "
        "read. Requests beyond that are *paging overhead*: a record shared by two chunks of 10,000 (a chunk "
        "reads at most 100 numbered pages), pages thrown away by the checks, retries.\n\n"
        + table(
            ["records", "client", "windows", "floor", "+ task ranges", "+ paging overhead", "= requests"],
            overhead_rows,
        )
    )


def cpu_section(results: Results) -> str:
    """Regime C: records/s, CPU, the machine's load."""
    rows = [
        [
            f"{r.size:,}",
            VARIANT_TEXT[r.variant],
            fmt(r.seconds, 2),
            fmt(r.rate),
            fmt(r.vs_raw, 2, "x"),
            fmt(r.vs_handwritten, 2, "x"),
            fmt(r.cpu, 2),
            fmt(r.cpu_per_1k),
            fmt(r.server_cpu, 2),
            pct(r.busy, 0),
        ]
        for r in results.cost_cpu
    ]
    header = ["records", "client", "seconds", "records/s", "vs raw", "vs hand-written", "task CPU s"]
    header += ["task CPU ms / 1k rec", "API CPU s", "machine busy"]
    return (
        "## C. Our own CPU cost\n\n"
        "Loopback, no latency, no budget. *Seconds* is the wall time of the task itself, from the common "
        "start to the end of `execute()` (ours) or of the task function: task processes are forked from a "
        "server that has Airflow, boto3 and requests imported (as Airflow 3 forks task processes from its "
        "supervisor), so interpreter start-up and imports are not counted; creating the S3 client is, for "
        "every client. The 4 mapped tasks run as 4 processes at once. *Task CPU* is user+system time of the "
        "task process(es) over the run; *API CPU* is the fake API's (the benchmark driver process); "
        "*machine busy* is the share of both cores in use during the run (moto and any other load "
        "included).\n\n" + table(header, rows)
    )


def _budget_row(r: BudgetRow) -> list[str]:
    return [
        r.size,
        r.client,
        fmt(r.minutes, 2),
        fmt(r.records_per_minute),
        fmt(r.points),
        pct(r.budget_per_minute, 0),
        pct(r.budget_used) if r.budget_used is not None else "n/a (1 window)",
        pct(r.share_429, 2),
        str(r.failed),
        fmt(r.connections),
        fmt(r.task_cores, 2),
        f"{fmt(r.pacer_waits)} (max {fmt(r.longest_wait, 1, ' s')})",
    ]


def budget_section(b: Budget, runs: int) -> str:
    """Regime B: the served shape, the main runs, the budget-bound runs."""
    runs_header = [f"run {i + 1}" for i in range(runs)]
    same = abs(b.window * b.speed - REAL_WINDOW) < 1e-6 and b.budget == REAL_BUDGET
    top = (
        f"\n\nAt {b.top:,} records our operator moves {fmt(b.vs, 1, 'x')} (1 task) and {fmt(b.vs_4mapped, 1, 'x')} "
        "(4 mapped tasks) the hand-written way's records per minute. Points charged per window at "
        f"{b.top:,} records, run by run:\n\n" + table(["client", *runs_header], b.top_windows)
        if b.top
        else ""
    )
    return (
        "## B. The real API's shape\n\n"
        f"The fake API answers every page after {b.latency * 1000:g} ms and allows {b.budget} points "
        f"per {b.window:g} s window per token, with the real deep-page costs and no `Retry-After`: the "
        f"real API (~150 ms a page, 600 points per 60 s) with time running {b.speed:g}x faster"
        + (
            ", nothing else changed"
            if same
            else f" and a {b.window * b.speed:g} s (real time) window of {b.budget} points"
        )
        + f". So {b.real_minute:g} s here are one real-API minute, and the budget rate times the latency "
        f"(requests that must be in flight to spend the budget) is "
        f"{b.budget / b.window * b.latency:.2g}, as on the real API (10 points/s x 150 ms = 1.5): a "
        "sequential client cannot spend the budget. Windows of 10 s or more also keep the package's real "
        "code paths (the pacer and the retry policy locate the window with the `Date` header only for "
        "windows >= 10 s). Why not 10x (600 points per 6 s, 15 ms): a task's own CPU per page (~10 ms, "
        "see C) does not speed up with the clock, so one task would need a whole core to keep pace and the "
        "run would measure this 2-core machine, not the pacing.\n\n"
        "*Minutes* and *records/min* are in real-API minutes "
        f"({b.real_minute:g} s here). Our connection: `budget_per_minute` {b.budget}, "
        f"`rate_limit_window_seconds` {b.window:g}, `max_concurrency` 4 (the default); hourly "
        "windows. The hand-written task waits for the next window on a 429. A run that may need more than "
        "half a window's budget starts on a window boundary; every run starts with the budget unspent. "
        "*Budget used* is the points charged in the "
        "windows that lie wholly inside the run over their budget; a run that ends inside its first window "
        "is not budget-bound (n/a). *Points/min* is over the whole run; it can pass 100 % because a run "
        "spends its last window's points at the start of that window. "
        "*Connections*: most connections open at once at the fake API (concurrency). *Task CPU*: task "
        "CPU seconds per wall second. *Pacer waits*: times our pacer held requests back for the next "
        "window (from the task log).\n\n"
        + table(BUDGET_HEADER, [_budget_row(r) for r in b.rows])
        + top
        + f"\n\n### Budget-bound runs and `budget_share` (a day of {b.bound_records:,} records)\n\n"
        f"The ranges above cost our operator at most {b.most_points:,} points, less than one "
        f"window's budget, so they are not budget-bound. Here the range takes about "
        f"{b.bound_windows:g} windows of budget. `budget_share` (connection "
        "extra, documented in the connection and hook docs) caps what one task's pacer spends per window; "
        "the docs say to divide it by the number of tasks that run at once (the 0.125 x 4 row).\n\n"
        + table(BUDGET_HEADER, [_budget_row(r) for r in b.bound_rows])
        + "\n\nPoints charged per window, run by run (the run ends in the last one):\n\n"
        + table(["run", *runs_header], [[item.text, *item.window_text] for item in b.bound.values()])
    )


def memory_section(m: Memory, trace: dict | None) -> str:
    """Regime D: peak RSS by window size."""
    rows = [
        [f"{r.size:,}", VARIANT_TEXT[r.variant], fmt(r.baseline), fmt(r.peak), fmt(r.growth), fmt(r.seconds, 2)]
        for r in m.rows
    ]
    return (
        "## D. Memory\n\n"
        "Peak RSS of the task process for one window holding all records (`VmHWM` from `/proc/self/status`, "
        "reset to the current RSS just before the task starts, so it is the task's own peak): "
        "our operator with `window_size` one day over one day. Each task runs in a fresh interpreter "
        "(`python benchmarks/tasks.py child ...`). The baseline is the process's RSS just before the "
        "timed task, after its imports and (ours) a warm-up `execute()` on an empty range, so the clients "
        "are loaded; growth = peak - baseline. The hand-written task and the raw loop are shown for "
        "context: they hold the whole range in memory.\n\n"
        + table(["window records", "client", "baseline MB", "peak MB", "growth MB", "seconds"], rows)
        + f"\n\nOur task's peak at {m.high:,} records minus its peak at {m.low:,}: {fmt(m.between, 1)} MB."
        + _trace_section(trace)
    )


def _trace_section(trace: dict | None) -> str:
    if not trace:
        return ""
    rows = [
        [fmt(t["mb"], 1), str(t["blocks"]), "<br>".join(f"`{w}`" for w in reversed(t["where"]))]
        for t in trace.get("top", [])
    ]
    return (
        f"\n\nThe growth is over {D_GROWTH_MB:g} MB, so one more {trace['records']:,}-record run ran under "
        f"`tracemalloc` (Python allocations only; it slows the task down): traced peak "
        f"{fmt(trace.get('peak_mb'), 1)} MB. What was allocated at the sampled peak "
        f"({fmt(trace.get('sampled_mb'), 1)} MB), largest first (allocation site first, then its callers):\n\n"
        + table(["MB", "blocks", "where"], rows)
    )


def profile_section(p: Profile | None) -> str:
    """The cProfile runs of regime C, if any."""
    if p is None or not p.categories:
        return ""
    variants = list(p.categories)
    cats = [c for c, _ in CATEGORIES] + ["other", "total"]
    rows = [[c, *(fmt(p.categories[v].get(c, 0.0), 2) for v in variants)] for c in cats]
    parts = [
        f"## Profiles (regime C, {p.size:,} records)\n",
        "cProfile of one extra run per client (wall-clock timer, so waiting for a server shows as socket "
        "time; our operator with `max_concurrency=1` and windows published inline, so that the whole task "
        "runs on the profiled thread; profiling slows everything down: compare shares, not seconds). Own time (`tottime`) "
        "grouped by where it is spent; raw files in `.bench/profiles/`.\n",
        table(["seconds in", *(VARIANT_TEXT[v] for v in variants)], rows),
    ]
    for v in variants:
        stages = p.stages[v]
        total = stages[0][2]
        parts.append(
            f"\n**{VARIANT_TEXT[v]}**: time by stage (cumulative; indented stages are part of the one above)"
            "\n\n"
            + table(
                ["stage", "calls", "seconds", "share"],
                [[name, str(n), fmt(sec, 2), pct(sec / total if total else None, 0)] for name, n, sec in stages],
            )
            + "\n\nTop functions by own time:\n\n"
            + table(["own s", "calls", "function"], p.top[v])
        )
    return "\n".join(parts)
