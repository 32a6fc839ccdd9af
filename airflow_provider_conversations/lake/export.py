"""Export a range: API -> local JSONL or Parquet parts per window -> S3, each window committed by a manifest written last.

The range is read once, in ``created_at`` order (:meth:`ConversationsHook.read_pages`); records
are routed into their windows' local part files, and a window is published as soon as the read has
passed its end, while the read goes on. The protocol per window (documented in ``docs/layout.rst``):

1. Read the whole window into local part files (a temp dir; memory stays bounded). Nothing in S3 is
   touched until the window is fully read, so a failure while paging leaves the previous state.
2. Delete the window's manifest, if there is one: from here on the window reads as incomplete.
3. Upload the parts under their deterministic keys (overwriting), multipart for large parts.
4. Delete the window's data objects that this attempt did not write (stale parts of an earlier one).
5. Write the manifest. The window is complete, and readers may trust exactly the parts it lists.

:class:`WindowPublisher` lists what exists once per day partition, before the first of our writes to
it, so a fresh window costs two S3 requests (its part and its manifest), an empty one a single request.
The operators use :class:`~airflow_provider_conversations.lake.s3.lease.LeasedWindowPublisher`, which runs
steps 2-5 under a lease per window and lists the partition afresh under it (two writers, one window).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.lake.formats import new_part_writer
from airflow_provider_conversations.lake.jsonl import LocalPart
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.schema import schema_description
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.reading.walk import TimedRecord
from airflow_provider_conversations.timestamps import format_timestamp

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

MANIFEST_VERSION = 1


@dataclass
class WindowResult:
    """What one window's export did (goes to XCom through :meth:`summary`)."""

    window: Window
    records: int = 0
    #: bytes of the window's data objects (not in :meth:`summary`; the lineage's output size)
    size: int = 0
    pages: int = 0
    keys: list[str] = field(default_factory=list)
    manifest_key: str = ""
    deleted_stale: int = 0
    seconds: float = 0.0
    remaining_budget: int | None = None

    def summary(self) -> dict[str, Any]:
        """A small JSON-safe dict: bounds, counts and keys, never records."""
        return {
            "created_at_gte": format_timestamp(self.window.start),
            "created_at_lt": format_timestamp(self.window.end),
            "records": self.records,
            "pages": self.pages,
            "keys": self.keys,
            "manifest": self.manifest_key,
        }


def manifest_bytes(
    window: Window, layout: PartitionLayout, parts: list[LocalPart], filters: ConversationFilters
) -> bytes:
    """The window's manifest: deterministic for the same records (no wall-clock time in it).

    A Parquet window's manifest also records ``file_format`` and the files' ``schema``; a JSONL
    manifest has neither (its bytes are those of earlier releases).
    """
    body: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "complete": True,
        "created_at_gte": format_timestamp(window.start),
        "created_at_lt": format_timestamp(window.end),
        "record_count": sum(p.records for p in parts),
        "compression": layout.compression,
        "filters": filters.as_dict(),
        "parts": [
            {"key": layout.part_key(window, n), "records": p.records, "bytes": p.size, "md5": p.md5}
            for n, p in enumerate(parts)
        ],
    }
    if layout.file_format != "jsonl":
        body["file_format"] = layout.file_format
        body["schema"] = schema_description(layout.file_format)
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")


class WindowPublisher:
    """Steps 2-5 of the protocol for windows of one task; thread-safe.

    :param s3: the S3 hook.
    :param bucket: destination bucket.
    :param layout: key names.
    """

    def __init__(self, s3: S3Hook, bucket: str, layout: PartitionLayout) -> None:
        self.s3, self.bucket, self.layout = s3, bucket, layout
        self._listed: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def existing(self, window: Window) -> frozenset[str]:
        """Keys in the window's day partition before this task wrote to it (listed once per day)."""
        partition = self.layout.partition(window)
        with self._lock:
            if partition not in self._listed:
                keys = self.s3.list_keys(bucket_name=self.bucket, prefix=f"{partition}/") or []
                self._listed[partition] = frozenset(keys)
            return self._listed[partition]

    def publish(self, window: Window, parts: list[LocalPart], manifest: bytes) -> tuple[list[str], int]:
        """Publish a fully read window; return the data keys written and the number of stale keys deleted."""
        existing = self.existing(window)
        manifest_key = self.layout.manifest_key(window)
        if manifest_key in existing:
            self.s3.delete_objects(self.bucket, [manifest_key])
        keys = [self.layout.part_key(window, n) for n in range(len(parts))]
        for part, key in zip(parts, keys, strict=True):
            self.s3.load_file(part.path, key=key, bucket_name=self.bucket, replace=True)
        part_prefix, written = self.layout.part_prefix(window), set(keys)
        stale = sorted(k for k in existing if k.startswith(part_prefix) and k not in written)
        if stale:
            self.s3.delete_objects(self.bucket, stale)
        self.before_commit(window)
        self.s3.load_bytes(manifest, key=manifest_key, bucket_name=self.bucket, replace=True)
        return keys, len(stale)

    def before_commit(self, window: Window) -> None:
        """Called just before the window's manifest is written; raise to write none (default: nothing).

        :param window: the window about to be committed.
        """


