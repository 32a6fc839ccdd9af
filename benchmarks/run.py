"""``make bench``: our operator vs the hand-written HttpHook task vs a raw loop, on loopback.

Runs four regimes against one fake Conversations API (in this process, so its accounting is read
directly) and one moto S3 server (a child process); every task runs in its own process:

A. Cost: records per rate-limit point, from the fake API's accounting.
B. The real API's shape, sped up: server latency, a per-window point budget with the real deep-page
   costs, no Retry-After. Records per minute, share of the budget used, 429s, failed tasks; a
   budget-bound range; the ``budget_share`` setting.
C. Our CPU cost: no latency, no budget; records/s of the task itself.
D. Memory: peak RSS of the task process for a 10k- and a 200k-record window.

Figures are medians over ``--runs`` runs (variants interleaved, so drifting load hits all alike);
ratios are taken within one invocation. Writes ``docs/benchmarks.md`` and prints the targets met.

    .venv/bin/python benchmarks/run.py                 # everything (what make bench runs)
    .venv/bin/python benchmarks/run.py --quick         # small sizes, one run (development)
    .venv/bin/python benchmarks/run.py --regimes C D   # some regimes only
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import platform
import pstats
import re
import shlex
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    AWS_KEYS,
    BUCKET,
    ROOT,
    TOKEN,
    WORK_DIR,
    Endpoints,
    GroupResult,
    Spec,
    machine,
    median,
    ratio,
    recording_api_class,
    run_group,
)

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MAIN_DAYS = 4  # regimes A, B, C: the records spread over 4 days; a backfill maps one task per day

# The real API: ~150 ms per page, 600 points per 60 s window per team, no Retry-After.
REAL_LATENCY, REAL_WINDOW, REAL_BUDGET = 0.150, 60.0, 600

# Targets of the issue.
A_RECORDS_PER_POINT = 99
B_BUDGET_USED = 0.95
B_MAX_429 = 0.01
B_VS_HANDWRITTEN = 6.0
C_VS_RAW = 0.8
C_VS_HANDWRITTEN = 1.0
D_GROWTH_MB = 30.0
SHARE_TOLERANCE = 0.02  # of the team budget, on top of the share

VARIANT_TEXT = {
    "ours": "our operator, 1 task",
    "ours-4mapped": "our operator, 4 mapped tasks",
    "ours-daywin": "our operator, 1 task, window_size=1 day",
    "handwritten": "hand-written (HttpHook pages)",
    "raw": "raw loop (requests + boto3)",
}
WAIT_RE = re.compile(r"budget spent for this minute; waiting ([0-9.]+)s")
RETRY_RE = re.compile(r"Request failed \(.*?retry \d+/\d+ in ([0-9.]+)s")


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{suffix}"


def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def yes(met: bool | None) -> str:
    return "n/a" if met is None else ("**yes**" if met else "**NO**")


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def log(message: str) -> None:
    print(message, flush=True)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def datetime_of(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Bench:
    """One invocation: servers, runs, targets, report sections."""

    def __init__(self, args: argparse.Namespace, s3: str) -> None:
        self.args = args
        self.s3 = s3
        self.api_class = recording_api_class()
        self.targets: list[tuple[str, str, str, bool | None]] = []
        self.sections: dict[str, str] = {}
        self.notes: list[str] = []
        self.datasets: list[str] = []
        self.profiles: dict[str, str] = {}
        self.stage_results: dict[str, list[tuple[str, int, float]]] = {}
        self.profile_summaries: dict[str, tuple[dict[str, float], list[list[str]]]] = {}
        # Regime B: the rate-limit window and its budget as served, and the latency.
        self.window, self.budget, self.latency = args.b_window, args.b_budget, args.b_latency
        self.speed = REAL_LATENCY / self.latency  # how much faster than the real API time runs
        self.real_minute = REAL_WINDOW / self.speed  # one real-API minute, in seconds here
        self.data: dict[str, Any] = {"A": {}, "C": {}, "Bbound": {}, "D": {}}  # for the analysis
        self.b_rows: list[list[str]] = []
        # Profiles at the middle size: the shares are the same, the runs much shorter.
        self.profile_size = sorted(args.sizes)[len(args.sizes) // 2] if args.profile_size is None else args.profile_size
        self.b_ours_429: list[float] = []
        self.b_ours_failed = 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("api_class", None)  # a class made at run time: not picklable, not needed to render
        return state

    # -- infrastructure ---------------------------------------------------------------------------
    def server(self, records: int, days: float) -> Any:
        from airflow_provider_conversations.testing import generate_conversations

        t0 = time.monotonic()
        data = generate_conversations(records, seed=0, start=START, end=START + timedelta(days=days))
        api = self.api_class(data, token=TOKEN, seed=0, rate_limit_per_minute=10**9)
        del data
        api.start()
        log(f"fake API: {records:,} records over {days:g} day(s), ready in {time.monotonic() - t0:.1f}s")
        self.datasets.append(f"--records {records} --days {days:g} --start {START.date()} --seed 0 --token {TOKEN}")
        return api

    def unlimited(self, api: Any) -> None:
        api.configure(rate_limit=10**9, minute_seconds=60.0, latency=0.0, retry_after=True)

    def real_shape(self, api: Any) -> None:
        api.configure(rate_limit=self.budget, minute_seconds=self.window, latency=self.latency, retry_after=False)

    def conn_extra(self, **overrides: Any) -> dict[str, Any]:
        """Our connection's extras in regime B: the served window and budget, default concurrency."""
        extra: dict[str, Any] = {
            "budget_per_minute": self.budget,
            "rate_limit_window_seconds": self.window,
            "max_concurrency": 4,
        }
        extra.update(overrides)
        return extra

    def specs(
        self,
        variant: str,
        gte: datetime,
        lt: datetime,
        *,
        conn_extra: dict[str, Any] | None = None,
        limited: bool = False,
        options: dict[str, Any] | None = None,
    ) -> list[Spec]:
        """The task(s) of one variant over ``[gte, lt)``; 4 mapped tasks get a quarter each."""
        from airflow_provider_conversations.windows import split_range

        opts = dict(options or {})
        if limited:
            opts["minute_seconds"] = self.window  # the baselines wait for the next window on a 429
        extra = conn_extra if conn_extra is not None else {"budget_per_minute": 10**9}
        if variant == "ours-daywin":
            opts["window_seconds"] = 86400
        if variant == "ours-4mapped":
            chunk = (lt - gte) / 4
            ranges = split_range(gte, lt, chunk_size=chunk, window_size=min(HOUR, chunk))
            return [Spec("ours", r["created_at_gte"], r["created_at_lt"], variant, extra, dict(opts)) for r in ranges]
        return [Spec(variant.split("-")[0], iso(gte), iso(lt), variant, extra, opts)]

    def run(
        self, api: Any, label: str, specs: list[Spec], *, align: float | None = None, fresh: bool = False
    ) -> GroupResult:
        group = run_group(specs, Endpoints(api.url, self.s3, BUCKET), api, label=label, align=align, fresh=fresh)
        group.expected = sum(len(api.ids_in_range(datetime_of(s.gte), datetime_of(s.lt))) for s in specs)
        waits: list[float] = []
        retry_waits: list[float] = []
        for n in range(len(specs)):
            text = (WORK_DIR / "logs" / f"{label}-{n}.log").read_text(errors="replace")
            waits += [float(w) for w in WAIT_RE.findall(text)]
            retry_waits += [float(w) for w in RETRY_RE.findall(text)]
        group.pacer_waits, group.retry_waits = waits, retry_waits  # type: ignore[attr-defined]
        group.retries = len(retry_waits)  # type: ignore[attr-defined]
        ok = not group.failed and group.records == group.expected
        log(
            f"  {label:<30} {group.records:>8,} rec {group.elapsed:7.2f}s {group.points:>5} pts "
            f"{group.throttled:>3} x429 cpu {group.cpu:5.2f}s srv {group.server_cpu:5.2f}s "
            f"busy {group.machine_busy:4.0%} {'ok' if ok else 'FAILED/INCOMPLETE'}"
        )
        if not ok:
            errors = "; ".join(r.get("error", "?") for r in group.results if not r.get("ok"))
            self.notes.append(
                f"Run `{label}`: {group.failed} failed task(s), {group.records:,} of {group.expected:,} records. "
                f"{errors} (log: `.bench/logs/{label}-*.log`)"
            )
        return group

    def repeat(
        self,
        api: Any,
        label: str,
        variants: dict[str, Callable[[], list[Spec]]],
        *,
        align: float | dict[str, float | None] | None = None,
        fresh: bool = False,
    ) -> dict[str, list[GroupResult]]:
        """Run every variant ``--runs`` times, interleaved (``align``: one value, or one per variant)."""
        out: dict[str, list[GroupResult]] = defaultdict(list)
        for rep in range(self.args.runs):
            for variant, make in variants.items():
                al = align.get(variant) if isinstance(align, dict) else align
                out[variant].append(self.run(api, f"{label}-{variant}-{rep + 1}", make(), align=al, fresh=fresh))
        return out

    def target(self, regime: str, text: str, measured: str, met: bool | None) -> None:
        self.targets.append((regime, text, measured, met))

    def budget_used(self, group: GroupResult) -> float | None:
        """Points in the run's complete windows over their budget; ``None`` if it ended in its first window."""
        full = group.full_windows()
        return sum(full) / (self.budget * len(full)) if full else None

    def per_minute(self, group: GroupResult, value: float) -> float:
        """``value`` per real-API minute of this run."""
        return value / (group.elapsed / self.real_minute)

    # -- A + C: no latency, no budget -------------------------------------------------------------
    def run_ac(self, api: Any, n: int, profile: bool) -> dict[str, list[GroupResult]]:
        gte, lt = START, START + MAIN_DAYS * DAY
        self.unlimited(api)
        log(f"A+C: {n:,} records, no latency, no budget")
        variants = {v: (lambda v=v: self.specs(v, gte, lt)) for v in VARIANT_TEXT}
        res = self.repeat(api, f"C{n // 1000}k", variants)
        if profile:
            self.profile_c(api, gte, lt)
        return res

    def finish_ac(self, results: dict[int, dict[str, list[GroupResult]]]) -> None:
        cost_rows, cpu_rows, overhead_rows = [], [], []
        a_met, a_text, m_met, m_text = [], [], [], []
        c_raw: list[tuple[int, float | None]] = []
        c_hand: list[tuple[int, float | None]] = []
        c_raw_day: list[tuple[int, float | None]] = []
        c_hand_day: list[tuple[int, float | None]] = []
        for n, res in results.items():
            rate = {v: median(g.records / g.elapsed for g in gs) for v, gs in res.items()}
            self.data["C"][n] = {
                v: {"rate": rate[v], "cpu_per_1k": median(1e6 * g.cpu / g.records for g in gs if g.records)}
                for v, gs in res.items()
            }
            self.data["A"][n] = {
                v: {
                    "rpp": median(g.records / g.points for g in gs if g.points),
                    "points": median(g.points for g in gs),
                    "break": breakdown(gs[0]),
                }
                for v, gs in res.items()
            }
            for v, gs in res.items():
                rpp = median(g.records / g.points for g in gs if g.points)
                ok = rpp is not None and rpp >= A_RECORDS_PER_POINT
                if v == "ours":
                    a_met.append(ok)
                    a_text.append(f"{n // 1000}k: {fmt(rpp, 1)}")
                if v == "ours-4mapped":
                    b = breakdown(gs[0])
                    reads_floor = b["floor"] + b["granularity"]
                    m_met.append(b["pages"] <= reads_floor * 1.01 + 1)
                    m_text.append(
                        f"{n // 1000}k: {b['pages']} for a floor of {reads_floor} ({fmt(rpp, 1)} records/point)"
                    )
                cost_rows.append(
                    [
                        f"{n:,}",
                        VARIANT_TEXT[v],
                        fmt(median(g.points for g in gs)),
                        fmt(rpp, 1),
                        yes(ok) if v in ("ours", "ours-4mapped") else "",
                    ]
                )
                if v in ("ours", "ours-4mapped", "ours-daywin"):
                    overhead_rows.append([f"{n:,}", VARIANT_TEXT[v], *points_breakdown(gs[0])])
                cpu_rows.append(
                    [
                        f"{n:,}",
                        VARIANT_TEXT[v],
                        fmt(median(g.elapsed for g in gs), 2),
                        fmt(rate[v]),
                        fmt(ratio(rate[v], rate["raw"]), 2, "x"),
                        fmt(ratio(rate[v], rate["handwritten"]), 2, "x"),
                        fmt(median(g.cpu for g in gs), 2),
                        fmt(median(1e6 * g.cpu / g.records for g in gs if g.records)),
                        fmt(median(g.server_cpu for g in gs), 2),
                        pct(median(g.machine_busy for g in gs), 0),
                    ]
                )
            c_raw.append((n, ratio(rate["ours"], rate["raw"])))
            c_hand.append((n, ratio(rate["ours"], rate["handwritten"])))
            if "ours-daywin" in rate:
                c_raw_day.append((n, ratio(rate["ours-daywin"], rate["raw"])))
                c_hand_day.append((n, ratio(rate["ours-daywin"], rate["handwritten"])))
        self.target(
            "A",
            f"records per rate-limit point >= {A_RECORDS_PER_POINT}, our operator (1 task) at every size",
            ", ".join(a_text),
            all(a_met),
        )
        if m_text:
            self.target(
                "A",
                "4 mapped tasks: requests <= the floor of 4 separate reads, sum of ceil(task records / 100), "
                "+1 % (no paging overhead)",
                ", ".join(m_text),
                all(m_met),
            )
        for label, rows, limit, whom in (
            ("1 task, default hourly windows (2 S3 objects per window: 192 over 4 days)", c_raw, C_VS_RAW, "raw loop"),
            ("1 task, default hourly windows", c_hand, C_VS_HANDWRITTEN, "hand-written way"),
            (
                "1 task, `window_size=1 day` (one data object per day, as the baselines write)",
                c_raw_day,
                C_VS_RAW,
                "raw loop",
            ),
            ("1 task, `window_size=1 day`", c_hand_day, C_VS_HANDWRITTEN, "hand-written way"),
        ):
            if rows:
                self.target(
                    "C",
                    f"records/s >= {limit}x the {whom}'s (our operator, {label})",
                    ", ".join(f"{n // 1000}k: {fmt(x, 2, 'x')}" for n, x in rows),
                    all(x is not None and x >= limit for _, x in rows),
                )
        self.sections["A"] = (
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
        self.sections["C"] = (
            "## C. Our own CPU cost\n\n"
            "Loopback, no latency, no budget. *Seconds* is the wall time of the task itself, from the common "
            "start to the end of `execute()` (ours) or of the task function: task processes are forked from a "
            "server that has Airflow, boto3 and requests imported (as Airflow 3 forks task processes from its "
            "supervisor), so interpreter start-up and imports are not counted; creating the S3 client is, for "
            "every client. The 4 mapped tasks run as 4 processes at once. *Task CPU* is user+system time of the "
            "task process(es) over the run; *API CPU* is the fake API's (the benchmark driver process); "
            "*machine busy* is the share of both cores in use during the run (moto and any other load "
            "included).\n\n"
            + table(
                [
                    "records",
                    "client",
                    "seconds",
                    "records/s",
                    "vs raw",
                    "vs hand-written",
                    "task CPU s",
                    "task CPU ms / 1k rec",
                    "API CPU s",
                    "machine busy",
                ],
                cpu_rows,
            )
        )

    def profile_c(self, api: Any, gte: datetime, lt: datetime) -> None:
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
            self.run(api, f"profile-{variant}", self.specs(variant, gte, lt, options={**opts, "profile": str(path)}))
            self.profiles[variant] = str(path)
            self.stage_results[variant] = stage_times(str(path), STAGES["ours" if "ours" in variant else variant])
            self.profile_summaries[variant] = summarize_profile(str(path))

    # -- B: the real API's shape ------------------------------------------------------------------
    def b_row(self, size: str, text: str, gs: list[GroupResult]) -> list[str]:
        used = median(self.budget_used(g) for g in gs)
        waits = median(len(g.pacer_waits) for g in gs)  # type: ignore[attr-defined]
        longest = max((w for g in gs for w in g.pacer_waits), default=None)  # type: ignore[attr-defined]
        return [
            size,
            text,
            fmt(median(g.elapsed / self.real_minute for g in gs), 2),
            fmt(median(self.per_minute(g, g.records) for g in gs)),
            fmt(median(g.points for g in gs)),
            pct(median(self.per_minute(g, g.points) / REAL_BUDGET for g in gs), 0),
            pct(used) if used is not None else "n/a (1 window)",
            pct(median(g.throttled / g.requests for g in gs if g.requests), 2),
            str(sum(g.failed for g in gs)),
            fmt(median(g.max_open_connections for g in gs)),
            fmt(median(g.cpu / g.elapsed for g in gs), 2),
            f"{fmt(waits)} (max {fmt(longest, 1, ' s')})",
        ]

    B_HEADER = [
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

    def run_b(self, api: Any, n: int) -> dict[str, list[GroupResult]]:
        gte, lt = START, START + MAIN_DAYS * DAY
        self.real_shape(api)
        log(f"B: {n:,} records; {self.latency * 1000:g} ms; {self.budget} points per {self.window:g} s")
        variants = {
            v: (lambda v=v: self.specs(v, gte, lt, conn_extra=self.conn_extra(), limited=True))
            for v in ("ours", "ours-4mapped", "ours-daywin", "handwritten")
        }
        # Start on a window boundary when a run may need more than half a window's budget (points
        # known from regime A on the same data, else estimated); else at once, on a fresh budget.
        align = {}
        for v in variants:
            points = (self.data["A"].get(n, {}).get(v) or {}).get("points") or n / 90
            align[v] = self.window if points > self.budget / 2 else None
        return self.repeat(api, f"B{n // 1000}k", variants, align=align)

    def finish_b(self, results: dict[int, dict[str, list[GroupResult]]]) -> None:
        per_min: dict[int, dict[str, float | None]] = {}
        for n, res in results.items():
            per_min[n] = {v: median(self.per_minute(g, g.records) for g in gs) for v, gs in res.items()}
            for v, gs in res.items():
                self.b_rows.append(self.b_row(f"{n:,}", VARIANT_TEXT[v], gs))
                if v.startswith("ours"):
                    self.b_ours_429 += [g.throttled / g.requests for g in gs if g.requests]
                    self.b_ours_failed += sum(g.failed for g in gs)
        top = max(results)
        self.b_top_windows = [
            [
                VARIANT_TEXT[v],
                *(
                    ", ".join(map(str, g.window_points()))
                    + f" ({g.throttled} x 429, {len(g.pacer_waits)} pacer waits, {g.elapsed:.1f} s)"  # type: ignore[attr-defined]
                    for g in gs
                ),
            ]
            for v, gs in results[top].items()
        ]
        vs = ratio(per_min[top]["ours"], per_min[top]["handwritten"])
        vs4 = ratio(per_min[top]["ours-4mapped"], per_min[top]["handwritten"])
        self.b_vs = (top, vs, vs4)
        self.b_vs_day = ratio(per_min[top].get("ours-daywin"), per_min[top]["handwritten"])
        self.target(
            "B",
            f"records per minute >= {B_VS_HANDWRITTEN:g}x the hand-written way's at {top:,} records (1 task; 4 mapped)",
            f"{fmt(vs, 1, 'x')}; {fmt(vs4, 1, 'x')}",
            vs is not None and vs >= B_VS_HANDWRITTEN and vs4 is not None and vs4 >= B_VS_HANDWRITTEN,
        )

    def run_b_bound(self, api: Any, records: int) -> tuple[dict[str, list[GroupResult]], dict[str, str]]:
        """Budget-bound: a range that takes a few windows' budget; and the budget_share setting."""
        # Hours of the day (split 4 ways, and halved for the share runs split 4 ways again) whose points
        # take about --bound-windows windows of budget: points ~ records/99 + one page per hourly window.
        per_hour = records / 24 / 99 + 1
        hours = min((8, 16, 24), key=lambda h: abs(h * per_hour - self.args.bound_windows * self.budget))
        # The share runs: about 1.2 windows of the capped budget (the cap must hold in every window).
        share_hours = min((4, 8, 12), key=lambda h: abs(h * per_hour - 1.2 * 0.5 * self.budget))
        full, half = (START, START + hours * HOUR), (START, START + share_hours * HOUR)
        ex = self.conn_extra
        variants: dict[str, Callable[[], list[Spec]]] = {
            "ours": lambda: self.specs("ours", *full, conn_extra=ex(), limited=True),
            "ours-4mapped": lambda: self.specs("ours-4mapped", *full, conn_extra=ex(), limited=True),
            "share-0.5": lambda: self.specs("ours", *half, conn_extra=ex(budget_share=0.5), limited=True),
            "share-0.125x4": lambda: self.specs("ours-4mapped", *half, conn_extra=ex(budget_share=0.125), limited=True),
        }
        if not self.args.share_mapped:
            variants.pop("share-0.125x4")
        self.real_shape(api)
        log(f"B, budget-bound: the first {hours} h of a day of {records:,} records")
        res = self.repeat(api, f"Bbound{records // 1000}k", variants, align=self.window)
        text = {
            "ours": f"our operator, 1 task, {hours} h",
            "ours-4mapped": f"our operator, 4 mapped tasks ({hours // 4} h each)",
            "share-0.5": f"1 task, `budget_share=0.5`, {share_hours} h",
            "share-0.125x4": f"4 mapped tasks, `budget_share=0.125` each, {share_hours} h",
        }
        return res, text

    def finish_b_bound(self, res: dict[str, list[GroupResult]], text: dict[str, str], records: int) -> None:
        most = max(
            (item.get("points") or 0 for n in self.data["A"].values() for v, item in n.items() if v.startswith("ours")),
            default=0,
        )
        cap = {"share-0.5": 0.5, "share-0.125x4": 0.5}
        rows, window_rows = [], []
        for v, gs in res.items():
            rows.append(self.b_row(f"{median(g.records for g in gs):,.0f}", text[v], gs))
            windows = [w for g in gs for w in g.full_windows()]
            used = median(self.budget_used(g) for g in gs)
            peak = max(windows) / self.budget if windows else None
            if v in cap:  # a cap must hold in every window, partial ones too
                peak = max((w for g in gs for w in g.window_points()), default=0) / self.budget
            rates = [g.throttled / g.requests for g in gs if g.requests]
            failed = sum(g.failed for g in gs)
            window_rows.append(
                [text[v]]
                + [
                    ", ".join(str(w) for w in g.window_points()) + f" ({g.throttled} x 429, {g.retries} retries)"  # type: ignore[attr-defined]
                    for g in gs
                ]
            )
            self.data["Bbound"][v] = {
                "text": text[v],
                "used": used,
                "peak": peak,
                "cap": cap.get(v),
                "windows": [g.window_points() for g in gs],
                "throttled": [g.throttled for g in gs],
                "requests": [g.requests for g in gs],
                "longest_wait": max((w for g in gs for w in g.pacer_waits), default=None),  # type: ignore[attr-defined]
                "retries": [g.retries for g in gs],  # type: ignore[attr-defined]
                "retry_waits": [w for g in gs for w in g.retry_waits],  # type: ignore[attr-defined]
            }
            if v in ("ours", "ours-4mapped"):
                who = "1 task" if v == "ours" else "4 mapped tasks together"
                self.target(
                    "B",
                    f"budget-bound, {who}: >= {B_BUDGET_USED:.0%} of the budget used",
                    f"{pct(used)} (median of runs; windows {pct(min(windows) / self.budget if windows else None, 0)}"
                    f"-{pct(peak, 0)})",
                    used is not None and used >= B_BUDGET_USED,
                )
                self.target(
                    "B",
                    f"budget-bound, {who}: <= {B_MAX_429:.0%} of requests answered 429; 0 failed tasks",
                    f"worst run {pct(max(rates) if rates else None, 2)}; {failed} failed",
                    bool(rates) and max(rates) <= B_MAX_429 and failed == 0,
                )
                self.b_ours_429 += rates
                self.b_ours_failed += failed
            if v in cap:
                self.target(
                    "B",
                    f"{text[v]}: points per window <= {cap[v]:.0%} of the budget (+{SHARE_TOLERANCE:.0%} tolerance)",
                    f"worst window {pct(peak)}; {failed} failed",
                    None if peak is None else peak <= cap[v] + SHARE_TOLERANCE and failed == 0,
                )
        self.target(
            "B",
            f"every run of our operator in B: <= {B_MAX_429:.0%} 429s, 0 failed tasks",
            f"worst run {pct(max(self.b_ours_429) if self.b_ours_429 else None, 2)}; {self.b_ours_failed} failed",
            bool(self.b_ours_429) and max(self.b_ours_429) <= B_MAX_429 and self.b_ours_failed == 0,
        )
        top, vs, vs4 = getattr(self, "b_vs", (None, None, None))
        self.sections["B"] = (
            "## B. The real API's shape\n\n"
            f"The fake API answers every page after {self.latency * 1000:g} ms and allows {self.budget} points "
            f"per {self.window:g} s window per token, with the real deep-page costs and no `Retry-After`: the "
            f"real API (~150 ms a page, 600 points per 60 s) with time running {self.speed:g}x faster"
            + (
                ", nothing else changed"
                if abs(self.window * self.speed - REAL_WINDOW) < 1e-6 and self.budget == REAL_BUDGET
                else f" and a {self.window * self.speed:g} s (real time) window of {self.budget} points"
            )
            + f". So {self.real_minute:g} s here are one real-API minute, and the budget rate times the latency "
            f"(requests that must be in flight to spend the budget) is "
            f"{self.budget / self.window * self.latency:.2g}, as on the real API (10 points/s x 150 ms = 1.5): a "
            "sequential client cannot spend the budget. Windows of 10 s or more also keep the package's real "
            "code paths (the pacer and the retry policy locate the window with the `Date` header only for "
            "windows >= 10 s). Why not 10x (600 points per 6 s, 15 ms): a task's own CPU per page (~10 ms, "
            "see C) does not speed up with the clock, so one task would need a whole core to keep pace and the "
            "run would measure this 2-core machine, not the pacing.\n\n"
            "*Minutes* and *records/min* are in real-API minutes "
            f"({self.real_minute:g} s here). Our connection: `budget_per_minute` {self.budget}, "
            f"`rate_limit_window_seconds` {self.window:g}, `max_concurrency` 4 (the default); default hourly "
            "windows. The hand-written task waits for the next window on a 429. A run that may need more than "
            "half a window's budget starts on a window boundary; every run starts with the budget unspent. "
            "*Budget used* is the points charged in the "
            "windows that lie wholly inside the run over their budget; a run that ends inside its first window "
            "is not budget-bound (n/a). *Points/min* is over the whole run; it can pass 100 % because a run "
            "spends its last window's points at the start of that window. "
            "*Connections*: most connections open at once at the fake API (concurrency). *Task CPU*: task "
            "CPU seconds per wall second. *Pacer waits*: times our pacer held requests back for the next "
            "window (from the task log).\n\n"
            + table(self.B_HEADER, self.b_rows)
            + (
                f"\n\nAt {top:,} records our operator moves {fmt(vs, 1, 'x')} (1 task) and {fmt(vs4, 1, 'x')} "
                "(4 mapped tasks) the hand-written way's records per minute. Points charged per window at "
                f"{top:,} records, run by run:\n\n"
                + table(["client", *(f"run {i + 1}" for i in range(self.args.runs))], self.b_top_windows)
                if top
                else ""
            )
            + f"\n\n### Budget-bound runs and `budget_share` (a day of {records:,} records)\n\n"
            f"The ranges above cost our operator at most {int(most):,} points, less than one "
            f"window's budget, so they are not budget-bound. Here the range takes about "
            f"{self.args.bound_windows:g} windows of budget. `budget_share` (connection "
            "extra, documented in the connection and hook docs) caps what one task's pacer spends per window; "
            "the docs say to divide it by the number of tasks that run at once (the 0.125 x 4 row).\n\n"
            + table(self.B_HEADER, rows)
            + "\n\nPoints charged per window, run by run (the run ends in the last one):\n\n"
            + table(["run", *(f"run {i + 1}" for i in range(self.args.runs))], window_rows)
        )

    # -- D: memory --------------------------------------------------------------------------------
    def run_d(self, api: Any, n: int) -> dict[str, list[GroupResult]]:
        day = (START, START + DAY)
        self.unlimited(api)
        log(f"D: one {n:,}-record window (fresh task processes)")
        variants: dict[str, Callable[[], list[Spec]]] = {
            "ours-daywin": lambda: self.specs("ours-daywin", *day, options={"warmup": True}),
        }
        if self.args.memory_baselines:
            variants["handwritten"] = lambda: self.specs("handwritten", *day)
            variants["raw"] = lambda: self.specs("raw", *day)
        res = self.repeat(api, f"D{n // 1000}k", variants, fresh=True)
        growth = median(r["rss_peak_mb"] - r["rss_baseline_mb"] for g in res["ours-daywin"] for r in g.results)
        if n == max(self.args.memory_records) and growth is not None and growth >= D_GROWTH_MB:
            # Over the target: one more run under tracemalloc, to see what holds the memory at the peak.
            spec = self.specs("ours-daywin", *day, options={"warmup": True, "tracemalloc": 12})
            group = self.run(api, f"D{n // 1000}k-tracemalloc", spec, fresh=True)
            self.data["D_trace"] = {"records": n, **group.results[0].get("tracemalloc", {})}
        return res

    def finish_d(self, results: dict[int, dict[str, list[GroupResult]]]) -> None:
        rows = []
        peaks: dict[int, float | None] = {}
        growth: dict[int, float | None] = {}
        sizes = sorted(results)
        for n in sizes:
            res = results[n]
            for v, gs in res.items():
                rs = [r for g in gs for r in g.results if r.get("ok")]
                peak = median(r["rss_peak_mb"] for r in rs)
                grow = median(r["rss_peak_mb"] - r["rss_baseline_mb"] for r in rs)
                if v == "ours-daywin":
                    peaks[n], growth[n] = peak, grow
                rows.append(
                    [
                        f"{n:,}",
                        VARIANT_TEXT[v],
                        fmt(median(r["rss_baseline_mb"] for r in rs)),
                        fmt(peak),
                        fmt(grow),
                        fmt(median(g.elapsed for g in gs), 2),
                    ]
                )
        lo, hi = min(sizes), max(sizes)
        between = peaks[hi] - peaks[lo] if peaks.get(hi) is not None and peaks.get(lo) is not None else None
        worst = max((g for g in growth.values() if g is not None), default=None)
        self.data["D"] = {"growth": growth, "between": between}
        self.target(
            "D",
            f"peak RSS growth < {D_GROWTH_MB:g} MB (our task, {lo // 1000}k- and {hi // 1000}k-record window)",
            f"over the task's own baseline: {'; '.join(f'{n // 1000}k: {fmt(g, 1)} MB' for n, g in growth.items())}; "
            f"peak({hi // 1000}k) - peak({lo // 1000}k): {fmt(between, 1)} MB",
            worst is not None and worst < D_GROWTH_MB and between is not None and between < D_GROWTH_MB,
        )
        self.sections["D"] = (
            "## D. Memory\n\n"
            "Peak RSS of the task process for one window holding all records (`VmHWM` from `/proc/self/status`, "
            "reset to the current RSS just before the task starts, so it is the task's own peak): "
            "our operator with `window_size` one day over one day. Each task runs in a fresh interpreter "
            "(`python benchmarks/_common.py child ...`). The baseline is the process's RSS just before the "
            "timed task, after its imports and (ours) a warm-up `execute()` on an empty range, so the clients "
            "are loaded; growth = peak - baseline. The hand-written task and the raw loop are shown for "
            "context: they hold the whole range in memory.\n\n"
            + table(["window records", "client", "baseline MB", "peak MB", "growth MB", "seconds"], rows)
            + f"\n\nOur task's peak at {hi:,} records minus its peak at {lo:,}: {fmt(between, 1)} MB."
            + self.trace_section()
        )

    def trace_section(self) -> str:
        trace = self.data.get("D_trace")
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

    # -- the whole benchmark: each data set is generated once and serves every regime that uses it --
    def run_all(self, regimes: set[str]) -> None:
        args = self.args
        res_c: dict[int, dict[str, list[GroupResult]]] = {}
        res_b: dict[int, dict[str, list[GroupResult]]] = {}
        res_d: dict[int, dict[str, list[GroupResult]]] = {}
        if regimes & {"A", "B", "C"}:
            for n in args.sizes:
                api = self.server(n, MAIN_DAYS)
                try:
                    if regimes & {"A", "C"}:
                        res_c[n] = self.run_ac(api, n, profile=args.profile and n == self.profile_size)
                    if "B" in regimes:
                        res_b[n] = self.run_b(api, n)
                finally:
                    api.stop()
        big, small = max(args.memory_records), min(args.memory_records)
        if "B" in regimes or "D" in regimes:
            bound_records = args.bound_records or big
            api = self.server(bound_records, 1)
            try:
                if "B" in regimes:
                    bound = self.run_b_bound(api, bound_records)
                if "D" in regimes and bound_records == big:
                    res_d[big] = self.run_d(api, big)
            finally:
                api.stop()
        if "D" in regimes:
            for n in (small, big):
                if n not in res_d:
                    api = self.server(n, 1)
                    try:
                        res_d[n] = self.run_d(api, n)
                    finally:
                        api.stop()
        if res_c:
            self.finish_ac(res_c)
        if res_b:
            self.finish_b(res_b)
            self.finish_b_bound(*bound, bound_records)
        if res_d:
            self.finish_d(res_d)

    # -- analysis of the misses (generated from the measurements) ---------------------------------
    def missed(self, regime: str, needle: str = "") -> bool:
        return any(r == regime and needle in t and m is False for r, t, _, m in self.targets)

    def analysis(self) -> list[str]:
        out = []
        a, c = self.data["A"], self.data["C"]
        if self.missed("A") and a:
            top = max(a)
            b = a[top]["ours"]["break"]
            line = lambda v: ", ".join(f"{n // 1000}k {fmt(a[n][v]['rpp'], 1)}" for n in sorted(a))  # noqa: E731
            out.append(
                "**A, cost.** Records per point, our operator with its default hourly windows: "
                f"{line('ours')}; with `window_size=1 day`: {line('ours-daywin')}; hand-written: "
                f"{line('handwritten')}; raw keyset loop: {line('raw')}. At {top:,} records our task's "
                f"{b['pages']} requests are the floor of {b['floor']}, +{b['granularity']} for task ranges "
                f"and +{b['overhead']} paging overhead (see the table in A)."
            )
        if (self.missed("C") or self.missed("C", "hand-written")) and c:
            top = max(c)
            line = lambda v, w: ", ".join(  # noqa: E731
                f"{n // 1000}k {fmt(ratio(c[n][v]['rate'], c[n][w]['rate']), 2, 'x')}" for n in sorted(c)
            )
            text = (
                f"**C, CPU.** Our records/s over the raw loop's, hourly windows: {line('ours', 'raw')}; with "
                f"`window_size=1 day`: {line('ours-daywin', 'raw')}. Over the hand-written way's: "
                f"{line('ours', 'handwritten')}; 1-day windows {line('ours-daywin', 'handwritten')}. Task CPU per "
                f"1k records at {top:,}: ours {fmt(c[top]['ours']['cpu_per_1k'])} ms (1-day windows "
                f"{fmt(c[top]['ours-daywin']['cpu_per_1k'])}), hand-written "
                f"{fmt(c[top]['handwritten']['cpu_per_1k'])}, raw {fmt(c[top]['raw']['cpu_per_1k'])}."
            )
            st = {k: {label: sec for label, _, sec in v} for k, v in self.stage_results.items()}
            calls = {k: {label: n for label, n, _ in v} for k, v in self.stage_results.items()}
            ours = st.get("ours", {})
            pub = next((k for k in ours if k.startswith("publish")), None)
            get = next((k for k in ours if k.startswith("fetch")), None)
            write = next((k for k in ours if k.startswith("write")), None)
            total = next(iter(ours), None)
            if pub and get and write and total and ours[total]:
                windows = calls["ours"][pub] or 1
                text += (
                    f" Profile of the hourly-window task ({self.profile_size:,} records, one thread): "
                    f"publishing {fmt(ours[pub], 2)} s of {fmt(ours[total], 2)} s "
                    f"({pct(ours[pub] / ours[total], 0)}, in publishing threads), i.e. {fmt(1000 * ours[pub] / windows)} "
                    f"ms for each of {windows} windows whatever their size (per window: the part's PUT and the "
                    "manifest's PUT); fetching pages "
                    f"{fmt(ours[get], 2)} s; writing JSONL {fmt(ours[write], 2)} s."
                )
                day = st.get("ours-daywin", {})
                if day.get(pub) is not None:
                    text += (
                        f" With 1-day windows: publishing {fmt(day[pub], 2)} s, fetching {fmt(day[get], 2)} s, "
                        f"writing {fmt(day[write], 2)} s of {fmt(day[total], 2)} s."
                    )
                raw = {label: sec for label, _, sec in self.stage_results.get("raw", [])}
                if raw:
                    text += " Raw loop: " + ", ".join(f"{k.split(':')[0]} {fmt(v, 2)} s" for k, v in raw.items()) + "."
            out.append(text)
        if self.missed("B", "hand-written") and getattr(self, "b_top_windows", None):
            top, vs, vs4 = self.b_vs
            out.append(
                f"**B, {top:,} records vs the hand-written way.** {fmt(vs, 1, 'x')} (1 task) and "
                f"{fmt(vs4, 1, 'x')} (4 mapped tasks); 1 task with `window_size=1 day`: "
                f"{fmt(getattr(self, 'b_vs_day', None), 1, 'x')}. Points per window, run by run: "
                + "; ".join(f"{row[0]}: " + " / ".join(row[1:]) for row in self.b_top_windows)
                + f". Our runs need {fmt(a.get(top, {}).get('ours', {}).get('points'))} points "
                f"(hourly windows; {fmt(a.get(top, {}).get('ours-daywin', {}).get('points'))} with 1-day windows): "
                f"whatever does not fit in the first window's {self.budget} waits for the next one, so the run "
                "takes at least one window plus the remainder."
            )
        for v, item in self.data["Bbound"].items():
            bad = (
                (item["cap"] is not None and item["peak"] is not None and item["peak"] > item["cap"] + SHARE_TOLERANCE)
                or (v in ("ours", "ours-4mapped") and (item["used"] or 0) < B_BUDGET_USED)
                or any(t / r > B_MAX_429 for t, r in zip(item["throttled"], item["requests"]) if r)
            )
            if not bad:
                continue
            runs = "; ".join(
                f"{', '.join(map(str, w))} ({t} x 429)" for w, t in zip(item["windows"], item["throttled"])
            )
            cap = f" (cap {item['cap']:.0%}: {int(item['cap'] * self.budget)} points)" if item["cap"] else ""
            retry = item.get("retry_waits") or []
            out.append(
                f"**B, {item['text']}.** Budget used {pct(item['used'])}, worst window {pct(item['peak'])}{cap}. "
                f"Points per {self.window:g} s window of {self.budget}, run by run: {runs}. Longest pacer wait "
                f"{fmt(item['longest_wait'], 1, ' s')} (a window is {self.window:g} s)"
                + (
                    f"; the {len(retry)} requests answered 429 were retried after {fmt(min(retry), 1)}-"
                    f"{fmt(max(retry), 1)} s."
                    if retry
                    else "."
                )
            )
        d, trace = self.data["D"], self.data.get("D_trace")
        if self.missed("D") and d:
            growth = "; ".join(f"{n // 1000}k: {fmt(g, 1)} MB" for n, g in d["growth"].items())
            text = (
                f"**D, memory.** Peak RSS over the task's own baseline: {growth}; peak at the larger window minus "
                f"peak at the smaller: {fmt(d['between'], 1)} MB."
            )
            if trace and trace.get("top"):
                big = trace["top"][0]
                text += (
                    f" Under tracemalloc the traced Python peak is {fmt(trace.get('peak_mb'), 1)} MB; the largest "
                    f"holder at the peak ({fmt(big['mb'], 1)} MB) is allocated at `{big['where'][-1]}`, called "
                    f"from `{big['where'][0]}` (table in D)."
                )
            out.append(text)
        return out

    # -- the report -------------------------------------------------------------------------------
    def profile_section(self) -> str:
        if not self.profile_summaries:
            return ""
        variants = list(self.profile_summaries)
        cats = [c for c, _ in CATEGORIES] + ["other", "total"]
        rows = [[c, *(fmt(self.profile_summaries[v][0].get(c, 0.0), 2) for v in variants)] for c in cats]
        parts = [
            f"## Profiles (regime C, {self.profile_size:,} records)\n",
            "cProfile of one extra run per client (wall-clock timer, so waiting for a server shows as socket "
            "time; our operator with `max_concurrency=1` and windows published inline, so that the whole task "
            "runs on the profiled thread; profiling slows everything down: compare shares, not seconds). Own time (`tottime`) "
            "grouped by where it is spent; raw files in `.bench/profiles/`.\n",
            table(["seconds in", *(VARIANT_TEXT[v] for v in variants)], rows),
        ]
        for v in variants:
            stages = self.stage_results[v]
            total = stages[0][2]
            parts.append(
                f"\n**{VARIANT_TEXT[v]}**: time by stage (cumulative; indented stages are part of the one above)"
                "\n\n"
                + table(
                    ["stage", "calls", "seconds", "share"],
                    [[name, str(n), fmt(sec, 2), pct(sec / total if total else None, 0)] for name, n, sec in stages],
                )
                + "\n\nTop functions by own time:\n\n"
                + table(["own s", "calls", "function"], self.profile_summaries[v][1])
            )
        return "\n".join(parts)

    def write(self, out: Path) -> None:
        mach = machine()
        judged = [t for t in self.targets if t[3] is not None]
        moto = Path(sys.executable).with_name("moto_server")
        code = self.code
        if self.code_end != self.code:
            code += f" (it changed to {self.code_end} during the run: tasks forked in A, B, C ran the code loaded at the start, the fresh D processes the code of their time)"
        hand = hand_findings(self.args.findings, self.code)
        lines = [
            "# Benchmarks",
            "",
            f"Measured by `make bench` (`benchmarks/run.py`) on **{self.measured_at}** in "
            f"{self.duration / 60:.1f} minutes, on package commit {code}. Generated: do not edit by hand "
            "(rerun `make bench`; the hand-written findings at the end come from `benchmarks/findings.md`).",
            "",
            "Three ways to move the same conversations from the Conversations API to S3, against the same fake "
            "API (`airflow_provider_conversations.testing`) and the same moto S3 server on loopback:",
            "",
            "* **our operator**: `ConversationsToS3Operator(...).execute(context)` in a task process "
            "(`benchmarks/ours.py`), defaults (hourly windows, up to 4 requests in flight) except `compression=None`; one task "
            "over the whole range, and a backfill as 4 mapped tasks running at once, each a quarter of the "
            "range (`split_range`), all on one team budget (one token);",
            "* **hand-written**: what an Airflow user writes today (`benchmarks/handwritten.py`): `HttpHook` "
            "walking page numbers (`per_page=100`, following `metadata.paging.next_page`) on one session, then "
            "`S3Hook.load_string` per day; on a 429 it waits for the next minute;",
            "* **raw loop**: `requests.Session` + boto3 `put_object`, keyset paging, no Airflow "
            "(`benchmarks/rawloop.py`): the practical CPU limit.",
            "",
            f"Figures are medians over {self.args.runs} runs; ratios compare medians of the same invocation.",
            "",
            "## Targets",
            "",
            table(["regime", "target", "measured", "met"], [[r, t, m, yes(x)] for r, t, m, x in self.targets]),
            "",
            f"**{sum(bool(t[3]) for t in judged)} of {len(judged)} targets met.**",
            "",
        ]
        analysis = self.analysis()
        if analysis:
            lines += ["## Where the missed targets lose (from the measurements below)", ""]
            lines += [f"* {p}" for p in analysis] + [""]
        if hand:
            lines += ["## Findings", "", *hand, ""]
        lines += [
            "## Machine",
            "",
            *(f"* {k}: {v}" for k, v in mach.items()),
            f"* package: commit {code}",
            f"* load average (1, 5, 15 min) at start: {self.loads[0]}; at end: {self.loads[1]} (other work on "
            "the machine competes for the same 2 cores; *machine busy* in C shows it run by run)",
            "",
            "## Commands",
            "",
            "```bash",
            "make bench   # = .venv/bin/python benchmarks/run.py" + (f" {shlex.join(self.argv)}" if self.argv else ""),
            "```",
            "",
            "What it starts, all on 127.0.0.1 and all stopped at the end:",
            "",
            "```bash",
            f"{moto.relative_to(ROOT) if moto.is_relative_to(ROOT) else moto} -H 127.0.0.1 -p <free port>",
            "# The fake API runs inside run.py (to read its accounting); the same servers from a shell:",
            *(f".venv/bin/python -m airflow_provider_conversations.testing serve {d} <flags>" for d in self.datasets),
            "#   <flags> in A, C, D: --rate-limit 1000000000   (no latency, no budget)",
            f"#   <flags> in B:       --rate-limit {self.budget} --minute-seconds {self.window:g} "
            f"--latency {self.latency:g} --no-retry-after",
            "# Each task: a process forked from a server that preloads Airflow and the clients (A, B, C),",
            "# or a fresh interpreter (D): .venv/bin/python benchmarks/_common.py child '<spec json>'",
            "```",
            "",
            "Logs of every task: `.bench/logs/<regime><size>-<client>-<run>-<task>.log`. To re-render this page "
            "from the last run's saved results (e.g. after editing `benchmarks/findings.md`): "
            "`.venv/bin/python benchmarks/run.py --render`.",
            "",
        ]
        for key in ("A", "B", "C", "D"):
            if key in self.sections:
                lines += [self.sections[key], ""]
        lines += [self.profile_section(), ""]
        if self.notes:
            lines += ["## Failed or incomplete runs", "", *(f"* {n}" for n in self.notes), ""]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines).rstrip() + "\n")
        log(f"wrote {out}")


