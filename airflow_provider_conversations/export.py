"""Export a range: API -> local JSONL parts per window -> S3, each window committed by a manifest written last.

The range is read once, in ``created_at`` order (:meth:`ConversationsHook.iter_timed_pages`); records
are routed into their windows' local part files, and a window is published as soon as the read has
passed its end, while the read goes on. The protocol per window (documented in ``docs/layout.rst``):

1. Read the whole window into local part files (a temp dir; memory stays bounded). Nothing in S3 is
   touched until the window is fully read, so a failure while paging leaves the previous state.
2. Delete the window's manifest, if there is one: from here on the window reads as incomplete.
3. Upload the parts under their deterministic keys (overwriting), multipart for large parts.
4. Delete the window's data objects that this attempt did not write (stale parts of an earlier one).
5. Write the manifest. The window is complete, and readers may trust exactly the parts it lists.

What exists is listed once per day partition, before the first of our writes to it, so a fresh
window costs two S3 requests (its part and its manifest), an empty one a single request.
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

from airflow_provider_conversations.filters import ConversationFilters, format_timestamp
from airflow_provider_conversations.jsonl import JsonlPartWriter, LocalPart
from airflow_provider_conversations.layout import PartitionLayout
from airflow_provider_conversations.walk import TimedRecord
from airflow_provider_conversations.windows import Window
from airflow_provider_conversations.wire import Page

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

MANIFEST_VERSION = 1


@dataclass
class WindowResult:
    """What one window's export did (goes to XCom through :meth:`summary`)."""

    window: Window
    records: int = 0
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
    """The window's manifest: deterministic for the same records (no wall-clock time in it)."""
    body = {
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
        self.s3.load_bytes(manifest, key=manifest_key, bucket_name=self.bucket, replace=True)
        return keys, len(stale)


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
        self.writer = JsonlPartWriter(Path(self.tmp.name), compression=layout.compression, max_records=max_records)
        self.last_page = -1


def export_range(
    pages: Iterable[tuple[Page, list[TimedRecord]]],
    windows: list[Window],
    publisher: WindowPublisher,
    *,
    filters: ConversationFilters,
    max_records_per_file: int = 100_000,
    publish_concurrency: int = 2,
    tmp_dir: str | Path | None = None,
    on_published: Callable[[WindowResult], None] | None = None,
) -> list[WindowResult]:
    """Route the records of one ordered read of ``windows``' range into the windows and publish each.

    :param pages: the read, in ``created_at`` order (:meth:`ConversationsHook.iter_timed_pages` over the
        windows' whole range).
    :param windows: contiguous windows in order.
    :param publisher: publishes a window (steps 2-5).
    :param filters: the filters of the read (recorded in the manifests).
    :param max_records_per_file: records per data object, at most.
    :param publish_concurrency: windows published at once while the read goes on (0: each window is
        published in the calling thread, the read waiting meanwhile).
    :param tmp_dir: where local part files go (default: the system's temp dir).
    :param on_published: called with each window's result once it is committed (from a publishing thread).
    :return: one result per window, in order. On a failure, windows already read are still published,
        the others are not touched, and the error is raised.
    """
    results = [WindowResult(w, manifest_key=publisher.layout.manifest_key(w)) for w in windows]
    slots = threading.BoundedSemaphore(2 * max(1, publish_concurrency))  # windows read, not yet published
    futures: list[Future[None]] = []
    pool = (
        ThreadPoolExecutor(max_workers=publish_concurrency, thread_name_prefix="conversations-publish")
        if publish_concurrency > 0
        else None
    )

    def publish(index: int, state: _OpenWindow | None, started: float) -> None:
        result = results[index]
        try:
            parts = state.writer.close() if state else []
            result.records = sum(p.records for p in parts)
            manifest = manifest_bytes(result.window, publisher.layout, parts, filters)
            result.keys, result.deleted_stale = publisher.publish(result.window, parts, manifest)
        finally:
            if state:
                state.tmp.cleanup()
            slots.release()
        result.seconds = time.monotonic() - started
        if on_published:
            on_published(result)

    def close(index: int, state: _OpenWindow | None, started: float) -> None:
        # Fail fast on a failed publish; only windows still publishing are kept to look at next time.
        for future in [f for f in futures if f.done()]:
            futures.remove(future)
            error = future.exception()
            if error is not None:
                if state:
                    state.tmp.cleanup()
                raise error
        slots.acquire()
        if pool is None:
            publish(index, state, started)
        else:
            futures.append(pool.submit(publish, index, state, started))

    index, state, started, remaining = 0, None, time.monotonic(), None

    def items() -> Iterator[_Item]:
        nonlocal remaining
        for serial, (page, timed) in enumerate(pages):
            remaining = page.remaining if page.remaining is not None else remaining
            for record, ts in timed:
                yield record, ts, serial

    try:
        for record, ts, serial in ties_sorted_by_id(items()):
            while ts >= windows[index].end:
                results[index].remaining_budget = remaining
                close(index, state, started)
                index, state, started = index + 1, None, time.monotonic()
            if state is None:
                state = _OpenWindow(results[index], publisher.layout, max_records_per_file, tmp_dir)
            state.writer.write(record)
            if serial != state.last_page:
                state.result.pages += 1
                state.last_page = serial
        while index < len(windows):
            results[index].remaining_budget = remaining
            close(index, state, started)
            index, state, started = index + 1, None, time.monotonic()
    except BaseException:
        if state is not None:
            state.tmp.cleanup()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    for future in futures:
        future.result()
    return results