_Item = tuple[dict[str, Any], datetime, int]


def ties_sorted_by_id(items: Iterable[_Item]) -> Iterator[_Item]:
    """Re-order records that share one ``created_at`` by ``id``, so reruns write the same bytes.

    :param items: ``(record, created_at, page serial)`` in ``created_at`` order; only a run of equal
        timestamps is held in memory.
    """
    group: list[_Item] = []
    for item in items:
        if group and item[1] != group[0][1]:
            yield from sorted(group, key=lambda i: str(i[0]["id"])) if len(group) > 1 else group
            group = []
        group.append(item)
    yield from sorted(group, key=lambda i: str(i[0]["id"])) if len(group) > 1 else group


class _OpenWindow:
    """A window being read: its local part files."""

    def __init__(self, result: WindowResult, layout: PartitionLayout, max_records: int, tmp_dir: str | Path | None):
        self.result = result
        self.tmp = tempfile.TemporaryDirectory(prefix="conversations-", dir=tmp_dir)
        self.writer = new_part_writer(
            Path(self.tmp.name), file_format=layout.file_format, compression=layout.compression, max_records=max_records
        )
        self.last_page = -1


class RangeExport:
    """Route the records of one ordered read into ``windows`` and publish each window once the read has passed it.

    Drive it with :meth:`route` for every record in ``created_at`` order, then :meth:`finish`; on any
    failure call :meth:`abort` (:meth:`run` does all three). Windows are published by
    ``publish_concurrency`` threads while the read goes on; at most ``2 x publish_concurrency``
    windows wait read but unpublished, then :meth:`route` blocks (memory and disk stay bounded).

    Failure semantics: a window is committed (its manifest written) only after every one of its parts
    is uploaded, so a failed publish leaves that window uncommitted. Once a failed publish is known,
    no further window is handed to the publishers; windows already handed over are still published.

    :param windows: contiguous windows in order.
    :param publisher: publishes a window (steps 2-5 of the module docstring).
    :param filters: the filters of the read (recorded in the manifests).
    :param max_records_per_file: records per data object, at most.
    :param publish_concurrency: windows published at once (0: in the calling thread, the read waiting).
    :param tmp_dir: where local part files go (default: the system's temp dir).
    :param on_published: called with each window's result once it is committed (from a publishing thread).
    """

    def __init__(
        self,
        windows: list[Window],
        publisher: WindowPublisher,
        *,
        filters: ConversationFilters,
        max_records_per_file: int = 100_000,
        publish_concurrency: int = 2,
        tmp_dir: str | Path | None = None,
        on_published: Callable[[WindowResult], None] | None = None,
    ) -> None:
        self.windows, self.publisher, self.filters = windows, publisher, filters
        self.max_records_per_file, self.tmp_dir, self.on_published = max_records_per_file, tmp_dir, on_published
        self.results = [WindowResult(w, manifest_key=publisher.layout.manifest_key(w)) for w in windows]
        #: ``x-ratelimit-remaining-minute`` of the last page read, recorded in each window's result.
        self.remaining_budget: int | None = None
        self._slots = threading.BoundedSemaphore(2 * max(1, publish_concurrency))  # windows read, not published
        self._pool = (
            ThreadPoolExecutor(max_workers=publish_concurrency, thread_name_prefix="conversations-publish")
            if publish_concurrency > 0
            else None
        )
        self._publishing: list[Future[None]] = []
        self._index = 0  # the window records go to now
        self._open: _OpenWindow | None = None  # its local files, once it has a record
        self._started = time.monotonic()

    def run(self, pages: Iterable[tuple[Page, list[TimedRecord]]]) -> list[WindowResult]:
        """Route every record of the read, then finish; on any failure, abort and raise.

        :param pages: the read, in ``created_at`` order.
        :return: one result per window, in order.
        """
        try:
            for record, ts, serial in ties_sorted_by_id(self.items(pages)):
                self.route(record, ts, serial)
            return self.finish()
        except BaseException:
            self.abort()
            raise

    def items(self, pages: Iterable[tuple[Page, list[TimedRecord]]]) -> Iterator[_Item]:
        """Flatten the read into ``(record, created_at, page serial)``, noting each page's remaining budget.

        :param pages: the read, in ``created_at`` order.
        """
        for serial, (page, timed) in enumerate(pages):
            if page.remaining is not None:
                self.remaining_budget = page.remaining
            for record, ts in timed:
                yield record, ts, serial

    def route(self, record: dict[str, Any], created_at: datetime, serial: int) -> None:
        """Write one record into its window's local part files, closing first every window it has passed.

        :param record: the record, exactly as the API returned it.
        :param created_at: its parsed ``created_at`` (not before the previous record's).
        :param serial: the serial number of the page it came on (counts the window's pages).
        :raises Exception: a failed publish of an earlier window, or a local write error; call
            :meth:`abort` then. Nothing of the current window has reached S3.
        """
        if self._index >= len(self.windows) or created_at >= self.windows[self._index].end:  # (a hot path)
            self.close_until(created_at)
            if self._index >= len(self.windows):
                raise RuntimeError(f"a record created at {format_timestamp(created_at)}, after the last window")
        if self._open is None:
            self._open = _OpenWindow(
                self.results[self._index], self.publisher.layout, self.max_records_per_file, self.tmp_dir
            )
        self._open.writer.write(record)
        if serial != self._open.last_page:
            self._open.result.pages += 1
            self._open.last_page = serial

    def close_until(self, created_at: datetime | None) -> None:
        """Hand every window that ends at or before ``created_at`` (``None``: every window left) to the publishers.

        :param created_at: how far the read has come.
        :raises Exception: the error of a publish that failed (before any further window is handed
            over); call :meth:`abort` then.
        """
        while self._index < len(self.windows) and (created_at is None or created_at >= self.windows[self._index].end):
            self._raise_failed_publish()
            self._slots.acquire()  # blocks while too many windows wait to be published
            try:
                self._raise_failed_publish()  # one may have failed while we waited
            except BaseException:
                self._slots.release()
                raise
            result, state, started = self.results[self._index], self._open, self._started
            result.remaining_budget = self.remaining_budget
            self._open = None
            if self._pool is None:
                self.publish(result, state, started)
            else:
                self._publishing.append(self._pool.submit(self.publish, result, state, started))
            self._index, self._started = self._index + 1, time.monotonic()

    def publish(self, result: WindowResult, state: _OpenWindow | None, started: float) -> None:
        """Finish a window's local parts, write its manifest bytes and publish it (steps 2-5).

        Its local files are removed whatever happens.

        :param result: the window's result, filled in here.
        :param state: its local files (``None``: an empty window).
        :param started: when the window's read began (``time.monotonic()``), for ``result.seconds``.
        :raises Exception: what the publisher raised; the window then has no manifest (uncommitted).
        """
        try:
            parts = state.writer.close() if state else []
            result.records = sum(p.records for p in parts)
            result.size = sum(p.size for p in parts)
            manifest = manifest_bytes(result.window, self.publisher.layout, parts, self.filters)
            result.keys, result.deleted_stale = self.publisher.publish(result.window, parts, manifest)
        finally:
            if state:
                state.tmp.cleanup()
            self._slots.release()
        result.seconds = time.monotonic() - started
        if self.on_published:
            self.on_published(result)

    def finish(self) -> list[WindowResult]:
        """Hand the windows left (empty ones included) to the publishers and wait until every one is committed.

        :return: one result per window, in order.
        :raises Exception: the first failed publish; windows handed over before it was known are
            still published, no later window is handed over.
        """
        self.close_until(None)
        self._shutdown()
        for future in self._publishing:
            future.result()
        return self.results

    def abort(self) -> None:
        """Clean up after a failure: drop the open window's local files, wait for the windows handed over.

        Nothing of the open window has reached S3; the windows already handed over are still published.
        """
        if self._open is not None:
            self._open.tmp.cleanup()
            self._open = None
        self._shutdown()

    def _raise_failed_publish(self) -> None:
        for future in [f for f in self._publishing if f.done()]:
            self._publishing.remove(future)  # only windows still publishing are looked at next time
            error = future.exception()
            if error is not None:
                raise error

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def export_range(
    pages: Iterable[tuple[Page, list[TimedRecord]]], windows: list[Window], publisher: WindowPublisher, **options: Any
) -> list[WindowResult]:
    """Route the records of one ordered read of ``windows``' range into the windows and publish each.

    :param pages: the read, in ``created_at`` order (:meth:`ConversationsHook.read_pages` over the
        windows' whole range).
    :param windows: contiguous windows in order.
    :param publisher: publishes a window (steps 2-5).
    :param options: the keyword arguments of :class:`RangeExport` (``filters`` is required).
    :return: one result per window, in order. On a failure (of the read or of a publish), windows
        already read are still published, the others are not touched, and the error is raised.
    """
    return RangeExport(windows, publisher, **options).run(pages)
