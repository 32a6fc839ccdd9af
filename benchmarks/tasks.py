"""Task processes of the benchmarks: started together, timed, measured (see :mod:`_common`).

:func:`run_group` runs one or more task specs as parallel child processes, forked from a server that
has Airflow and the clients imported (regimes A, B, C) or as fresh interpreters (regime D, memory),
and returns their results with the fake API's accounting over the run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import (
    BENCH_DIR,
    ROOT,
    WORK_DIR,
    Endpoints,
    GroupResult,
    Spec,
    child_env,
    cpu_seconds,
    machine_busy,
    reset_peak_rss,
    rss_mb,
)

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
    "tasks",
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
            cmd = [sys.executable, str(BENCH_DIR / "tasks.py"), "child", json.dumps(spec.__dict__)]
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


def spawned_child(spec_json: str) -> int:
    """Entry of a fresh task process (``python benchmarks/tasks.py child SPEC``)."""
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
        sys.exit(spawned_child(sys.argv[2]))
    sys.exit(__doc__)