def breakdown(group: GroupResult) -> dict[str, int]:
    """Our requests split into floor, task ranges and paging overhead (from each task's summary)."""
    tasks = [(r.get("records", 0), r.get("client_requests", 0)) for r in group.results]
    records = sum(t[0] for t in tasks)
    pages = sum(t[1] for t in tasks)
    floor = math.ceil(records / 100)
    per_task = sum(max(1, math.ceil(t[0] / 100)) for t in tasks)
    return {
        "windows": sum(len(r.get("windows", [])) for r in group.results),
        "floor": floor,
        "granularity": per_task - floor,
        "overhead": pages - per_task,
        "pages": pages,
        "points": group.points,
    }


def points_breakdown(group: GroupResult) -> list[str]:
    b = breakdown(group)
    return [
        str(b["windows"]),
        str(b["floor"]),
        f"+{b['granularity']}",
        f"+{b['overhead']}",
        f"{b['pages']} ({b['points']} points charged)",
    ]


CATEGORIES = (
    ("socket: waiting for the API or S3", ("recv_into", "sendall", "'connect'", "_socket")),
    ("threads waiting (locks)", ("acquire' of '_thread",)),
    ("JSON decode", ("json/decoder", "json/__init__.py:299")),
    ("JSON encode", ("json/encoder", "json/__init__.py:183")),
    ("our package", ("airflow_provider_conversations",)),
    ("S3 client (boto3, botocore, s3transfer)", ("botocore", "boto3", "s3transfer")),
    ("HTTP client (requests, urllib3, http.client)", ("requests/", "urllib3", "http/client", "urllib/")),
    ("Airflow (hooks, connections, logging)", ("airflow/", "structlog", "logging")),
    ("files, temp dirs, hashing", ("tempfile", "shutil", "posix", "_io", "_hashlib", "gzip")),
)


