"""Where the missed targets lose: prose generated from the measurements, for ``docs/benchmarks.md``."""

from __future__ import annotations

from _common import ratio
from regime_b_budget import B_BUDGET_USED, B_MAX_429, SHARE_TOLERANCE
from report_format import fmt, pct
from results import ClientRun, Profile, Results


def analysis(results: Results) -> list[str]:
    """One paragraph per regime with a missed target.

    :param results: the judged results.
    """
    out = []
    runs = {(r.size, r.variant): r for r in results.cost_cpu}
    sizes = sorted({r.size for r in results.cost_cpu})
    if results.missed("A") and sizes:
        out.append(_cost(runs, sizes))
    if (results.missed("C") or results.missed("C", "hand-written")) and sizes:
        out.append(_cpu(runs, sizes, results.profile))
    b = results.budget
    if b is not None and results.missed("B", "hand-written") and b.top_windows:
        top = b.top
        ours, day = runs.get((top or 0, "ours")), runs.get((top or 0, "ours-daywin"))
        out.append(
            f"**B, {top:,} records vs the hand-written way.** {fmt(b.vs, 1, 'x')} (1 task) and "
            f"{fmt(b.vs_4mapped, 1, 'x')} (4 mapped tasks); 1 task with `window_size=1 day`: "
            f"{fmt(b.vs_daywin, 1, 'x')}. Points per window, run by run: "
            + "; ".join(f"{row[0]}: " + " / ".join(row[1:]) for row in b.top_windows)
            + f". Our runs need {fmt(ours.points if ours else None)} points "
            f"(hourly windows; {fmt(day.points if day else None)} with 1-day windows): "
            f"whatever does not fit in the first window's {b.budget} waits for the next one, so the run "
            "takes at least one window plus the remainder."
        )
    for v, item in b.bound.items() if b is not None else ():
        bad = (
            (item.cap is not None and item.peak is not None and item.peak > item.cap + SHARE_TOLERANCE)
            or (v in ("ours", "ours-4mapped") and (item.used or 0) < B_BUDGET_USED)
            or any(t / r > B_MAX_429 for t, r in zip(item.throttled, item.requests) if r)
        )
        if not bad:
            continue
        windows = "; ".join(f"{', '.join(map(str, w))} ({t} x 429)" for w, t in zip(item.windows, item.throttled))
        cap = f" (cap {item.cap:.0%}: {int(item.cap * b.budget)} points)" if item.cap else ""
        retry = item.retry_waits
        out.append(
            f"**B, {item.text}.** Budget used {pct(item.used)}, worst window {pct(item.peak)}{cap}. "
            f"Points per {b.window:g} s window of {b.budget}, run by run: {windows}. Longest pacer wait "
            f"{fmt(item.longest_wait, 1, ' s')} (a window is {b.window:g} s)"
            + (
                f"; the {len(retry)} requests answered 429 were retried after {fmt(min(retry), 1)}-"
                f"{fmt(max(retry), 1)} s."
                if retry
                else "."
            )
        )
    d, trace = results.memory, results.memory_trace
    if results.missed("D") and d is not None:
        growth = "; ".join(f"{n // 1000}k: {fmt(g, 1)} MB" for n, g in d.growth.items())
        text = (
            f"**D, memory.** Peak RSS over the task's own baseline: {growth}; peak at the larger window minus "
            f"peak at the smaller: {fmt(d.between, 1)} MB."
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


def _cost(runs: dict[tuple[int, str], ClientRun], sizes: list[int]) -> str:
    top = sizes[-1]
    b = runs[top, "ours"].breakdown

    def line(v: str) -> str:
        return ", ".join(f"{n // 1000}k {fmt(runs[n, v].records_per_point, 1)}" for n in sizes)

    return (
        "**A, cost.** Records per point, our operator with hourly windows: "
        f"{line('ours')}; with the default 1-day windows: {line('ours-daywin')}; hand-written: "
        f"{line('handwritten')}; raw keyset loop: {line('raw')}. At {top:,} records our task's "
        f"{b.pages} requests are the floor of {b.floor}, +{b.granularity} for task ranges "
        f"and +{b.overhead} paging overhead (see the table in A)."
    )


def _cpu(runs: dict[tuple[int, str], ClientRun], sizes: list[int], profile: Profile | None) -> str:
    top = sizes[-1]

    def line(v: str, w: str) -> str:
        return ", ".join(f"{n // 1000}k {fmt(ratio(runs[n, v].rate, runs[n, w].rate), 2, 'x')}" for n in sizes)

    text = (
        f"**C, CPU.** Our records/s over the raw loop's, hourly windows: {line('ours', 'raw')}; with "
        f"`window_size=1 day`: {line('ours-daywin', 'raw')}. Over the hand-written way's: "
        f"{line('ours', 'handwritten')}; 1-day windows {line('ours-daywin', 'handwritten')}. Task CPU per "
        f"1k records at {top:,}: ours {fmt(runs[top, 'ours'].cpu_per_1k)} ms (1-day windows "
        f"{fmt(runs[top, 'ours-daywin'].cpu_per_1k)}), hand-written "
        f"{fmt(runs[top, 'handwritten'].cpu_per_1k)}, raw {fmt(runs[top, 'raw'].cpu_per_1k)}."
    )
    if profile is None:
        return text
    st = {k: {label: sec for label, _, sec in v} for k, v in profile.stages.items()}
    calls = {k: {label: n for label, n, _ in v} for k, v in profile.stages.items()}
    ours = st.get("ours", {})
    pub = next((k for k in ours if k.startswith("publish")), None)
    get = next((k for k in ours if k.startswith("fetch")), None)
    write = next((k for k in ours if k.startswith("write")), None)
    total = next(iter(ours), None)
    if pub and get and write and total and ours[total]:
        windows = calls["ours"][pub] or 1
        text += (
            f" Profile of the hourly-window task ({profile.size:,} records, one thread): "
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
        raw = {label: sec for label, _, sec in profile.stages.get("raw", [])}
        if raw:
            text += " Raw loop: " + ", ".join(f"{k.split(':')[0]} {fmt(v, 2)} s" for k, v in raw.items()) + "."
    return text
