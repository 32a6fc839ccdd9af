"""Two writers, one window: a short lease object per window, taken with S3 conditional writes and renewed.

The daily export, the change sync and a manual rerun may commit the same window at the same moment.
The commit (``docs/layout.rst``) runs under the window's lease,
``{prefix}/date=YYYY-MM-DD/_lease-HHMMSS-HHMMSS.json``:

* **Take**: ``PUT`` with ``If-None-Match: *`` (S3 refuses it with 412 when the object exists). If
  another task holds it, wait, logging who holds it, since when and until when, at once and every
  30 s, for at most ``wait_seconds``; then fail with
  :class:`~airflow_provider_conversations.exceptions.ConversationsWindowBusyError`, which says how to
  free the window. A lease whose holder is this same task (a retry after the worker died) or whose
  time is up (its holder died) is taken over with ``If-Match: <its ETag>``, so of two tasks taking
  over at once only one wins.
* **Renew**: while held, a thread re-writes it (``If-Match``) every ``lease_seconds / 3``, so a live
  holder keeps it however long its commit takes, and a dead holder's lease lapses within
  ``lease_seconds`` (default one minute).
* **Check** before the manifest is written: the lease's ETag is still ours, else another task took
  it over (ours lapsed) and may have replaced our parts: fail, writing no manifest.
* **Release**: ``DELETE`` with ``If-Match: <our ETag>`` (never deletes another task's lease). A failed
  release is logged as a warning: the lease then lapses by itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsWindowBusyError
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.settings import control_object_args, read_back_args
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

#: How long a lease holds without a renewal: a dead holder blocks its window at most this long.
LEASE_SECONDS = 60.0
#: How long a second writer waits for a window's lease before it fails (a commit takes seconds).
WAIT_SECONDS = 10 * 60.0
#: How often a waiting writer asks again.
POLL_SECONDS = 2.0
#: How long a release waits for a renewal in flight (its new ETag is then the one to delete).
RELEASE_JOIN_SECONDS = 5.0
#: How often a waiting writer logs who holds the window.
WAIT_LOG_SECONDS = 30.0

_TAKEN = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
_GONE = ("NoSuchKey", "404", "NotFound")


def lease_key(layout: PartitionLayout, window: Window) -> str:
    """Key of the window's lease: next to its manifest, hidden from globs like the manifest.

    :param layout: the table's key names.
    :param window: the window.
    """
    return f"{layout.partition(window)}/_lease-{layout.window_token(window)}.json"


def s3_error_code(err: Exception) -> str:
    """The S3 error code of a botocore ``ClientError`` (``""`` for any other error)."""
    response = getattr(err, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, as its object says."""

    owner: str
    taken_at: datetime | None
    expires_at: datetime | None

    def describe(self) -> str:
        since = format_timestamp(self.taken_at) if self.taken_at else "?"
        until = format_timestamp(self.expires_at) if self.expires_at else "never (unreadable lease)"
        return f"held by {self.owner} since {since} until {until}"

    @classmethod
    def parse(cls, raw: bytes) -> Holder:
        try:
            body = json.loads(raw)
            taken = body.get("taken_at")
            return cls(
                str(body["owner"]),
                parse_timestamp(taken, "taken_at") if taken else None,
                parse_timestamp(body["expires_at"], "expires_at"),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls("an unreadable lease", None, None)  # lapses never: a human must look at it


@dataclass
class WindowLease:
    """The lease of one window (see the module docstring): :meth:`take`, :meth:`check`, :meth:`release`.

    :param client: a boto3 S3 client.
    :param bucket: the bucket.
    :param key: the lease's key (:func:`lease_key`).
    :param window: the window, for messages.
    :param owner: who takes it: the task's identity (dag, task, run, map index).
    :param lease_seconds: how long it holds without a renewal.
    :param wait_seconds: how long to wait for another holder.
    :param poll_seconds: how often to ask again while waiting.
    :param sleep: the wait function (tests pass a fake clock's).
    :param clock: the current time.
    :param extra_args: the task's ``s3_extra_args``; the lease takes only the control-object ones
        (encryption, ACLs) and repeats SSE-C on every read.
    :param renew: renew the lease from a thread while it is held.
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
    renew: bool = True
    etag: str | None = field(default=None, init=False)
    _taken_at: datetime | None = field(default=None, init=False, repr=False)
    _token: str = field(default="", init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _renewer: threading.Thread | None = field(default=None, init=False, repr=False)

    def _body(self) -> bytes:
        now = self.clock()
        body = {
            "owner": self.owner,
            "taken_at": format_timestamp(self._taken_at or now),
            "expires_at": format_timestamp(now + timedelta(seconds=self.lease_seconds)),
            "token": self._token,  # each take's own, so two takes never share an ETag
        }
        return json.dumps(body, sort_keys=True).encode()

    def _name(self) -> str:
        return self.window.label

    def _put(self, **condition: str) -> str:
        return str(
            self.client.put_object(
                Bucket=self.bucket, Key=self.key, Body=self._body(), **condition, **control_object_args(self.extra_args)
            )["ETag"]
        )

    def take(self) -> None:
        """Take the lease, waiting for another holder for at most ``wait_seconds``; then renew it while held.

        :raises ConversationsWindowBusyError: another task held it all that time.
        """
        started = time.monotonic()
        next_log = started
        while True:
            holder = self._try_take()
            if holder is None:
                self._start_renewing()
                return
            waited = time.monotonic() - started
            if time.monotonic() >= next_log:
                log.info(
                    "Window %s is %s (lease s3://%s/%s); waiting up to %.0fs more",
                    self._name(),
                    holder.describe(),
                    self.bucket,
                    self.key,
                    max(0.0, self.wait_seconds - waited),
                )
                next_log = time.monotonic() + WAIT_LOG_SECONDS
            if waited >= self.wait_seconds:
                raise ConversationsWindowBusyError(
                    f"window {self._name()} is being written by another task ({holder.describe()}; lease "
                    f"s3://{self.bucket}/{self.key}); waited {waited:.0f}s. If that task is still running, run this "
                    "one again once it is done. If it died, its lease lapses by itself at the time above (at most "
                    f"{self.lease_seconds:.0f}s after its last renewal); clear its task instance in Airflow (or mark "
                    "it failed) so nothing retries it mid-commit, then run this task again.",
                    window=f"{self._name()} {self.key}",
                    owner=holder.describe(),
                )
            self.sleep(self.poll_seconds)

    def _try_take(self) -> Holder | None:
        """One attempt: ``None`` when taken, else who holds it."""
        self._taken_at, self._token = self.clock(), uuid.uuid4().hex
        try:
            with self._lock:
                self.etag = self._put(IfNoneMatch="*")
            return None
        except Exception as err:
            if s3_error_code(err) not in _TAKEN:
                raise
        try:
            current = self.client.get_object(Bucket=self.bucket, Key=self.key, **read_back_args(self.extra_args))
        except Exception as err:
            if s3_error_code(err) in _GONE:
                return self._try_take()  # released between our PUT and our GET: at once again
            raise
        holder = Holder.parse(current["Body"].read())
        if holder.owner != self.owner and (holder.expires_at is None or holder.expires_at > self.clock()):
            return holder
        try:  # ours from an earlier try of this task, or lapsed: take it over, if nobody else does first
            with self._lock:
                self.etag = self._put(IfMatch=current["ETag"])
        except Exception as err:
            if s3_error_code(err) in (*_TAKEN, *_GONE):
                return Holder(f"another task that took it over from {holder.owner}", None, None)
            raise
        return None

    def _start_renewing(self) -> None:
        if not self.renew:
            return
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, name=f"lease {self.key}", daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease_seconds / 3):
            with self._lock:
                etag = self.etag
            if etag is None:
                return
            try:  # the request goes out without the lock: a slow answer never holds up check() or release()
                renewed = self._put(IfMatch=etag)
            except Exception as err:  # check() reports a lost lease; a transient error is retried next round
                if s3_error_code(err) in (*_TAKEN, *_GONE):
                    log.warning("Lost the lease s3://%s/%s: another task took it over", self.bucket, self.key)
                    return
                continue
            with self._lock:
                if self.etag == etag:  # not released meanwhile
                    self.etag = renewed

    def check(self) -> None:
        """Check that the lease is still ours (just before the manifest is written).

        :raises ConversationsDestinationError: it is not (it lapsed and another task took it over).
        """
        try:
            etag = self.client.head_object(Bucket=self.bucket, Key=self.key, **read_back_args(self.extra_args))["ETag"]
        except Exception as err:
            if s3_error_code(err) not in _GONE:
                raise
            etag = None
        with self._lock:
            ours = self.etag
        if etag != ours or ours is None:
            raise ConversationsDestinationError(
                f"window {self._name()}: this task's lease s3://{self.bucket}/{self.key} lapsed and another task "
                "took the window over; this task's parts may have been replaced, so it writes no manifest"
            )

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours. Never raises: a failure is a warning."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(RELEASE_JOIN_SECONDS)  # a renewal stuck in a slow request is not waited for
            self._renewer = None
        with self._lock:
            etag, self.etag = self.etag, None
        if etag is None:
            return
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=etag)
        except Exception as err:
            if s3_error_code(err) not in (*_TAKEN, *_GONE):
                log.warning(
                    "Could not release the lease s3://%s/%s (%s); it lapses by itself within %.0fs",
                    self.bucket,
                    self.key,
                    s3_error_code(err) or type(err).__name__,
                    self.lease_seconds,
                )


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
