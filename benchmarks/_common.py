"""Shared helpers of the benchmarks: the recording fake API, child task processes, statistics.

Every measured client (our operator, the hand-written HttpHook task, the raw loop) runs in its own
child process started by :func:`run_group`. A child imports its client, reports ``BENCH-READY``, waits
for ``GO <epoch>`` on stdin, sleeps until that instant (so several children start together, and a
rate-limited run can start on a rate-limit window boundary), runs the task once, and reports one
``BENCH-RESULT {json}`` line: records, wall time of the task itself (interpreter start-up and imports
excluded), CPU time, RSS. The fake API runs in the driver process (:class:`RecordingAPI`), so its
accounting (points charged, 429s, per-window spending) is read directly; moto's S3 server runs as its
own process.

    python benchmarks/_common.py child '<spec json>'   # what run_group starts; not for direct use
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
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


# -- the fake API, with per-request accounting ----------------------------------------------------


def recording_api_class() -> type:
    """:class:`FakeConversationsAPI` that also logs each charge and counts open connections.

    The public ``stats`` give totals; the budget-bound share needs points per server window, so the
    server's own ``_charge`` (its rate-limit accounting) is wrapped. Built lazily so that importing this
    module stays cheap in child processes.
    """
    from airflow_provider_conversations.testing import FakeConversationsAPI

    for name in ("_charge", "_track"):
        if not hasattr(FakeConversationsAPI, name):
            raise RuntimeError(f"FakeConversationsAPI.{name} is gone: update benchmarks/_common.py")

    class RecordingAPI(FakeConversationsAPI):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.charges: list[tuple[float, int, bool]] = []  # (server time, cost, allowed)
            self._conn_lock = threading.Lock()
            self.open_connections = 0
            self.max_open_connections = 0

        def _charge(self, token: str, cost: int, now: float) -> tuple[bool, int, float]:
            allowed, remaining, wait = super()._charge(token, cost, now)
            self.charges.append((now, cost, allowed))
            return allowed, remaining, wait

        def _track(self, conn: Any, *, add: bool) -> None:
            super()._track(conn, add=add)
            with self._conn_lock:
                self.open_connections += 1 if add else -1
                self.max_open_connections = max(self.max_open_connections, self.open_connections)

        def reset_run(self) -> None:
            """Zero stats, budget, charge log and the connection high-water mark before a run."""
            self.reset_stats()
            self.reset_budget()
            self.charges = []
            with self._conn_lock:
                self.max_open_connections = self.open_connections

        def configure(
            self, *, rate_limit: int = 10**9, minute_seconds: float = 60.0, latency: float = 0.0, retry_after: bool
        ) -> None:
            """Switch regime between runs (these knobs are read per request)."""
            self.rate_limit_per_minute = rate_limit
            self.minute_seconds = minute_seconds
            self.latency = latency
            self.retry_after = retry_after

    return RecordingAPI


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


#: Modules a forked task process finds already imported (what a worker has loaded before it forks a task).
PRELOAD = (
    "airflow.sdk",
    "airflow.providers.amazon.aws.hooks.s3",
    "airflow.providers.http.hooks.http",
    "airflow_provider_conversations.hooks.conversations",
    "airflow_provider_conversations.operators.conversations_to_s3",
    "boto3",
    "requests",
    "_common",
    "ours",
    "handwritten",
    "rawloop",
    "__main__",  # imported once by the server, so a task process does not import run.py again
)
_FORKSERVER: Any = None


def _forkserver() -> Any:
    """A multiprocessing fork server that has imported :data:`PRELOAD` once.

    Airflow 3 forks each task process from its supervisor, which has Airflow imported already; forking
    from a preloaded server does the same and spares every run the interpreter and import start-up
    (seconds on a loaded 2-core machine). Regime D (memory) spawns fresh interpreters instead.
    """
    global _FORKSERVER
    if _FORKSERVER is None:
        import multiprocessing

        if str(BENCH_DIR) not in sys.path:
            sys.path.insert(0, str(BENCH_DIR))
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(PRELOAD))
        _FORKSERVER = ctx
    return _FORKSERVER


class _Child:
    """One task process and its little protocol: ready -> go(start) -> result."""

    def __init__(self, spec: Spec, endpoints: Endpoints, log: Path, *, fresh: bool) -> None:
        env = child_env(endpoints, spec, WORK_DIR / "airflow-home")
        env["BENCH_ENDPOINTS"] = json.dumps(endpoints.__dict__)
        self.fresh = fresh
        if fresh:
            self.log = open(log, "w")  # noqa: SIM115 (closed in close())
            cmd = [sys.executable, str(BENCH_DIR / "_common.py"), "child", json.dumps(spec.__dict__)]
            self.proc: Any = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=ROOT
            )
        else:
            ctx = _forkserver()
            self.conn, child_conn = ctx.Pipe()
            self.proc = ctx.Process(target=_forked_child, args=(spec.__dict__, env, str(log), child_conn), daemon=True)
            self.proc.start()
            child_conn.close()

    def _receive(self, tag: str, deadline: float) -> dict[str, Any] | None:
        if self.fresh:
            while time.monotonic() < deadline:
                line = self.proc.stdout.readline()
                if not line:
                    return None
                if line.startswith(tag):
                    return json.loads(line[len(tag) :].strip() or "{}")
            return None
        try:
            if not self.conn.poll(max(0.0, deadline - time.monotonic())):
                return None
            got_tag, payload = self.conn.recv()
        except (EOFError, OSError):
            return None
        return payload if got_tag == tag else None

    def ready(self, deadline: float) -> bool:
        return self._receive("BENCH-READY", deadline) is not None

    def go(self, start: float) -> None:
        if self.fresh:
            self.proc.stdin.write(f"GO {start!r}\n")
            self.proc.stdin.flush()
        else:
            self.conn.send(start)

    def result(self, deadline: float) -> dict[str, Any]:
        out = self._receive("BENCH-RESULT", deadline)
        return out if out is not None else {"ok": False, "error": "no result (crashed?)", "t_end": time.time()}

    def close(self) -> None:
        """Let the process end (closing its channel ends a waiting one); kill it after 30 s."""
        if self.fresh:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        else:
            self.conn.close()
            self.proc.join(timeout=30)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()


def run_group(
    specs: Sequence[Spec],
    endpoints: Endpoints,
    api: Any,
    *,
    label: str,
    align: float | None = None,
    fresh: bool = False,
    timeout: float = 900.0,
) -> GroupResult:
    """Run ``specs`` as parallel task processes that start at the same instant; return the results.

    :param align: start on a multiple of this many seconds of ``time.time()`` (the fake API's window
        grid), so a rate-limited run starts with a whole window ahead of it.
    :param fresh: a fresh interpreter per task (for memory), instead of a fork of the preloaded server.
    """
    logs = WORK_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (WORK_DIR / "airflow-home").mkdir(parents=True, exist_ok=True)
    children: list[_Child] = []
    try:
        for n, spec in enumerate(specs):
            children.append(_Child(spec, endpoints, logs / f"{label}-{n}.log", fresh=fresh))
        deadline = time.monotonic() + 300
        for child in children:
            if not child.ready(deadline):
                raise RuntimeError(f"{label}: a task process did not start; see {logs}")
        api.reset_run()
        now = time.time()
        start = math.ceil((now + 0.3) / align) * align if align else now + 0.05
        for child in children:
            child.go(start)
        time.sleep(max(0.0, start - time.time()))
        cpu0, busy0 = cpu_seconds(), machine_busy()
        deadline = time.monotonic() + timeout
        results = [child.result(deadline) for child in children]
        cpu1, busy1 = cpu_seconds(), machine_busy()
        return GroupResult(
            results=results,
            start=start,
            minute_seconds=api.minute_seconds,
            server=api.stats.snapshot(),
            charges=list(api.charges),
            max_open_connections=api.max_open_connections,
            server_cpu=cpu1 - cpu0,
            machine_busy=(busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]),
        )
    finally:
        for child in children:
            child.close()


def _task_body(
    spec: Spec, endpoints: Endpoints, send: Callable[[str, dict[str, Any]], None], wait_go: Callable[[], float]
) -> bool:
    """Prepare the task, report ready, wait for the start, run it timed, report the result."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    module = __import__({"ours": "ours", "handwritten": "handwritten", "raw": "rawloop"}[spec.client])
    task: Callable[[], dict[str, Any]] = module.prepare(spec, endpoints)
    baseline, _ = rss_mb()
    peak_reset = reset_peak_rss()  # the peak of the task alone, not of the imports before it
    send("BENCH-READY", {})
    start = wait_go()
    time.sleep(max(0.0, start - time.time()))
    profile_path = spec.options.get("profile")
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
    frames = int(spec.options.get("tracemalloc", 0))
    sampler = _PeakSampler(frames) if frames else None
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    out: dict[str, Any] = {"ok": True, "t_start": time.time()}
    try:
        if profiler:
            profiler.enable()
        out.update(task())
    except Exception as err:  # a failed task is a result, not a crash of the benchmark
        import traceback

        traceback.print_exc()
        out.update({"ok": False, "error": f"{type(err).__name__}: {err}"[:500]})
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_path)
        if sampler:
            out["tracemalloc"] = sampler.stop()
    out.update(
        {
            "t_end": time.time(),
            "seconds": time.perf_counter() - t0,
            "cpu": cpu_seconds() - cpu0,
            "rss_baseline_mb": baseline,
            "rss_peak_mb": rss_mb()[1],
            "rss_peak_reset": peak_reset,
        }
    )
    sys.stdout.flush()
    sys.stderr.flush()
    send("BENCH-RESULT", out)
    return bool(out["ok"])


