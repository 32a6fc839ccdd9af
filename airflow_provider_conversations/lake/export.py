"""Export a range: one ordered read -> local part files per window -> a destination, window by window.

The range is read once, in ``created_at`` order (:meth:`ConversationsHook.read_pages`); records are
routed into their windows' local part files (memory stays bounded), each finished part is staged in
the destination (uploaded, still invisible) as soon as it is full, while the read goes on, and a window is committed as soon
as the read has passed its end. What staging and committing mean is the destination's
(:mod:`.destination`): the S3 layout swaps the window's manifest under a lease, an Iceberg table
commits a snapshot. Either way a commit never replaces a version read later than this one.
"""

from __future__ import annotations

import errno
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError
from airflow_provider_conversations.lake.destination import Destination, WindowParts, WindowResult
from airflow_provider_conversations.lake.formats import new_part_writer
from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import format_timestamp

if TYPE_CHECKING:
    from airflow_provider_conversations.api.wire import Page
    from airflow_provider_conversations.reading.walk import TimedRecord

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
    """A window being read: its local part files, and the uploads of those already finished."""

    def __init__(
        self,
        window: Window,
        destination: Destination,
        uploads: ThreadPoolExecutor | None,
        max_records: int,
        tmp_dir: str | None,
    ):
        self.window, self.destination, self.uploads = window, destination, uploads
        try:
            self.tmp = tempfile.TemporaryDirectory(prefix="conversations-", dir=tmp_dir)
        except OSError as err:
            raise _disk_error(err, tmp_dir) from err
        self.staging: list[Future[str]] = []
        self.writer = new_part_writer(
            Path(self.tmp.name),
            file_format=destination.file_format,
            compression=destination.compression,
            schema=destination.schema,
            max_records=max_records,
            on_part=self._stage,
        )
        self.pages = 0
        self.last_page = -1

    def _stage(self, part: LocalPart) -> None:
        """Upload a finished part while the read goes on (in the calling thread without an upload pool)."""
        number = len(self.staging)
        if self.uploads is None:
            done: Future[str] = Future()
            done.set_result(self.destination.stage(self.window, number, part))
            self.staging.append(done)
        else:
            self.staging.append(self.uploads.submit(self.destination.stage, self.window, number, part))

    def finish(self) -> tuple[list[LocalPart], list[str]]:
        """Close the last part, wait for every part's upload; the parts and their staged names."""
        parts = self.writer.close()
        return parts, [future.result() for future in self.staging]