STAGES: dict[str, list[tuple[str, str, str]]] = {
    "ours": [
        ("the task: `execute()`", "conversations_to_s3.py", "execute"),
        ("S3 client + `check_for_bucket`", "aws/hooks/s3.py", "check_for_bucket"),
        ("fetch pages: `ConversationsHook._get` (pacing, HTTP, waiting, parsing)", "hooks/conversations.py", "_get"),
        ("&nbsp;&nbsp;`requests` `Session.get` (HTTP + waiting for the API)", "requests/sessions.py", "get"),
        ("&nbsp;&nbsp;`wire.parse_page` (JSON decode, checks)", "wire.py", "parse_page"),
        ("range read: `RangeWalk.pop` (checks, order)", "walk.py", "pop"),
        ("write JSONL: `JsonlPartWriter.write`", "jsonl.py", "write"),
        ("publish to S3: `WindowPublisher.publish` (per window)", "export.py", "publish"),
        ("&nbsp;&nbsp;`S3Hook.delete_objects` (manifest, stale parts)", "aws/hooks/s3.py", "delete_objects"),
        ("&nbsp;&nbsp;`S3Hook.load_file` (parts)", "aws/hooks/s3.py", "load_file"),
        ("&nbsp;&nbsp;`S3Hook.list_keys`", "aws/hooks/s3.py", "list_keys"),
        ("&nbsp;&nbsp;`S3Hook.load_bytes` (manifest)", "aws/hooks/s3.py", "load_bytes"),
        ("temp dirs: `TemporaryDirectory` cleanup", "tempfile.py", "cleanup"),
    ],
    "handwritten": [
        ("the task: `export_conversations`", "handwritten.py", "export_conversations"),
        ("fetch pages: `HttpHook.run_and_check`", "http/hooks/http.py", "run_and_check"),
        ("`Session.prepare_request`", "requests/sessions.py", "prepare_request"),
        ("JSON decode: `Response.json`", "requests/models.py", "json"),
        ("JSON encode: `json.dumps`", "json/__init__.py", "dumps"),
        ("`S3Hook.load_string` (incl. S3 client)", "aws/hooks/s3.py", "load_string"),
    ],
    "raw": [
        ("the task: `export`", "rawloop.py", "export"),
        ("fetch pages: `Session.get`", "requests/sessions.py", "get"),
        ("JSON decode: `json.loads`", "json/__init__.py", "loads"),
        ("JSON encode: `json.dumps`", "json/__init__.py", "dumps"),
        ("S3 client: `boto3.client`", "boto3/__init__.py", "client"),
        ("S3 calls: botocore `_api_call`", "botocore/client.py", "_api_call"),
    ],
}


