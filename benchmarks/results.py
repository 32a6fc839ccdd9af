"""The results model of ``make bench``: what each regime measured and judged, as plain dataclasses.

The regime modules (:mod:`cost`, :mod:`budget`, :mod:`cpu`, :mod:`memory`) fill it from the runs;
:mod:`report` renders it into ``docs/benchmarks.md``. It is pickled to ``.bench/results.pickle`` so
that ``run.py --render`` can write the page again without measuring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """One target of the issue and whether it was met (``None``: not judged)."""

    regime: str
    text: str
    measured: str
    met: bool | None


@dataclass
class Breakdown:
    """Our requests split into the floor, the task ranges and paging overhead (one run)."""

    windows: int
    floor: int
    granularity: int
    overhead: int
    pages: int
    points: int


@dataclass
class ClientRun:
    """One client at one size in regimes A and C: medians over the runs."""

    size: int
    variant: str
    points: float | None
    records_per_point: float | None
    seconds: float | None
    rate: float | None  # records/s
    vs_raw: float | None
    vs_handwritten: float | None
    cpu: float | None
    cpu_per_1k: float | None  # task CPU ms per 1k records
    server_cpu: float | None
    busy: float | None
    breakdown: Breakdown  # of the first run
    cost_met: bool | None = None  # the records-per-point target (our operator only)


@dataclass
class Profile:
    """The cProfile runs of regime C: seconds by category and by stage, top functions."""

    size: int
    categories: dict[str, dict[str, float]] = field(default_factory=dict)  # variant -> category -> s
    top: dict[str, list[list[str]]] = field(default_factory=dict)  # variant -> rows (own s, calls, function)
    stages: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)  # variant -> (stage, calls, s)


@dataclass
class BudgetRow:
    """One client's runs in regime B, as figures per real-API minute."""

    size: str
    client: str
    minutes: float | None
    records_per_minute: float | None
    points: float | None
    budget_per_minute: float | None  # share of the real API's 600 points a minute
    budget_used: float | None  # None: the run ended in its first window
    share_429: float | None
    failed: int
    connections: float | None
    task_cores: float | None
    pacer_waits: float | None
    longest_wait: float | None


@dataclass
class BoundRun:
    """One variant of the budget-bound runs (regime B)."""

    text: str
    used: float | None
    peak: float | None
    cap: float | None
    windows: list[list[int]]
    throttled: list[int]
    requests: list[int]
    retries: list[int]
    retry_waits: list[float]
    longest_wait: float | None
    window_text: list[str]  # points per window, run by run, with 429s and retries


@dataclass
class Budget:
    """Regime B: the served shape, the main runs, the budget-bound runs."""

    latency: float
    budget: int
    window: float
    speed: float
    real_minute: float
    bound_windows: float
    rows: list[BudgetRow] = field(default_factory=list)
    top: int | None = None  # the largest size of the main runs
    vs: float | None = None  # ours / hand-written records per minute at ``top``
    vs_4mapped: float | None = None
    vs_daywin: float | None = None
    top_windows: list[list[str]] = field(default_factory=list)  # client, points per window run by run
    bound_records: int = 0
    bound_rows: list[BudgetRow] = field(default_factory=list)
    bound: dict[str, BoundRun] = field(default_factory=dict)
    most_points: int = 0  # the most points one of our runs in A needed


@dataclass
class MemoryRow:
    """One client at one window size in regime D (medians over the runs)."""

    size: int
    variant: str
    baseline: float | None
    peak: float | None
    growth: float | None
    seconds: float | None


@dataclass
class Memory:
    """Regime D."""

    rows: list[MemoryRow]
    growth: dict[int, float | None]  # our task's growth by window size
    between: float | None  # our peak at the larger window minus at the smaller
    low: int
    high: int


@dataclass
class Results:
    """Everything one invocation measured, judged and needs to render its page."""

    runs: int
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # failed or incomplete runs
    datasets: list[str] = field(default_factory=list)  # the fake API's data sets, as CLI flags
    cost_cpu: list[ClientRun] = field(default_factory=list)  # regimes A and C share their runs
    profile: Profile | None = None
    budget: Budget | None = None
    scale: Any = None  # regime_b_scale.Scale: B at scale, under each window rule
    memory: Memory | None = None
    memory_trace: dict[str, Any] | None = None  # D's tracemalloc run, when the growth missed the target
    code: str = "unknown"
    code_end: str = "unknown"
    measured_at: str = ""
    duration: float = 0.0
    loads: tuple[str, str] = ("?", "?")
    argv: list[str] = field(default_factory=list)

    def target(self, regime: str, text: str, measured: str, met: bool | None) -> None:
        """Record a target.

        :param regime: ``A`` to ``D``.
        :param text: the target.
        :param measured: what was measured, as text.
        :param met: whether it was met (``None``: not judged).
        """
        self.targets.append(Target(regime, text, measured, met))

    def missed(self, regime: str, needle: str = "") -> bool:
        """Whether a target of ``regime`` whose text holds ``needle`` was missed.

        :param regime: ``A`` to ``D``.
        :param needle: part of the target's text.
        """
        return any(t.regime == regime and needle in t.text and t.met is False for t in self.targets)