def _disk_error(err: OSError, tmp_dir: str | None) -> BaseException:
    """An error that names ``tmp_dir`` when the local disk is full (or refuses us); others unchanged."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS):
        where = tmp_dir or tempfile.gettempdir()
        return ConversationsDestinationError(
            f"tmp_dir: cannot write the window's part files under {where!r}: {err.strerror or err}. Free space "
            "there, or pass tmp_dir= a directory with room for a few windows' data."
        )
    return err


class RangeExport:
    """Route the records of one ordered read into ``windows`` and commit each window once the read has passed it.

    Drive it with :meth:`route` for every record in ``created_at`` order, then :meth:`finish`; on any
    failure call :meth:`abort` (:meth:`run` does all three: on a failure of the read or of a commit,
    windows already read are still committed, the others are not touched, and the error is raised). Parts are staged and windows committed by
    ``publish_concurrency`` threads while the read goes on; at most ``2 x publish_concurrency`` windows
    wait read but uncommitted, then :meth:`route` blocks (memory and disk stay bounded).

    Failure semantics: a window is committed only after every one of its parts is staged, so a failed
    stage or commit leaves that window's committed version as it was. Once a failure is known, no
    further window is handed over; windows already handed over are still committed.

    :param windows: contiguous windows in order.
    :param destination: stages parts and commits windows (:class:`~.destination.Destination`).
    :param read_started: when the read began (aware UTC), recorded with every window committed.
    :param max_records_per_file: records per data file, at most.
    :param publish_concurrency: windows committed at once (0: in the calling thread, the read waiting).
    :param group_size: windows per commit (the S3 layout commits each window alone; an Iceberg export
        commits groups of windows in one snapshot).
    :param tmp_dir: where local part files go (default: the system's temp dir).
    :param on_committed: called with each window's result once committed (from a publishing thread).
    """

    def __init__(
        self,
        windows: list[Window],
        destination: Destination,
        *,
        read_started: datetime,
        max_records_per_file: int = 100_000,
        publish_concurrency: int = 2,
        group_size: int = 1,
        tmp_dir: str | None = None,
        on_committed: Callable[[WindowResult], None] | None = None,
    ) -> None:
        self.windows, self.destination, self.read_started = windows, destination, read_started
        self.max_records_per_file, self.tmp_dir, self.on_committed = max_records_per_file, tmp_dir, on_committed
        self.group_size = max(1, group_size)
        self.results: list[WindowResult] = []
        #: ``x-ratelimit-remaining-minute`` of the last page read, recorded in each window's result.
        self.remaining_budget: int | None = None
        self._slots = threading.BoundedSemaphore(2 * max(1, publish_concurrency) * self.group_size)
        self._pool = (
            ThreadPoolExecutor(max_workers=publish_concurrency, thread_name_prefix="conversations-publish")
            if publish_concurrency > 0
            else None
        )
        self._uploads = (
            ThreadPoolExecutor(max_workers=publish_concurrency, thread_name_prefix="conversations-stage")
            if publish_concurrency > 0
            else None
        )
        self._publishing: list[Future[None]] = []
        self._group: list[tuple[WindowParts, _OpenWindow | None, float]] = []
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
        :raises Exception: a failed stage or commit of an earlier window, or a local write error; call
            :meth:`abort` then. Nothing of the current window is committed.
        """
        if self._index >= len(self.windows) or created_at >= self.windows[self._index].end:  # (a hot path)
            self.close_until(created_at)
            if self._index >= len(self.windows):
                raise RuntimeError(f"a record created at {format_timestamp(created_at)}, after the last window")
        if self._open is None:
            self._open = _OpenWindow(
                self.windows[self._index], self.destination, self._uploads, self.max_records_per_file, self.tmp_dir
            )
        try:
            self._open.writer.write(record)
        except OSError as err:
            raise _disk_error(err, self.tmp_dir) from err
        if serial != self._open.last_page:
            self._open.pages += 1
            self._open.last_page = serial

    def close_until(self, created_at: datetime | None) -> None:
        """Hand every window that ends at or before ``created_at`` (``None``: every window left) to the publishers.

        :param created_at: how far the read has come.
        :raises Exception: the error of a commit that failed (before any further window is handed
            over); call :meth:`abort` then.
        """
        while self._index < len(self.windows) and (created_at is None or created_at >= self.windows[self._index].end):
            self._raise_failed_publish()
            self._slots.acquire()  # blocks while too many windows wait to be committed
            try:
                self._raise_failed_publish()  # one may have failed while we waited
            except BaseException:
                self._slots.release()
                raise
            state, self._open = self._open, None
            parts = WindowParts(self.windows[self._index], self.read_started, pages=state.pages if state else 0)
            self._group.append((parts, state, self._started))
            self._index, self._started = self._index + 1, time.monotonic()
            if len(self._group) >= self.group_size or self._index >= len(self.windows):
                group, self._group = self._group, []
                if self._pool is None:
                    self.publish(group)
                else:
                    self._publishing.append(self._pool.submit(self.publish, group))

    def publish(self, group: list[tuple[WindowParts, _OpenWindow | None, float]]) -> None:
        """Finish the group's local parts, stage them and commit the group. Local files are removed whatever happens.

        :param group: fully read windows: their versions, local files (``None``: empty) and read start
            (``time.monotonic()``, for ``seconds``).
        :raises Exception: what the destination raised; the group's windows keep their committed versions.
        """
        remaining = self.remaining_budget
        try:
            for parts, state, _ in group:
                if state is not None:
                    parts.parts, parts.staged = state.finish()
            results = self.destination.commit([parts for parts, _, _ in group])
        finally:
            for _, state, _ in group:
                if state is not None:
                    state.tmp.cleanup()
                self._slots.release()
        for result, (_, _, started) in zip(results, group, strict=True):
            result.seconds, result.remaining_budget = time.monotonic() - started, remaining
            if self.on_committed:
                self.on_committed(result)
        self.results += results

    def finish(self) -> list[WindowResult]:
        """Hand the windows left (empty ones included) over and wait until every one is committed.

        :return: one result per window, in order.
        :raises Exception: the first failed commit; windows handed over before it was known are
            still committed, no later window is handed over.
        """
        self.close_until(None)
        self._shutdown()
        for future in self._publishing:
            future.result()
        return sorted(self.results, key=lambda r: r.window.start)

    def abort(self) -> None:
        """Clean up after a failure: drop the open window's local files, wait for the windows handed over.

        Nothing of the open window is committed; the windows already handed over are still committed.
        """
        state, self._open = self._open, None
        self._shutdown()
        if state is not None:
            state.tmp.cleanup()

    def _raise_failed_publish(self) -> None:
        for future in [f for f in self._publishing if f.done()]:
            self._publishing.remove(future)  # only windows still publishing are looked at next time
            error = future.exception()
            if error is not None:
                raise error

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._uploads is not None:
            self._uploads.shutdown(wait=True)
