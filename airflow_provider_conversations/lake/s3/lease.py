"""Two writers, one window: a lease object per window, taken with S3 conditional writes.

The daily export, the change sync and a manual rerun may rewrite the same window at the same moment.
Steps 2-5 of the commit protocol (``docs/layout.rst``) then run under the window's lease,
``{prefix}/date=YYYY-MM-DD/_lease-HHMMSS-HHMMSS.json``:

* **Take**: ``PUT`` with ``If-None-Match: *`` (S3 refuses it with 412 when the object exists). If
  another task holds it, wait (poll) until it is released, for at most ``wait_seconds``, then fail
  with :class:`~airflow_provider_conversations.exceptions.ConversationsWindowBusyError` naming the
  window and the holder. A lease whose holder is this same task (a retry after the worker died) or
  whose time is up (its holder died) is taken over with ``If-Match: <its ETag>``, so of two tasks
  taking over at once only one wins.
* **Check** before the manifest is written: the lease's ETag is still ours, else another task took
  it over (ours had expired) and may have replaced our parts: fail, writing no manifest.
* **Release**: ``DELETE`` with ``If-Match: <our ETag>`` (never deletes another task's lease).

So no manifest is ever committed that lists a part another task replaced or deleted, as long as a
publish takes less than ``lease_seconds`` (default 15 minutes; a window's publish takes seconds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsWindowBusyError
from airflow_provider_conversations.lake.export import WindowPublisher
from airflow_provider_conversations.lake.jsonl import LocalPart
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

#: How long a lease holds without its holder: far longer than one window's publish (seconds), short
#: enough that a window whose writer died is free again the same hour.
LEASE_SECONDS = 15 * 60
#: How long a second writer waits for a window's lease before it fails (a publish takes seconds).
WAIT_SECONDS = 10 * 60
#: How often a waiting writer asks again.
POLL_SECONDS = 2.0

_TAKEN = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
_RELEASED = "released meanwhile"


def lease_key(layout: PartitionLayout, window: Window) -> str:
    """Key of the window's lease: next to its manifest, hidden from globs like the manifest.

    :param layout: the table's key names.
    :param window: the window.
    """
    return f"{layout.partition(window)}/_lease-{layout.window_token(window)}.json"


def _code(err: Exception) -> str:
    """The S3 error code of a botocore ``ClientError`` (``""`` for any other error: botocore is not
    imported here, so importing the operator stays light).
    """
    response = getattr(err, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


@dataclass
class WindowLease:
    """The lease of one window (see the module docstring); :meth:`take`, :meth:`check`, :meth:`release`.

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the lease's key (:func:`lease_key`).
    :param window: the window, for messages.
    :param owner: who takes it: the task's identity (dag, task, run, map index).
    :param lease_seconds: how long it holds.
    :param wait_seconds: how long to wait for another holder.
    :param poll_seconds: how often to ask again while waiting.
    :param sleep: the wait function (tests pass a fake clock's).
    :param clock: the current time.
    :param extra_args: upload arguments of every object the task writes (the operator's ``s3_extra_args``,
        e.g. the encryption a locked-down bucket demands), applied to the lease object too.
    """

    client: Any
    bucket: str
    key: str
    window: Window
    owner: str
    lease_seconds: float = LEASE_SECONDS
    wait_seconds: float = WAIT_SECONDS
    poll_seconds: float = POLL_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    extra_args: Mapping[str, Any] = field(default_factory=dict)
    etag: str | None = None

    def _body(self) -> bytes:
        expires = self.clock() + timedelta(seconds=self.lease_seconds)
        return json.dumps({"owner": self.owner, "expires_at": format_timestamp(expires)}, sort_keys=True).encode()

    def _name(self) -> str:
        return f"[{format_timestamp(self.window.start)}, {format_timestamp(self.window.end)})"

    def take(self) -> None:
        """Take the lease, waiting for another holder for at most ``wait_seconds``.

        :raises ConversationsWindowBusyError: another task held it all that time.
        """
        deadline = time.monotonic() + self.wait_seconds
        while True:
            holder = self._try_take()
            if holder is None:
                return
            if holder is _RELEASED:
                continue  # released between our PUT and our GET: try again at once
            if time.monotonic() >= deadline:
                raise ConversationsWindowBusyError(
                    f"window {self._name()} is being written by another task ({holder}; lease "
                    f"s3://{self.bucket}/{self.key}); waited {self.wait_seconds:.0f}s. Run this task again once "
                    "that one is done, or delete the lease object if no task holds it.",
                    window=f"{self._name()} {self.key}",
                    owner=holder,
                )
            self.sleep(self.poll_seconds)

    def _try_take(self) -> str | None:
        """One attempt: ``None`` when taken, else a description of the holder."""
        try:
            self.etag = self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), IfNoneMatch="*", **self.extra_args
            )["ETag"]
            return None
        except Exception as err:
            if _code(err) not in _TAKEN:
                raise
        try:
            current = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except Exception as err:
            if _code(err) in ("NoSuchKey", "404"):
                return _RELEASED
            raise
        holder = self._holder(current["Body"].read())
        owner, expires = holder
        if owner != self.owner and (expires is None or expires > self.clock()):
            return f"held by {owner} until {format_timestamp(expires) if expires else '?'}"
        try:  # ours from an earlier try of this task, or expired: take it over, if nobody else does first
            put = self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), IfMatch=current["ETag"], **self.extra_args
            )
        except Exception as err:
            if _code(err) in (*_TAKEN, "NoSuchKey", "404"):
                return f"taken over by another task from {owner}"
            raise
        self.etag = put["ETag"]
        return None

    @staticmethod
    def _holder(raw: bytes) -> tuple[str, datetime | None]:
        try:
            body = json.loads(raw)
            return str(body["owner"]), parse_timestamp(body["expires_at"], "expires_at")
        except (ValueError, KeyError, TypeError):
            return "an unreadable lease", None  # expires never: a human must look at it

    def check(self) -> None:
        """Check that the lease is still ours (just before the manifest is written).

        :raises ConversationsDestinationError: it is not (it expired and another task took it over).
        """
        try:
            etag = self.client.head_object(Bucket=self.bucket, Key=self.key)["ETag"]
        except Exception as err:
            if _code(err) not in ("NoSuchKey", "404"):
                raise
            etag = None
        if etag != self.etag:
            raise ConversationsDestinationError(
                f"window {self._name()}: this task's lease s3://{self.bucket}/{self.key} expired and another task "
                "took the window over; this task's parts may have been replaced, so it writes no manifest"
            )

    def release(self) -> None:
        """Delete the lease if it is still ours (a lease another task took over stays)."""
        if self.etag is None:
            return
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except Exception as err:
            if _code(err) not in (*_TAKEN, "NoSuchKey", "404"):
                raise
        finally:
            self.etag = None


class LeasedWindowPublisher(WindowPublisher):
    """A :class:`~airflow_provider_conversations.lake.export.WindowPublisher` that publishes each window under
    its lease, and lists the window's day partition afresh once it holds it (another task may have
    written the window since this one started).

    :param s3: the S3 hook.
    :param bucket: destination bucket.
    :param layout: key names.
    :param owner: this task's identity, written into its leases.
    :param lease_options: further keyword arguments of :class:`WindowLease` (``lease_seconds``,
        ``wait_seconds``, ``poll_seconds``, ``sleep``, ``clock``).
    """

    def __init__(self, s3: S3Hook, bucket: str, layout: PartitionLayout, *, owner: str, **lease_options: Any) -> None:
        super().__init__(s3, bucket, layout)
        self.owner, self.lease_options = owner, lease_options
        self._leases: dict[Window, WindowLease] = {}

    def existing(self, window: Window) -> frozenset[str]:
        """Keys in the window's day partition now (listed under the window's lease)."""
        return frozenset(self.s3.list_keys(bucket_name=self.bucket, prefix=f"{self.layout.partition(window)}/") or [])

    def publish(self, window: Window, parts: list[LocalPart], manifest: bytes) -> tuple[list[str], int]:
        """Take the window's lease, publish the window (steps 2-5), release the lease.

        :raises ConversationsWindowBusyError: another task held the lease longer than ``wait_seconds``.
        """
        lease = WindowLease(
            self.s3.get_conn(),
            self.bucket,
            lease_key(self.layout, window),
            window,
            self.owner,
            extra_args=dict(getattr(self.s3, "extra_args", None) or {}),
            **self.lease_options,
        )
        lease.take()
        with self._lock:
            self._leases[window] = lease
        try:
            return super().publish(window, parts, manifest)
        finally:
            with self._lock:
                self._leases.pop(window, None)
            lease.release()

    def before_commit(self, window: Window) -> None:
        """Check that this task still holds the window's lease (see :meth:`WindowLease.check`)."""
        with self._lock:
            lease = self._leases[window]
        lease.check()


def task_owner(context: Any, task_id: str) -> str:
    """This task's identity for its leases: ``dag/task/run/map index``, or ``task <task_id>`` without a
    task instance in the context (tests calling ``execute`` directly).

    A retry of the same task instance takes over the leases an earlier try left (its worker died):
    Airflow runs one try at a time.

    :param context: the task context.
    :param task_id: the operator's task id.
    """
    ti = context.get("ti") if hasattr(context, "get") else None
    if ti is None:
        return f"task {task_id}"
    return f"{ti.dag_id}/{ti.task_id}/{ti.run_id}/{getattr(ti, 'map_index', -1)}"