def stage_times(path: str, stages: list[tuple[str, str, str]]) -> list[tuple[str, int, float]]:
    """Calls and cumulative seconds of each stage's function in a cProfile file."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    out = []
    for label, file_part, func in stages:
        # The outermost function of that name in that file (e.g. JsonlPartWriter.write, not the file's write).
        found = [
            (ct, nc)
            for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in stats.items()
            if name == func and file_part in filename
        ]
        seconds, calls = max(found, default=(0.0, 0))
        out.append((label, calls, seconds))
    return out


def summarize_profile(path: str) -> tuple[dict[str, float], list[list[str]]]:
    stats = pstats.Stats(path)
    cats: dict[str, float] = defaultdict(float)
    entries = []
    for (filename, line, name), (_cc, nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{filename}:{line}({name})"
        for cat, needles in CATEGORIES:
            if any(n in key for n in needles):
                cats[cat] += tt
                break
        else:
            cats["other"] += tt
        entries.append((tt, nc, key))
    cats["total"] = sum(tt for tt, _, _ in entries)
    entries.sort(reverse=True)
    return dict(cats), [[f"{tt:.3f}", str(nc), short(key)] for tt, nc, key in entries[:10]]


def short(key: str) -> str:
    for marker in ("site-packages/", "python3.11/", f"{ROOT}/"):
        if marker in key:
            key = key.split(marker, 1)[1]
    return "`" + key.replace("|", "\\|") + "`"


def package_version() -> str:
    """The package's git commit, and whether it has uncommitted changes."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "airflow_provider_conversations")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"`{commit}`" + (" with uncommitted changes in `airflow_provider_conversations/`" if dirty else "")


