"""``make bench``: our operator vs the hand-written HttpHook task vs a raw loop, on loopback.

Runs four regimes against one fake Conversations API (in this process, so its accounting is read
directly) and one moto S3 server (a child process); every task runs in its own process:

A. Cost: records per rate-limit point, from the fake API's accounting.
B. The real API's shape, sped up: server latency, a per-window point budget with the real deep-page
   costs, no Retry-After. Records per minute, share of the budget used, 429s, failed tasks; a
   budget-bound range; the ``budget_share`` setting; a budget-bound read of 10 windows or more under
   each window rule of the fake (calendar, first request, sliding), by 1 task and by 4 mapped tasks.
C. Our CPU cost: no latency, no budget; records/s of the task itself.
D. Memory: peak RSS of the task process for a 10k- and a 200k-record window.

Figures are medians over ``--runs`` runs (variants interleaved, so drifting load hits all alike);
ratios are taken within one invocation. Writes ``docs/benchmarks.md`` and prints the targets met.

    .venv/bin/python benchmarks/run.py                 # everything (what make bench runs)
    .venv/bin/python benchmarks/run.py --quick         # small sizes, one run (development)
    .venv/bin/python benchmarks/run.py --regimes C D   # some regimes only
    .venv/bin/python benchmarks/run.py --only-scale --no-profile --runs 1 --out /tmp/scale.md  # B at scale only
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import regime_a_cost
import regime_b_budget
import regime_b_scale
import regime_c_cpu
import regime_d_memory
import report
from _common import AWS_KEYS, BUCKET, ROOT, WORK_DIR
from harness import MAIN_DAYS, Harness, Runs, loadavg, log
from results import Profile, Results


def run_all(h: Harness, regimes: set[str]) -> None:
    """Run the regimes asked for, then judge them; each data set is generated once and serves every
    regime that uses it."""
    args, results = h.args, h.results
    # Profiles at the middle size: the shares are the same, the runs much shorter.
    profile_size = sorted(args.sizes)[len(args.sizes) // 2] if args.profile_size is None else args.profile_size
    res_c: dict[int, Runs] = {}
    res_b: dict[int, Runs] = {}
    res_d: dict[int, Runs] = {}
    results.budget = regime_b_budget.setup(h)
    if args.only_scale:
        regimes = {"B"}
    b_ranges = "B" in regimes and not args.only_scale  # regime B's runs other than those at scale
    if regimes & {"A", "C"} or b_ranges:
        for n in args.sizes:
            api = h.server(n, MAIN_DAYS)
            try:
                if regimes & {"A", "C"}:
                    profile = None
                    if args.profile and n == profile_size:
                        profile = results.profile = Profile(profile_size)
                    res_c[n] = regime_c_cpu.run(h, api, n, profile)
                if b_ranges:
                    res_b[n] = regime_b_budget.run(h, api, n)
            finally:
                api.stop()
    big, small = max(args.memory_records), min(args.memory_records)
    if b_ranges or "D" in regimes:
        bound_records = args.bound_records or big
        api = h.server(bound_records, 1)
        try:
            if b_ranges:
                bound = regime_b_budget.run_bound(h, api, bound_records)
            if "D" in regimes and bound_records == big:
                res_d[big] = regime_d_memory.run(h, api, big, results)
        finally:
            api.stop()
    if "B" in regimes and args.scale:
        api = h.server(args.scale_records, 1)
        try:
            results.scale = regime_b_scale.run(h, api, args.scale_records)
        finally:
            api.stop()
    if "D" in regimes:
        for n in (small, big):
            if n not in res_d:
                api = h.server(n, 1)
                try:
                    res_d[n] = regime_d_memory.run(h, api, n, results)
                finally:
                    api.stop()
    if res_c:
        results.cost_cpu = regime_c_cpu.measure(res_c)
        regime_a_cost.judge(results)
        regime_c_cpu.judge(results)
    if res_b:
        ours_429: list[float] = []
        failed = regime_b_budget.judge(h, res_b, results.budget, ours_429)
        regime_b_budget.judge_bound(h, *bound, bound_records, results.budget, ours_429, failed)
    if results.scale is not None:
        regime_b_scale.judge(h, results.scale)
    if res_d:
        regime_d_memory.judge(res_d, results)


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
    parser.add_argument("--no-scale", dest="scale", action="store_false", help="B: skip the runs at scale")
    parser.add_argument("--only-scale", action="store_true", help="B: only the runs at scale (pacer work)")
    parser.add_argument("--scale-records", type=int, default=300_000, help="B at scale: a day's records")
    parser.add_argument("--scale-window", type=float, default=6.0, help="B at scale: rate-limit window, seconds")
    parser.add_argument("--scale-budget", type=int, default=600, help="B at scale: points per window")
    parser.add_argument("--scale-latency", type=float, default=0.015, help="B at scale: seconds per answer")
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
            results: Results = pickle.load(f)
        report.write(results, args.findings, args.out)
        report_targets(results)
        return 0
    if args.quick:
        args.runs, args.sizes, args.memory_records = 1, [1_000, 10_000], [2_000, 20_000]
        args.bound_records = 60_000
        args.scale_records = min(args.scale_records, 100_000)
    # The fork server that task processes come from inherits this environment (see tasks.PRELOAD).
    os.environ["AIRFLOW_HOME"] = str(WORK_DIR / "airflow-home")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    (WORK_DIR / "airflow-home").mkdir(parents=True, exist_ok=True)

    import boto3

    from airflow_provider_conversations.testing.processes import moto_s3_process

    started, load_start = time.time(), loadavg()
    log(f"make bench: {platform.node()}, {os.cpu_count()} cores, load {load_start}")
    results = Results(runs=args.runs)
    with moto_s3_process(log=WORK_DIR / "moto.log") as s3:
        boto3.client("s3", endpoint_url=s3, **AWS_KEYS).create_bucket(Bucket=BUCKET)
        results.code = package_version()
        run_all(Harness(args, s3, results), set(args.regimes))
        results.code_end = package_version()
    results.measured_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results.duration = time.time() - started
    results.loads = (load_start, loadavg())
    results.argv = sys.argv[1:]
    with open(saved, "wb") as f:
        pickle.dump(results, f)
    report.write(results, args.findings, args.out)
    report_targets(results)
    return 0


def report_targets(results: Results) -> None:
    """Print the targets and how many were met."""
    log("\nTargets:")
    for t in results.targets:
        log(f"  [{'MET' if t.met else 'MISSED' if t.met is not None else 'n/a'}] {t.regime}: {t.text}: {t.measured}")
    judged = [t for t in results.targets if t.met is not None]
    log(f"{sum(bool(t.met) for t in judged)} of {len(judged)} targets met.")


if __name__ == "__main__":
    sys.exit(main())
