"""The S3 layout as a destination: parts staged while the read goes on, each window committed by its manifest.

Per window (``docs/layout.rst``):

1. **Stage** each finished part at once, under a key derived from its content
   (``part-HHMMSS-HHMMSS-NNNNN-<md5>.jsonl``): a rerun over unchanged records writes the same keys,
   and a new version never overwrites a part the committed version lists.
2. **Commit**, under the window's lease (:mod:`.lease`):

   a. list the day's partition; read the committed manifest, if any;
   b. if the committed version's read began after this one's, keep it: delete only what this attempt
      staged and no manifest lists, and report the window as skipped;
   c. upload again any staged part another writer removed meanwhile (from the local file);
   d. check the lease is still ours, then write the new manifest in place of the old one: readers
      switch from the old version to the new one at once;
   e. delete the window's data objects the new manifest does not list (the old version's, and any
      left by failed attempts);
   f. release the lease.

The old version stays readable through its manifest until step d, so a failed or killed rewrite
never leaves a committed window unreadable.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.codec import decode
from airflow_provider_conversations.exceptions import ConversationsDestinationError
from airflow_provider_conversations.lake.destination import Outcome, WindowParts, WindowResult
from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.s3.guard import TableShape, check_table_shape, claim_table_shape
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.s3.lease import (
    LEASE_SECONDS,
    WAIT_SECONDS,
    WindowLease,
    lease_key,
    s3_error_code,
)
from airflow_provider_conversations.lake.s3.manifest import CommittedVersion, manifest_bytes, parse_manifest
from airflow_provider_conversations.lake.settings import control_object_args, read_back_args
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp


def _records(key: str, data: bytes) -> Iterator[dict[str, Any]]:
    """The records of a data object of ours (JSONL, gzipped JSONL or Parquet), in order, one batch decoded at a time."""
    if key.endswith(".parquet"):
        import pyarrow.parquet as pq

        from airflow_provider_conversations.lake.parquet import from_row

        for batch in pq.ParquetFile(io.BytesIO(data)).iter_batches():
            yield from map(from_row, batch.to_pylist())
        return
    lines = gzip.GzipFile(fileobj=io.BytesIO(data)) if key.endswith(".gz") else io.BytesIO(data)
    yield from (decode(line) for line in lines if line.strip())


if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

log = logging.getLogger(__name__)


class S3Table:
    """A table in the S3 layout under ``s3://bucket/prefix`` (see the module docstring); thread-safe.

    :param s3: the S3 hook (its ``extra_args`` go on every data part).
    :param bucket: the bucket.
    :param layout: the table's key names, format and compression.
    :param filters: the read's filters by field name, recorded in the manifests and the table's shape.
    :param window_size: the task's window size (the table's shape).
    :param owner: this task's identity, written into its leases.
    :param extra_args: the task's ``s3_extra_args``.
    :param lease_seconds: how long a lease holds without renewal.
    :param lease_wait_seconds: how long to wait for another task's lease.
    """

    def __init__(
        self,
        s3: S3Hook,
        bucket: str,
        layout: PartitionLayout,
        *,
        filters: Mapping[str, Any],
        window_size: timedelta,
        owner: str,
        extra_args: Mapping[str, Any] | None = None,
        lease_seconds: float = LEASE_SECONDS,
        lease_wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.s3, self.bucket, self.layout, self.owner = s3, bucket, layout, owner
        self.filters = dict(filters)
        self.shape = TableShape(window_size, layout.file_format, layout.compression, self.filters)
        self.extra_args = dict(extra_args or {})
        self.lease_seconds, self.lease_wait_seconds = lease_seconds, lease_wait_seconds
        self.file_format, self.compression, self.schema = layout.file_format, layout.compression, layout.schema
        self.client = s3.get_conn()
        self._claimed = False  # the table's marker holds this task's shape
        self._refused: BaseException | None = None
        self._staged: set[str] = set()
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.bucket}/{self.layout.prefix}"

    def check(self, windows: list[Window]) -> None:
        """Refuse a task of another shape than the table's (before any API request or write).

        :param windows: the windows the task may commit.
        :raises ConversationsTableMismatchError: naming each difference.
        """
        self._claimed = check_table_shape(self.client, self.bucket, self.layout, self.shape, windows, self.extra_args)

    def stage(self, window: Window, number: int, part: LocalPart) -> str:
        """Upload one finished part under its content-derived key (no manifest lists it yet).

        :param window: its window.
        :param number: its position in the window.
        :param part: the local file.
        :return: its key.
        """
        if self._refused is not None:
            raise self._refused
        key = self.layout.part_key(window, number, part.md5)
        with self._lock:
            self._staged.add(key)
        self.s3.load_file(part.path, key=key, bucket_name=self.bucket, replace=True)
        return key

    def commit(self, group: list[WindowParts]) -> list[WindowResult]:
        """Commit each window of ``group`` under its lease (see the module docstring).

        :param group: fully read windows whose parts are staged.
        :return: one result per window.
        :raises ConversationsTableMismatchError: another task created the table's marker with another shape
            first; what this task staged is deleted.
        """
        self._claim()
        return [self._commit(parts) for parts in group]

    def _claim(self) -> None:
        """Before the task's first commit into a table without a marker: create it, or be refused."""
        with self._lock:
            if self._refused is None and not self._claimed:
                try:
                    claim_table_shape(self.client, self.bucket, self.layout, self.shape, self.extra_args)
                    self._claimed = True
                except BaseException as err:
                    self._refused = err
            if self._refused is None:
                return
            staged, self._staged = sorted(self._staged), set()
        if staged:
            self.s3.delete_objects(self.bucket, staged)
        raise self._refused

    def finish(self) -> None:
        """Nothing to do: each window was committed by its own manifest."""

    def windows_holding(self, ids: Iterable[str], window_size: timedelta) -> set[Window]:
        """None: finding an id's window would mean reading the table; a back-dated conversation leaves its
        old window when that window is next rewritten (the reconcile).
        """
        return set()

    def committed_reads(self, windows: list[Window]) -> dict[Window, datetime]:
        """The ``read_started_at`` of each window's manifest (one GET per window; no manifest: left out).

        :param windows: the windows to look up.
        """
        found: dict[Window, datetime] = {}
        for window in windows:
            try:
                version = self._committed(self.layout.manifest_key(window))
            except Exception as err:
                if s3_error_code(err) in ("NoSuchKey", "404"):
                    continue
                raise
            if version.read_started is not None:
                found[window] = version.read_started
        return found

    def _commit(self, parts: WindowParts) -> WindowResult:
        window = parts.window
        lease = WindowLease(
            self.client,
            self.bucket,
            lease_key(self.layout, window),
            window,
            self.owner,
            lease_seconds=self.lease_seconds,
            wait_seconds=self.lease_wait_seconds,
            extra_args=self.extra_args,
        )
        lease.take()
        try:
            listed = set(self.s3.list_keys(bucket_name=self.bucket, prefix=f"{self.layout.partition(window)}/") or [])
            manifest_key = self.layout.manifest_key(window)
            current = self._committed(manifest_key) if manifest_key in listed else None
            result = WindowResult(
                window,
                records=parts.records,
                size=parts.size,
                pages=parts.pages,
                manifest_key=manifest_key,
                read_started=parts.read_started,
            )
            if current is not None and current.read_started is not None and current.read_started > parts.read_started:
                return self._skip(parts, current, result)
            for key, part in zip(parts.staged, parts.parts, strict=True):
                if key not in listed:  # removed by another writer's commit meanwhile: ours again
                    self.s3.load_file(part.path, key=key, bucket_name=self.bucket, replace=True)
            lease.check()
            self.client.put_object(
                Bucket=self.bucket,
                Key=manifest_key,
                Body=manifest_bytes(parts, self.layout, self.filters),
                ContentType="application/json",
                **control_object_args(self.extra_args),
            )
            ours, part_prefix = set(parts.staged), self.layout.part_prefix(window)
            stale = sorted(k for k in listed if k.startswith(part_prefix) and k not in ours)
            if stale:
                self.s3.delete_objects(self.bucket, stale)
            result.keys, result.deleted_stale = list(parts.staged), len(stale)
            return result
        finally:
            lease.release()

    def has_window(self, window: Window) -> bool:
        """Whether the window has a committed version (its manifest exists).

        :param window: the window.
        """
        key = self.layout.manifest_key(window)
        return key in set(self.s3.list_keys(bucket_name=self.bucket, prefix=key) or [])

    def committed_rows(self, window: Window) -> list[dict[str, Any]] | None:
        """The records of the window's committed version, read through its manifest, in order.

        :param window: the window.
        :return: its records, or ``None`` when the window has no committed version.
        :raises ConversationsDestinationError: a part the manifest lists is missing.
        """
        records = self.committed_records(window)
        return None if records is None else list(records)

    def committed_records(self, window: Window) -> Iterator[dict[str, Any]] | None:
        """The records of the window's committed version as they are read, one part in memory at a time.

        The manifest is read at once; each part when the records before it have been taken. A Parquet
        row is rebuilt into its record (:func:`~..parquet.from_row`).

        :param window: the window.
        :return: its records in order, or ``None`` when the window has no committed version.
        :raises ConversationsDestinationError: (while iterating) a part the manifest lists is missing, e.g.
            removed by a newer version committed meanwhile.
        """
        manifest_key = self.layout.manifest_key(window)
        try:
            raw = self.client.get_object(Bucket=self.bucket, Key=manifest_key, **read_back_args(self.extra_args))
        except self.client.exceptions.NoSuchKey:
            return None
        keys = [part["key"] for part in json.loads(raw["Body"].read()).get("parts", [])]
        return self._part_records(manifest_key, keys)

    def _part_records(self, manifest_key: str, keys: list[str]) -> Iterator[dict[str, Any]]:
        for key in keys:
            try:
                obj = self.client.get_object(Bucket=self.bucket, Key=key, **read_back_args(self.extra_args))
            except self.client.exceptions.NoSuchKey:
                raise ConversationsDestinationError(
                    f"{manifest_key} lists {key}, which is missing: the window cannot be read back"
                ) from None
            yield from _records(key, obj["Body"].read())

    def _committed(self, manifest_key: str) -> CommittedVersion:
        raw = self.client.get_object(Bucket=self.bucket, Key=manifest_key, **read_back_args(self.extra_args))
        return parse_manifest(manifest_key, raw["Body"].read())

    def _skip(self, parts: WindowParts, current: CommittedVersion, result: WindowResult) -> WindowResult:
        """Keep the committed version, read later than ours; remove what only this attempt staged."""
        orphans = sorted(set(parts.staged) - current.parts)
        if orphans:
            self.s3.delete_objects(self.bucket, orphans)
        log.warning(
            "Window %s: not committed: the committed version was read from %s, after this read began (%s); it is kept",
            parts.window.label,
            format_timestamp(current.read_started) if current.read_started else "?",
            format_timestamp(parts.read_started),
        )
        result.outcome, result.keys = Outcome.SKIPPED_OLDER_READ, sorted(current.parts)
        return result
