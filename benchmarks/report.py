"""Render ``docs/benchmarks.md`` from the results of one invocation (:mod:`results`)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import regime_b_scale
from _common import ROOT, machine
from report_analysis import analysis
from report_format import table, yes
from report_sections import budget_section, cost_section, cpu_section, memory_section, profile_section
from results import Results


def render(results: Results, findings: Path) -> str:
    """The whole page.

    :param results: the judged results.
    :param findings: ``benchmarks/findings.md``, the analysis written by hand.
    """
    mach = machine()
    judged = [t for t in results.targets if t.met is not None]
    moto = Path(sys.executable).with_name("moto_server")
    code = results.code
    if results.code_end != results.code:
        code += f" (it changed to {results.code_end} during the run: tasks forked in A, B, C ran the code loaded at the start, the fresh D processes the code of their time)"
    hand = hand_findings(findings, results.code)
    b = results.budget
    b_flags = (
        f"--rate-limit {b.budget} --minute-seconds {b.window:g} --latency {b.latency:g} --no-retry-after" if b else ""
    )
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (`benchmarks/run.py`) on **{results.measured_at}** in "
        f"{results.duration / 60:.1f} minutes, on package commit {code}. Generated: do not edit by hand "
        "(rerun `make bench`; the hand-written findings at the end come from `benchmarks/findings.md`).",
        "",
        "Three ways to move the same conversations from the Conversations API to S3, against the same fake "
        "API (`airflow_provider_conversations.testing`) and the same moto S3 server on loopback:",
        "",
        "* **our operator**: `ConversationsToS3Operator(...).execute(context)` in a task process "
        "(`benchmarks/ours.py`), defaults (up to 4 requests in flight) except `compression=None`, with hourly windows or the default 1-day windows; one task "
        "over the whole range, and a backfill as 4 mapped tasks running at once, each a quarter of the "
        "range (`split_range`), all on one team budget (one token);",
        "* **hand-written**: what an Airflow user writes today (`benchmarks/handwritten.py`): `HttpHook` "
        "walking page numbers (`per_page=100`, following `metadata.paging.next_page`) on one session, then "
        "`S3Hook.load_string` per day; on a 429 it waits for the next minute;",
        "* **raw loop**: `requests.Session` + boto3 `put_object`, keyset paging, no Airflow "
        "(`benchmarks/rawloop.py`): the practical CPU limit.",
        "",
        f"Figures are medians over {results.runs} runs; ratios compare medians of the same invocation.",
        "",
        "## Targets",
        "",
        table(
            ["regime", "target", "measured", "met"],
            [[t.regime, t.text, t.measured, yes(t.met)] for t in results.targets],
        ),
        "",
        f"**{sum(bool(t.met) for t in judged)} of {len(judged)} targets met.**",
        "",
    ]
    missed = analysis(results)
    if missed:
        lines += ["## Where the missed targets lose (from the measurements below)", ""]
        lines += [f"* {p}" for p in missed] + [""]
    if hand:
        lines += ["## Findings", "", *hand, ""]
    lines += [
        "## Machine",
        "",
        *(f"* {k}: {v}" for k, v in mach.items()),
        f"* package: commit {code}",
        f"* load average (1, 5, 15 min) at start: {results.loads[0]}; at end: {results.loads[1]} (other work on "
        "the machine competes for the same 2 cores; *machine busy* in C shows it run by run)",
        "",
        "## Commands",
        "",
        "```bash",
        "make bench   # = .venv/bin/python benchmarks/run.py"
        + (f" {shlex.join(results.argv)}" if results.argv else ""),
        "```",
        "",
        "What it starts, all on 127.0.0.1 and all stopped at the end:",
        "",
        "```bash",
        f"{moto.relative_to(ROOT) if moto.is_relative_to(ROOT) else moto} -H 127.0.0.1 -p <free port>",
        "# The fake API runs inside run.py (to read its accounting); the same servers from a shell:",
        *(f".venv/bin/python -m airflow_provider_conversations.testing serve {d} <flags>" for d in results.datasets),
        "#   <flags> in A, C, D: --rate-limit 1000000000   (no latency, no budget)",
        f"#   <flags> in B:       {b_flags}",
        "# Each task: a process forked from a server that preloads Airflow and the clients (A, B, C),",
        "# or a fresh interpreter (D): .venv/bin/python benchmarks/tasks.py child '<spec json>'",
        "```",
        "",
        "Logs of every task: `.bench/logs/<regime><size>-<client>-<run>-<task>.log`. To re-render this page "
        "from the last run's saved results (e.g. after editing `benchmarks/findings.md`): "
        "`.venv/bin/python benchmarks/run.py --render`.",
        "",
    ]
    sections = {
        "A": cost_section(results) if results.cost_cpu else None,
        "B": budget_section(b, results.runs) if b is not None and b.rows else None,
        "B at scale": regime_b_scale.section(results.scale) if getattr(results, "scale", None) else None,
        "C": cpu_section(results) if results.cost_cpu else None,
        "D": memory_section(results.memory, results.memory_trace) if results.memory is not None else None,
    }
    for section in sections.values():
        if section:
            lines += [section, ""]
    lines += [profile_section(results.profile), ""]
    if results.notes:
        lines += ["## Failed or incomplete runs", "", *(f"* {n}" for n in results.notes), ""]
    return "\n".join(lines).rstrip() + "\n"


def write(results: Results, findings: Path, out: Path) -> None:
    """Write the page to ``out``.

    :param results: the judged results.
    :param findings: ``benchmarks/findings.md``.
    :param out: usually ``docs/benchmarks.md``.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, findings))
    print(f"wrote {out}", flush=True)


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
