"""What every regime of ``make bench`` runs on: the fake API, task specs, timed runs, repetitions.

:class:`Harness` holds one invocation's servers and settings; the regime modules call it to start a
data set, switch the fake API's shape, build the tasks of a client and run them ``--runs`` times.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from _common import BUCKET, TOKEN, WORK_DIR, Endpoints, GroupResult, Spec
from recording import RecordingAPI
from results import Results
from tasks import run_group

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MAIN_DAYS = 4  # regimes A, B, C: the records spread over 4 days; a backfill maps one task per day

# The real API: ~150 ms per page, 600 points per 60 s window per team, no Retry-After.
REAL_LATENCY, REAL_WINDOW, REAL_BUDGET = 0.150, 60.0, 600

VARIANT_TEXT = {
    "ours": "our operator, 1 task, window_size=1 hour",
    "ours-4mapped": "our operator, 4 mapped tasks, window_size=1 hour",
    "ours-daywin": "our operator, 1 task, default window_size (1 day)",
    "ours-daywin-gzip": "our operator, 1 task, default window_size (1 day), gzip answers",
    "ours-daywin-chunked": "our operator, 1 task, default window_size (1 day), chunked answers",
    "handwritten": "hand-written (HttpHook pages)",
    "raw": "raw loop (requests + boto3)",
}
WAIT_RE = re.compile(r"budget spent for this minute; waiting ([0-9.]+)s")
RETRY_RE = re.compile(r"Request failed \(.*?retry \d+/\d+ in ([0-9.]+)s")

#: Runs of each variant, by variant name.
Runs = dict[str, list[GroupResult]]


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def datetime_of(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def log(message: str) -> None:
    print(message, flush=True)


class Harness:
    """One invocation: the S3 endpoint, the fake API's settings per regime, runs and their notes.

    :param args: the command line.
    :param s3: moto's S3 endpoint.
    :param results: where runs add their notes and data sets.
    """

    def __init__(self, args: argparse.Namespace, s3: str, results: Results) -> None:
        self.args = args
        self.s3 = s3
        self.results = results
        self.api_class = RecordingAPI
        # Regime B: the rate-limit window and its budget as served, and the latency.
        self.window, self.budget, self.latency = args.b_window, args.b_budget, args.b_latency
        self.speed = REAL_LATENCY / self.latency  # how much faster than the real API time runs
        self.real_minute = REAL_WINDOW / self.speed  # one real-API minute, in seconds here

    # -- the fake API -----------------------------------------------------------------------------
    def server(self, records: int, days: float) -> Any:
        """Start the fake API with ``records`` generated over ``days`` days from :data:`START`."""
        from airflow_provider_conversations.testing import generate_conversations

        t0 = time.monotonic()
        data = generate_conversations(records, seed=0, start=START, end=START + timedelta(days=days))
        api = self.api_class(data, token=TOKEN, seed=0, rate_limit_per_minute=10**9)
        del data
        api.start()
        log(f"fake API: {records:,} records over {days:g} day(s), ready in {time.monotonic() - t0:.1f}s")
        self.results.datasets.append(
            f"--records {records} --days {days:g} --start {START.date()} --seed 0 --token {TOKEN}"
        )
        return api

    def unlimited(self, api: Any) -> None:
        """No latency, no budget (regimes A, C, D)."""
        api.configure(rate_limit=10**9, minute_seconds=60.0, latency=0.0, retry_after=True)

    def real_shape(self, api: Any) -> None:
        """The real API's shape, sped up (regime B)."""
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

    # -- tasks and runs ---------------------------------------------------------------------------
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
        from airflow_provider_conversations.lake.windows import split_range

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
        """Run ``specs`` together once; log a line, and note a failed or incomplete run."""
        group = run_group(specs, Endpoints(api.url, self.s3, BUCKET), api, label=label, align=align, fresh=fresh)
        group.expected = sum(len(api.ids_in_range(datetime_of(s.gte), datetime_of(s.lt))) for s in specs)
        for n in range(len(specs)):
            text = (WORK_DIR / "logs" / f"{label}-{n}.log").read_text(errors="replace")
            group.pacer_waits += [float(w) for w in WAIT_RE.findall(text)]
            group.retry_waits += [float(w) for w in RETRY_RE.findall(text)]
        ok = not group.failed and group.records == group.expected
        log(
            f"  {label:<30} {group.records:>8,} rec {group.elapsed:7.2f}s {group.points:>5} pts "
            f"{group.throttled:>3} x429 cpu {group.cpu:5.2f}s srv {group.server_cpu:5.2f}s "
            f"busy {group.machine_busy:4.0%} {'ok' if ok else 'FAILED/INCOMPLETE'}"
        )
        if not ok:
            errors = "; ".join(r.get("error", "?") for r in group.results if not r.get("ok"))
            self.results.notes.append(
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
    ) -> Runs:
        """Run every variant ``--runs`` times, interleaved (``align``: one value, or one per variant)."""
        out: Runs = defaultdict(list)
        for rep in range(self.args.runs):
            for variant, make in variants.items():
                al = align.get(variant) if isinstance(align, dict) else align
                out[variant].append(self.run(api, f"{label}-{variant}-{rep + 1}", make(), align=al, fresh=fresh))
        return out

    # -- regime B's measures ----------------------------------------------------------------------
    def budget_used(self, group: GroupResult) -> float | None:
        """Points in the run's complete windows over their budget; ``None`` if it ended in its first window."""
        full = group.full_windows()
        return sum(full) / (self.budget * len(full)) if full else None

    def per_minute(self, group: GroupResult, value: float) -> float:
        """``value`` per real-API minute of this run."""
        return value / (group.elapsed / self.real_minute)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