class _PeakSampler:
    """tracemalloc with a thread that keeps a snapshot near the peak of traced memory (for regime D)."""

    def __init__(self, frames: int) -> None:
        import tracemalloc

        self.tracemalloc = tracemalloc
        tracemalloc.start(frames)
        self.best, self.snapshot = 0, None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.05):
            current, _ = self.tracemalloc.get_traced_memory()
            if current > self.best + 1_000_000:
                self.best, self.snapshot = current, self.tracemalloc.take_snapshot()

    def stop(self) -> dict[str, Any]:
        self.done.set()
        self.thread.join()
        _, peak = self.tracemalloc.get_traced_memory()
        self.tracemalloc.stop()
        top = []
        if self.snapshot is not None:
            for stat in self.snapshot.statistics("traceback")[:8]:
                frames = [f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}" for f in stat.traceback]
                top.append({"mb": stat.size / 1e6, "blocks": stat.count, "where": frames[-4:]})
        return {"peak_mb": peak / 1e6, "sampled_mb": self.best / 1e6, "top": top}


def _forked_child(spec: dict[str, Any], env: dict[str, str], log: str, conn: Any) -> None:
    """Entry of a task process forked from the preloaded server."""
    import gc

    # Keep the collector off the inherited heap, as forking task runners do: else the first collection
    # touches every preloaded object and copies the pages they share with the server.
    gc.freeze()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    os.environ.clear()
    os.environ.update(env)
    endpoints = Endpoints(**json.loads(env["BENCH_ENDPOINTS"]))
    _task_body(Spec(**spec), endpoints, lambda tag, payload: conn.send((tag, payload)), conn.recv)
    conn.close()


def _spawned_child(spec_json: str) -> int:
    """Entry of a fresh task process (``python benchmarks/_common.py child SPEC``)."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed (logs) goes to the log file, not the protocol pipe
    endpoints = Endpoints(**json.loads(os.environ["BENCH_ENDPOINTS"]))

    def send(tag: str, payload: dict[str, Any]) -> None:
        protocol.write(f"{tag} {json.dumps(payload)}\n")

    def wait_go() -> float:
        return float(sys.stdin.readline().split()[1])

    return 0 if _task_body(Spec(**json.loads(spec_json)), endpoints, send, wait_go) else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "child":
        sys.exit(_spawned_child(sys.argv[2]))
    sys.exit(__doc__)
