"""Shared pieces of the benchmarks: constants, statistics, the machine, task specs and run results.

Every measured client (our operator, the hand-written HttpHook task, the raw loop) runs in its own
child process started by :func:`tasks.run_group`. A child imports its client, reports ``BENCH-READY``,
waits for ``GO <epoch>`` on stdin, sleeps until that instant (so several children start together, and
a rate-limited run can start on a rate-limit window boundary), runs the task once, and reports one
``BENCH-RESULT {json}`` line: records, wall time of the task itself (interpreter start-up and imports
excluded), CPU time, RSS. The fake API runs in the driver process (:mod:`recording`), so its
accounting (points charged, 429s, per-window spending) is read directly; moto's S3 server runs as its
own process.

    python benchmarks/tasks.py child '<spec json>'   # what run_group starts; not for direct use
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = ROOT / ".bench"
TOKEN = "bench-token"
HTTP_CONN_ID = "conversations_http"
BUCKET = "bench"
AWS_KEYS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}

# -- statistics -----------------------------------------------------------------------------------


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that are not ``None`` (``None`` when there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, or ``None`` when either is missing or ``b`` is zero."""
    return a / b if a is not None and b else None


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from the kernel (``VmRSS``, ``VmHWM``).

    ``VmHWM`` belongs to the process's own memory map; ``ru_maxrss`` would not do in a child started
    with fork+exec, as the kernel carries the parent's peak over the exec.
    """
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine since boot, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- the machine ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    versions = {}
    from importlib import metadata

    for dist in ("apache-airflow", "apache-airflow-providers-http", "apache-airflow-providers-amazon", "requests"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    for dist in ("boto3", "moto"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "os": platform.platform(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


# -- child task processes -------------------------------------------------------------------------


@dataclass
class Spec:
    """One task to run in a child process.

    :param client: ``ours``, ``handwritten`` or ``raw`` (the module that runs it).
    :param gte: inclusive start of the range (ISO-8601).
    :param lt: exclusive end.
    :param prefix: S3 key prefix.
    :param conn_extra: extras of the ``conversations`` connection (ours only).
    :param options: client options (window size, max_concurrency, the scaled minute, ...).
    """

    client: str
    gte: str
    lt: str
    prefix: str
    conn_extra: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Endpoints:
    """Where the servers listen."""

    api: str
    s3: str
    bucket: str = BUCKET


def child_env(endpoints: Endpoints, spec: Spec, airflow_home: Path) -> dict[str, str]:
    """Environment of a child: Airflow home, the three connections, no real AWS lookups."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": AWS_KEYS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": AWS_KEYS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": AWS_KEYS["region_name"],
            "AIRFLOW_CONN_CONVERSATIONS_DEFAULT": json.dumps(
                {"conn_type": "conversations", "host": endpoints.api, "password": TOKEN, "extra": spec.conn_extra}
            ),
            f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}": json.dumps(
                {"conn_type": "http", "host": endpoints.api, "extra": {"Authorization": f"Bearer {TOKEN}"}}
            ),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": AWS_KEYS["aws_access_key_id"],
                    "password": AWS_KEYS["aws_secret_access_key"],
                    "extra": {"endpoint_url": endpoints.s3, "region_name": AWS_KEYS["region_name"]},
                }
            ),
        }
    )
    return env


@dataclass
class GroupResult:
    """What one run of one or more parallel children gave, with the server's accounting."""

    results: list[dict[str, Any]]
    start: float
    minute_seconds: float
    server: dict[str, Any]
    charges: list[tuple[float, int, bool]]
    max_open_connections: int
    server_cpu: float = 0.0
    machine_busy: float = 0.0
    expected: int = 0
    pacer_waits: list[float] = field(default_factory=list)  # our pacer's waits, from the task logs
    retry_waits: list[float] = field(default_factory=list)  # waits before retries, from the task logs

    @property
    def retries(self) -> int:
        return len(self.retry_waits)

    @property
    def records(self) -> int:
        return sum(r.get("records", 0) for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.get("ok") for r in self.results)

    @property
    def elapsed(self) -> float:
        """Wall seconds from the common start to the last task's end."""
        return max(r["t_end"] for r in self.results) - self.start

    @property
    def points(self) -> int:
        return int(self.server["total_cost"])

    @property
    def requests(self) -> int:
        return int(self.server["requests"])

    @property
    def throttled(self) -> int:
        return int(self.server["status_counts"].get(429, 0))

    @property
    def cpu(self) -> float:
        return sum(r.get("cpu", 0.0) for r in self.results)

    def window_points(self) -> list[int]:
        """Points charged in each server window the run touched, first to last."""
        first = int(self.start // self.minute_seconds)
        last = int((self.start + self.elapsed) // self.minute_seconds)
        per: Counter[int] = Counter()
        for now, cost, ok in self.charges:
            if ok:
                per[int(now // self.minute_seconds)] += cost
        return [per.get(w, 0) for w in range(first, last + 1)]

    def full_windows(self) -> list[int]:
        """Points in the server windows that lie wholly inside the run (it ran from their start to end)."""
        w = self.minute_seconds
        first = math.ceil(self.start / w - 1e-9)
        last = int((self.start + self.elapsed) // w)  # the window in which the run ended: partial
        offset = int(self.start // w)
        points = self.window_points()
        return [points[k - offset] for k in range(first, last)]