def hand_findings(path: Path, code: str) -> list[str]:
    """``benchmarks/findings.md``: the analysis written by hand after a run, for the commit it names."""
    if not path.exists():
        return []
    text = path.read_text()
    match = re.search(r"<!--\s*commit:\s*(\S+)\s*-->", text)
    body = re.sub(r"<!--.*?-->", "", text, flags=re.S).strip()
    if not body:
        return []
    lines = body.splitlines()
    if match and f"`{match.group(1)}`" != code.split(" ")[0]:
        lines = [
            f"> Written for package commit `{match.group(1)}`; this run measured {code}. Check these findings "
            "against the figures on this page before trusting them.",
            "",
            *lines,
        ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure, for medians (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000], help="A, B, C ranges")
    parser.add_argument(
        "--bound-records", type=int, default=0, help="a day's records for budget-bound B (default: D's larger size)"
    )
    parser.add_argument("--bound-windows", type=float, default=2.1, help="budget-bound B: windows of budget per run")
    parser.add_argument("--memory-records", type=int, nargs=2, default=[10_000, 200_000], help="D windows")
    parser.add_argument("--regimes", nargs="+", default=["A", "B", "C", "D"], choices=["A", "B", "C", "D"])
    parser.add_argument("--b-window", type=float, default=12.0, help="B: rate-limit window, seconds")
    parser.add_argument("--b-budget", type=int, default=600, help="B: points per window")
    parser.add_argument("--b-latency", type=float, default=0.030, help="B: seconds per answer")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the cProfile runs")
    parser.add_argument("--profile-size", type=int, help="C: size of the profiled runs (default: the middle size)")
    parser.add_argument(
        "--memory-baselines", action="store_true", help="D: also the hand-written task and the raw loop (slow)"
    )
    parser.add_argument("--no-share-mapped", dest="share_mapped", action="store_false")
    parser.add_argument("--findings", type=Path, default=Path(__file__).with_name("findings.md"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--quick", action="store_true", help="development: 1 run, small sizes")
    parser.add_argument("--render", action="store_true", help="rewrite --out from the last run's saved results")
    args = parser.parse_args()
    saved = WORK_DIR / "results.pickle"
    if args.render:
        with open(saved, "rb") as f:
            bench = pickle.load(f)
        bench.args.findings = args.findings
        bench.write(args.out)
        report_targets(bench)
        return 0
    if args.quick:
        args.runs, args.sizes, args.memory_records = 1, [1_000, 10_000], [2_000, 20_000]
        args.bound_records = 60_000
    # The fork server that task processes come from inherits this environment (see _common.PRELOAD).
    os.environ["AIRFLOW_HOME"] = str(WORK_DIR / "airflow-home")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    (WORK_DIR / "airflow-home").mkdir(parents=True, exist_ok=True)

    import boto3

    from airflow_provider_conversations.testing.processes import moto_s3_process

    started, load_start = time.time(), loadavg()
    log(f"make bench: {platform.node()}, {os.cpu_count()} cores, load {load_start}")
    with moto_s3_process(log=WORK_DIR / "moto.log") as s3:
        boto3.client("s3", endpoint_url=s3, **AWS_KEYS).create_bucket(Bucket=BUCKET)
        bench = Bench(args, s3)
        bench.code = package_version()
        bench.run_all(set(args.regimes))
        bench.code_end = package_version()
    bench.measured_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    bench.duration = time.time() - started
    bench.loads = (load_start, loadavg())
    bench.argv = sys.argv[1:]
    with open(saved, "wb") as f:
        pickle.dump(bench, f)
    bench.write(args.out)
    report_targets(bench)
    return 0


def report_targets(bench: Bench) -> None:
    log("\nTargets:")
    for regime, text, measured, met in bench.targets:
        log(f"  [{'MET' if met else 'MISSED' if met is not None else 'n/a'}] {regime}: {text}: {measured}")
    judged = [t for t in bench.targets if t[3] is not None]
    log(f"{sum(bool(t[3]) for t in judged)} of {len(judged)} targets met.")


if __name__ == "__main__":
    sys.exit(main())
