"""Two writers, one window: the lease per window, taken with S3 conditional writes on moto's server, renewed
while held, lapsing soon after its holder died."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsWindowBusyError
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.s3.lease import WindowLease, lease_key
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.version_compat import AIRFLOW_V_3_0_PLUS
from tests.conftest import TOKEN
from tests.integration.conftest import read_objects, run_output

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
WINDOW = Window(DAY + timedelta(hours=6), DAY + timedelta(hours=7))
LAYOUT = PartitionLayout("p")
KEY = lease_key(LAYOUT, WINDOW)


def lease(s3_client, bucket: str, owner: str, **kwargs) -> WindowLease:
    kwargs.setdefault("wait_seconds", 0.0)
    kwargs.setdefault("poll_seconds", 0.01)
    kwargs.setdefault("renew", False)
    return WindowLease(s3_client, bucket, KEY, WINDOW, owner, **kwargs)


def test_a_second_writer_logs_who_holds_the_window_then_fails_saying_how_to_free_it(
    s3_client, bucket, caplog, capsys
):
    caplog.set_level("INFO")
    first = lease(s3_client, bucket, "dag/export/run1/-1")
    first.take()
    with pytest.raises(
        ConversationsWindowBusyError, match=r"window \[2025-01-03T06:00:00.000000Z, .*held by dag/export"
    ) as err:
        lease(s3_client, bucket, "dag/sync/run7/-1", wait_seconds=0.05).take()
    assert err.value.owner.startswith("held by dag/export/run1/-1 since 20") and KEY in err.value.window
    assert "clear its task instance" in str(err.value) and "lapses by itself" in str(err.value)
    waiting = [line for line in run_output(capsys, caplog).splitlines() if "waiting up to" in line]
    assert waiting and "is held by dag/export/run1/-1 since" in waiting[0] and " until " in waiting[0]
    first.release()
    lease(s3_client, bucket, "dag/sync/run7/-1").take()  # free again


def test_a_dead_holders_lease_lapses_within_lease_seconds(s3_client, bucket):
    dead = lease(s3_client, bucket, "dag/export/run1/-1", lease_seconds=1.0)
    dead.take()  # and the worker dies: nobody renews or releases it
    other = lease(s3_client, bucket, "dag/sync/run2/-1", wait_seconds=10, poll_seconds=0.1)
    started = datetime.now(UTC)
    other.take()
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    assert json.loads(s3_client.get_object(Bucket=bucket, Key=KEY)["Body"].read())["owner"] == "dag/sync/run2/-1"


def test_a_live_holder_keeps_its_lease_by_renewing_it(s3_client, bucket):
    alive = lease(s3_client, bucket, "dag/export/run1/-1", lease_seconds=3, renew=True)
    alive.take()
    with pytest.raises(ConversationsWindowBusyError):
        lease(s3_client, bucket, "dag/sync/run2/-1", wait_seconds=6.5, poll_seconds=0.3).take()
    alive.check()  # still ours after more than two lease periods
    alive.release()


def test_the_same_task_or_an_expired_lease_is_taken_over_and_the_loser_cannot_commit(s3_client, bucket):
    now = [DAY]
    dead = lease(s3_client, bucket, "dag/export/run1/-1", clock=lambda: now[0], lease_seconds=60)
    dead.take()
    retry = lease(s3_client, bucket, "dag/export/run1/-1", clock=lambda: now[0])
    retry.take()  # a retry of the same task instance (its worker died)
    with pytest.raises(ConversationsDestinationError, match="lapsed and another task took the window over"):
        dead.check()
    other = lease(s3_client, bucket, "dag/sync/run2/-1", clock=lambda: now[0])
    with pytest.raises(ConversationsWindowBusyError):
        other.take()  # another task, the lease not expired
    now[0] += timedelta(seconds=61)
    other.take()  # lapsed (60 seconds without renewal): taken over
    retry.release()  # not its lease any more: left alone
    assert json.loads(s3_client.get_object(Bucket=bucket, Key=KEY)["Body"].read())["owner"] == "dag/sync/run2/-1"


def test_two_tasks_on_one_window_commit_one_after_the_other(
    conversations_api_factory, set_conn, s3_client, bucket, monkeypatch
):
    """Writer A is held inside its commit (lease taken, parts staged); B, whose read began later, waits for
    the lease, then replaces the window. The manifest in the end lists exactly the parts in S3, with their bytes.
    """
    from airflow_provider_conversations.testing import generate_conversations

    records = [
        r
        for r in generate_conversations(3000, seed=5)
        if WINDOW.start <= datetime.fromisoformat(r["created_at"]) < WINDOW.end
    ]
    api = conversations_api_factory(records=records, token=TOKEN)
    set_conn(api.url, TOKEN)
    inside, go_on = threading.Event(), threading.Event()
    real = WindowLease.check

    def held(self):
        if self.owner == "task a":
            inside.set()
            assert go_on.wait(30)
        real(self)

    errors: list[BaseException] = []

    def run(task_id: str, per_file: int) -> None:
        if not AIRFLOW_V_3_0_PLUS:
            # Airflow 2.11's "execute outside a TaskInstance" check keeps a per-thread registry that only the
            # main thread has: give this thread its own.
            from airflow.models.baseoperator import ExecutorSafeguard

            ExecutorSafeguard._sentinel.callers = {}
        op = ConversationsToS3Operator(task_id=task_id, s3_bucket=bucket, s3_prefix="p", max_records_per_file=per_file)
        op.lease_wait_seconds = 30
        try:
            op.execute({"data_interval_start": WINDOW.start, "data_interval_end": WINDOW.end})
        except BaseException as err:  # reported below, in the test thread
            errors.append(err)

    monkeypatch.setattr(WindowLease, "check", held)
    a = threading.Thread(target=run, args=("a", 2))
    a.start()
    assert inside.wait(30), errors
    b = threading.Thread(target=run, args=("b", 1000))
    b.start()
    b.join(0.5)
    assert b.is_alive(), "B must wait for A's lease"
    go_on.set()
    a.join(30)
    b.join(30)
    assert not errors and len(records) > 2
    objects = read_objects(s3_client, bucket, "p/")
    manifest = json.loads(objects["p/date=2025-01-03/_manifest-060000-070000.json"])
    parts = sorted(k for k in objects if "/part-" in k)
    assert [p["key"] for p in manifest["parts"]] == parts and len(parts) == 1  # B's version: one part
    assert parts[0].startswith("p/date=2025-01-03/part-060000-070000-00000-")
    assert all(hashlib.md5(objects[p["key"]]).hexdigest() == p["md5"] for p in manifest["parts"])
    assert not any("/_lease-" in k for k in objects)


def test_the_lease_object_carries_only_the_control_object_extra_args(s3_client, bucket):
    # A bucket that refuses PUTs without SSE headers must accept the lease too; a storage class or metadata
    # meant for data parts stays off it.
    extra = {"ServerSideEncryption": "AES256", "Metadata": {"team": "lake"}, "StorageClass": "GLACIER"}
    held = lease(s3_client, bucket, "dag/export/run1/-1", extra_args=extra)
    held.take()
    head = s3_client.head_object(Bucket=bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256" and head["Metadata"] == {}
    assert head.get("StorageClass", "STANDARD") == "STANDARD"
    held.release()


def test_a_glacier_class_task_killed_mid_commit_is_taken_over_by_its_retry(s3_client, bucket):
    extra = {"StorageClass": "GLACIER"}
    lease(s3_client, bucket, "dag/export/run1/-1", extra_args=extra).take()  # killed: never released
    retry = lease(s3_client, bucket, "dag/export/run1/-1", extra_args=extra)
    retry.take()
    retry.check()
    retry.release()
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket, Prefix=KEY)


def test_sse_c_is_sent_on_every_request_that_touches_the_lease(s3_client, bucket):
    import base64
    import os

    key = base64.b64encode(os.urandom(32)).decode()[:32]
    extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    lease(s3_client, bucket, "dag/export/run1/-1", extra_args=extra).take()  # killed
    retry = lease(s3_client, bucket, "dag/export/run1/-1", extra_args=extra)
    retry.take()  # reads the holder with the key
    retry.check()  # HEAD with the key
    retry.release()
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket, Prefix=KEY)
