"""Crash and rerun: the task process is SIGKILLed at chosen points of its commits, then run again.

The test process hosts the fake API (in-process, latency adjustable), moto (in-process) and the
faulty S3 proxy; the task runs in a child process (forked by a zygote) that talks to S3 through the
proxy. The proxy holds the request at which the kill must land (a part's PUT while staging, the
manifest's PUT, the old parts' DeleteObjects POST, the lease's DELETE), so each kill point is exact,
not timed. After each kill a manifest-following reader must see every window as one whole committed
version: the previous one or the new one, and absent only where no version was committed before
(``docs/layout.rst``, "The commit protocol"). :class:`CommitChecker` checks the same after every
single S3 mutation: no manifest lists a missing or changed part, no committed manifest disappears.
Then one healthy rerun in a fresh child must leave exactly the objects of a clean run of the same
task into an empty bucket: the same keys, data objects byte for byte, manifests but for their
``read_started_at``; so no orphan part and no lease is left.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.testing import FakeConversationsAPI, generate_conversations
from tests.conftest import TOKEN, conversations_conn
from tests.reliability_faults.conftest import (
    UTC,
    CommitChecker,
    add_figure,
    aws_conn,
    comparable,
    expected_windows,
    read_objects,
    read_through_manifests,
    snapshot,
)

REPO = Path(__file__).resolve().parents[2]
DAY = datetime(2025, 3, 10, tzinfo=UTC)
START, END = DAY + timedelta(hours=6), DAY + timedelta(hours=9)  # three windows of one hour
PREFIX = "crash/conversations"
TARGET = "070000-080000"  # the window the kill points aim at (the second one)
OLD_FILE, NEW_FILE = 15, 40  # max_records_per_file of the previous complete run and of the rerun

# A "zygote" child: it imports Airflow, the provider and boto3 once (~2 s), warms the hooks up, then
# forks one task process per line of config it reads on stdin, as Airflow's supervisor forks its
# task runner. Each forked task process is what the tests SIGKILL; the zygote reaps them (SIGCHLD
# ignored) and is itself killed when the module is done.
ZYGOTE = r"""
import json, os, signal, sys, traceback
from datetime import datetime, timedelta
from pathlib import Path

import boto3  # noqa: F401
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator

os.environ["AIRFLOW_CONN_WARMUP_AWS"] = json.dumps(
    {"conn_type": "aws", "login": "x", "password": "y", "extra": {"endpoint_url": "http://127.0.0.1:9"}})
os.environ["AIRFLOW_CONN_WARMUP_API"] = json.dumps(
    {"conn_type": "conversations", "host": "http://127.0.0.1:9", "password": "warm-up-token"})
S3Hook(aws_conn_id="warmup_aws").get_conn()
ConversationsHook("warmup_api").settings
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
Path(sys.argv[1]).write_text(str(os.getpid()))
for line in sys.stdin:
    cfg = json.loads(line)
    pid = os.fork()
    if pid:
        Path(cfg["pid_file"]).write_text(str(pid))
        continue
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        fd = os.open(cfg["log_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ.update(cfg["env"])
        kwargs = dict(cfg["operator"], window_size=timedelta(seconds=cfg["operator"]["window_size"]))
        op = ConversationsToS3Operator(task_id="crash_rerun", **kwargs)
        result = op.execute({"data_interval_start": datetime.fromisoformat(cfg["start"]),
                             "data_interval_end": datetime.fromisoformat(cfg["end"])})
        Path(cfg["done_file"]).write_text(json.dumps(result))
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
"""


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.002)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class TaskProcess:
    """One task run in its own process (forked by the zygote)."""

    def __init__(self, pid: int, done: Path, log: Path) -> None:
        self.pid, self.done, self.log = pid, done, log

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        wait_for(lambda: not alive(self.pid), "the killed task process to be gone", 10)

    def finish(self, timeout: float = 60.0) -> dict[str, Any]:
        wait_for(lambda: not alive(self.pid), "the task process to finish", timeout)
        assert self.done.exists(), f"the task failed:\n{self.tail()}"
        return json.loads(self.done.read_text())

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else "(no log)"


class Zygote:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ready = workdir / "zygote.ready"
        self.log = open(workdir / "zygote.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(self.ready)],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.tasks: list[TaskProcess] = []

    def start(self, name: str, config: dict[str, Any]) -> TaskProcess:
        """Fork a task process running ``config``; return at once (it runs in the background)."""
        wait_for(lambda: self.ready.exists() or self.proc.poll() is not None, "the zygote to import", 120)
        assert self.proc.poll() is None, (self.workdir / "zygote.log").read_text(errors="replace")[-4000:]
        files = {f"{kind}_file": self.workdir / f"{name}.{kind}" for kind in ("pid", "done", "log")}
        for path in files.values():
            path.unlink(missing_ok=True)
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({**config, **{k: str(v) for k, v in files.items()}}) + "\n").encode())
        self.proc.stdin.flush()
        pid_file = files["pid_file"]
        wait_for(lambda: pid_file.exists() and pid_file.read_text(), f"the zygote to fork {name}", 10)
        task = TaskProcess(int(pid_file.read_text()), files["done_file"], files["log_file"])
        self.tasks.append(task)
        return task

    def stop(self) -> None:
        for task in self.tasks:
            if alive(task.pid):
                os.kill(task.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    zygote = Zygote(tmp_path_factory.mktemp("crash"))
    yield zygote
    zygote.stop()


@pytest.fixture(scope="module")
def api() -> Iterator[FakeConversationsAPI]:
    """One fake for the module: static data (no faults, no deletions), so every run sees the same records."""
    fake = FakeConversationsAPI(
        generate_conversations(1500, seed=21, start=DAY, end=DAY + timedelta(days=1)), token=TOKEN, seed=21
    )
    with fake:
        yield fake


def operator_kwargs(bucket: str, aws_conn_id: str, max_records_per_file: int, **extra: Any) -> dict[str, Any]:
    return {
        "s3_bucket": bucket,
        "s3_prefix": PREFIX,
        "aws_conn_id": aws_conn_id,
        "window_size": timedelta(hours=1),
        "per_page": 20,
        "max_records_per_file": max_records_per_file,
        "compression": "gzip",
        **extra,
    }


_CLEAN: dict[int, dict[str, bytes]] = {}


def clean_objects(s3_client: Any, make_bucket: Callable[[str], str], max_records_per_file: int) -> dict[str, bytes]:
    """The objects of an uninterrupted run into an empty bucket: the reference a rerun must equal, and
    (with another ``max_records_per_file``) the previous complete run the crashed rerun writes over."""
    if max_records_per_file not in _CLEAN:
        clean = make_bucket("clean")
        ConversationsToS3Operator(
            task_id="in_process", **operator_kwargs(clean, "aws_default", max_records_per_file)
        ).execute({"data_interval_start": START, "data_interval_end": END})
        _CLEAN[max_records_per_file] = read_objects(s3_client, clean)
    return _CLEAN[max_records_per_file]


def manifest_key(token: str) -> str:
    return f"{PREFIX}/date=2025-03-10/_manifest-{token}.json"


def lease_key(token: str) -> str:
    return f"{PREFIX}/date=2025-03-10/_lease-{token}.json"


def window_parts(objects: dict[str, bytes], token: str) -> dict[str, bytes]:
    return {k: v for k, v in objects.items() if f"/part-{token}-" in k}


def version(manifest: bytes) -> bytes:
    """A manifest without its ``read_started_at``: what two reads of the same records share."""
    return comparable({"/_manifest-x": manifest})["/_manifest-x"]


# name: (where the kill lands, a previous complete run in the bucket, the target window after the kill)
CASES = {
    "while-paging": ("the target window is being read, none of its parts staged yet", True, "previous"),
    "while-staging": ("first part of the target window staged, the second's PUT held", False, "absent"),
    "while-staging-over-old-data": ("as while-staging, over a previous run with more parts", True, "previous"),
    "before-commit": ("every new part staged, the manifest's PUT held (dropped after the kill)", True, "previous"),
    "commit-lands-after-kill": ("the manifest's PUT held, then delivered after the task died", True, "new"),
    "before-old-parts-delete": ("manifest written, the DeleteObjects POST of the old parts held", True, "new"),
    "before-lease-release": ("old parts deleted, the lease's DELETE held (dropped after the kill)", True, "new"),
}
HOLDS = {
    "while-staging": lambda m, p, b: m == "PUT" and f"/part-{TARGET}-00001-" in p,
    "before-commit": lambda m, p, b: m == "PUT" and f"/_manifest-{TARGET}" in p,
    "before-old-parts-delete": lambda m, p, b: m == "POST" and f"/part-{TARGET}-".encode() in b,
    "before-lease-release": lambda m, p, b: m == "DELETE" and f"/_lease-{TARGET}" in p,
}
HOLDS["while-staging-over-old-data"] = HOLDS["while-staging"]
HOLDS["commit-lands-after-kill"] = HOLDS["before-commit"]


def window_states(objects: dict[str, bytes], clean: dict[str, bytes], previous: dict[str, bytes]) -> dict[str, str]:
    """Each window as a manifest-following reader sees it in ``objects`` (already checked whole by
    :func:`read_through_manifests`): ``absent``, ``previous``, ``new`` or ``unknown``."""
    states = {}
    for gte, _lt in expected_windows(START, END, timedelta(hours=1)):
        token = f"{gte[11:13]}0000-{int(gte[11:13]) + 1:02d}0000"
        key = manifest_key(token)
        if key not in objects:
            states[token] = "absent"
        elif objects[key] == previous.get(key):
            states[token] = "previous"
        elif version(objects[key]) == version(clean[key]):
            states[token] = "new"
        else:
            states[token] = "unknown"
    return states


def check_hold_point(case: str, objects: dict[str, bytes], clean: dict[str, bytes], previous: dict[str, bytes]) -> None:
    """What S3 holds for the target window while the request the kill aims at is held."""
    new_parts, old_parts = window_parts(clean, TARGET), window_parts(previous, TARGET)
    staged = window_parts(objects, TARGET)
    if case.startswith("while-staging"):
        # staged while the read goes on (parts upload concurrently, so the first may still be in flight),
        # each under the content-derived key and with the bytes a clean run writes; the held one not yet
        held = min(k for k in new_parts if "-00001-" in k)
        fresh = {k: v for k, v in staged.items() if k not in old_parts}
        assert held not in fresh and all(new_parts.get(k) == v for k, v in fresh.items()), sorted(fresh)
    else:
        assert all(staged.get(k) == v for k, v in new_parts.items())  # every new part is staged
    if case in ("while-staging-over-old-data", "before-commit", "commit-lands-after-kill", "before-old-parts-delete"):
        assert all(staged.get(k) == v for k, v in old_parts.items())  # the old version's parts are still there
    if case.startswith("while-staging") or case in ("before-commit", "commit-lands-after-kill"):
        assert objects.get(manifest_key(TARGET)) == previous.get(manifest_key(TARGET))  # not committed yet
    else:
        assert version(objects[manifest_key(TARGET)]) == version(clean[manifest_key(TARGET)])
    if case == "before-lease-release":
        assert staged == new_parts  # the old parts are deleted, only the lease is left
    assert (lease_key(TARGET) in objects) is not case.startswith("while-staging")  # a commit runs under the lease


@pytest.mark.parametrize("case", list(CASES))
def test_sigkill_then_rerun_converges(case, api, zygote, set_conn, s3_client, bucket, make_bucket, s3_proxy_factory):
    kill_point, previous_run, expected_target = CASES[case]
    api.latency = 0.0
    set_conn(api.url, TOKEN)
    clean = clean_objects(s3_client, make_bucket, NEW_FILE)
    if previous_run:  # the objects of a complete earlier run, copied in (the same bytes as running it)
        for key, body in clean_objects(s3_client, make_bucket, OLD_FILE).items():
            s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    previous = read_objects(s3_client, bucket)
    new_parts, old_parts = window_parts(clean, TARGET), window_parts(previous, TARGET)
    assert len(new_parts) >= 2 and not set(new_parts) & set(old_parts)  # the plan needs 2+ parts, new keys
    assert not previous_run or len(old_parts) > len(new_parts)  # and old parts the new version drops

    checker = CommitChecker(s3_client, bucket, PREFIX)
    checker()  # the windows committed before the run must stay committed
    proxy = s3_proxy_factory(after_mutation=checker)
    config = {
        "env": {
            "AIRFLOW_CONN_CONVERSATIONS_DEFAULT": conversations_conn(api.url, TOKEN, timeout=5, backoff_base=0.005),
            "AIRFLOW_CONN_AWS_PROXY": aws_conn(proxy.url),
        },
        "operator": dict(operator_kwargs(bucket, "aws_proxy", NEW_FILE), window_size=3600),
        "start": START.isoformat(),
        "end": END.isoformat(),
    }

    def seen(method: str, fragment: str) -> bool:
        return any(ex.method == method and fragment in ex.path for ex in list(proxy.log))

    hold = None
    if case == "while-paging":
        # One request at a time, each answer 250 ms late: the kill lands while the read is in the target
        # window (59 records on 3+ pages of 20; its parts are staged once the read has passed its end).
        api.latency = 0.25
        config["operator"]["max_concurrency"] = 1
        killed = zygote.start(f"{case}-killed", config)
        wait_for(lambda: seen("PUT", "_manifest-060000-070000.json"), "the first window's commit")
        requests = api.stats.requests
        wait_for(lambda: api.stats.requests > requests, "the target window's next request")
    else:
        hold = proxy.hold(HOLDS[case])
        killed = zygote.start(f"{case}-killed", config)
        wait_for(hold.arrived.is_set, f"the held request ({kill_point})")
        check_hold_point(case, snapshot(s3_client, bucket, PREFIX), clean, previous)

    killed.kill()
    if case == "while-paging":  # the kill did land before any write of the target window
        writes = [ex for ex in proxy.log if ex.method in ("PUT", "POST", "DELETE")]
        assert not any(TARGET in ex.path or TARGET.encode() in ex.body for ex in writes)
    if hold is not None:
        hold.release(forward=case == "commit-lands-after-kill")
    proxy.wait_idle()
    checker()
    after_kill = read_objects(s3_client, bucket)

    # What a manifest-following reader sees now: each window one whole committed version.
    committed = {w.manifest_key for w in read_through_manifests(s3_client, bucket, PREFIX)}
    assert committed == {k for k in after_kill if "/_manifest-" in k}
    states = window_states(after_kill, clean, previous)
    glob_rows = sum(len(gzip.decompress(body).splitlines()) for body in window_parts(after_kill, TARGET).values())
    expected_rows = json.loads(clean[manifest_key(TARGET)])["record_count"]

    api.latency = 0.0
    rerun = zygote.start(f"{case}-rerun", config)
    rerun.finish()
    checker()
    final = read_objects(s3_client, bucket)
    add_figure(
        "crash_cases",
        {
            "case": case,
            "kill_point": kill_point,
            "target_window_after_kill": states[TARGET],
            "windows_after_kill": states,
            "target_rows_a_glob_reader_would_see": f"{glob_rows} (complete: {expected_rows})",
            "s3_states_checked": checker.checks,
            "violations": len(checker.violations),
            "rerun_equals_clean_run": comparable(final) == comparable(clean),
            "objects": len(clean),
        },
    )
    assert checker.violations == []
    assert states[TARGET] == expected_target, states
    for token, state in states.items():  # never absent where a version was committed before
        assert state in (("previous", "new") if manifest_key(token) in previous else ("absent", "new")), states
    if case == "while-paging":
        # The first window was committed again; nothing else was touched: the read alone writes nothing.
        assert states["060000-070000"] == "new"
        untouched = {k: v for k, v in previous.items() if "060000-070000" not in k}
        assert {k: v for k, v in after_kill.items() if "060000-070000" not in k} == untouched
    if case in ("commit-lands-after-kill", "before-old-parts-delete"):
        assert lease_key(TARGET) in after_kill and set(old_parts) <= set(after_kill)  # left for the rerun
    assert sorted(final) == sorted(clean)  # no orphan part, no lease
    assert comparable(final) == comparable(clean)  # data objects and the table's marker byte for byte
    for key in final:
        if "/_manifest-" in key:  # the rerun committed every window again, from its own read
            assert json.loads(final[key])["read_started_at"] > json.loads(after_kill.get(key, b"{}")).get(
                "read_started_at", ""
            )
