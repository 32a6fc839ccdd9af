"""Drive a range walk: send its requests through a transport, up to ``concurrency`` at once, in order out.

The one driver of :class:`~airflow_provider_conversations.reading.walk.RangeWalk`; the transport is a
function the caller gives (the hook's paced, retried request), so the driver knows no endpoint, URL or
token. With ``concurrency`` 1 every request runs on the calling thread (no thread pool: the read
profiles and fails on the caller's own stack); with more, on a thread pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial

from airflow_provider_conversations._malloc import pin_mmap_threshold
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.reading.progress import PROGRESS_EVERY_SECONDS, InfoLog, ReadProgress
from airflow_provider_conversations.reading.walk import PageRequest, RangePage, RangeWalk
from airflow_provider_conversations.timestamps import format_range

#: Send one request and return its answer: ``fetch(request, stop)``. ``stop`` is set when the read is
#: over (it failed, or its consumer stopped): give up before the next attempt. ``None`` when the request
#: runs on the calling thread, which nothing else can stop.
Fetch = Callable[[PageRequest, "threading.Event | None"], Page]


class _Inline:
    """Runs a request on the calling thread when its answer is awaited (``concurrency`` 1)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._pending: dict[Future[Page], Callable[[], Page]] = {}

    def submit(self, request: PageRequest) -> Future[Page]:
        future: Future[Page] = Future()
        self._pending[future] = partial(self._fetch, request, None)
        return future

    def completed(self, futures: Iterable[Future[Page]]) -> set[Future[Page]]:
        future = next(f for f in futures if f in self._pending)  # the oldest: dicts keep their order
        call = self._pending.pop(future)
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(call())
            except Exception as err:
                future.set_exception(err)
        return {future}

    def shutdown(self) -> None:
        self._pending.clear()


class _Pool:
    """Runs requests on ``concurrency`` threads."""

    def __init__(self, fetch: Fetch, concurrency: int) -> None:
        pin_mmap_threshold()  # response buffers read by several threads would fragment glibc's heaps
        self._fetch, self._stop = fetch, threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="conversations-request")

    def submit(self, request: PageRequest) -> Future[Page]:
        return self._pool.submit(self._fetch, request, self._stop)

    def completed(self, futures: Iterable[Future[Page]]) -> set[Future[Page]]:
        done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
        return done

    def shutdown(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)


def describe(walk: RangeWalk) -> str:
    """What ``walk`` reads, for log lines: ``conversations by created_at in [start, end)``.

    :param walk: the walk.
    """
    return f"{walk.endpoint.record}s by {walk.key} in {format_range(walk.start, walk.end)}"


def read_walk(
    walk: RangeWalk,
    fetch: Fetch,
    *,
    concurrency: int,
    log: InfoLog | None = None,
    progress_every: float = PROGRESS_EVERY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[RangePage]:
    """Run ``walk`` to its end; yield its pages in order, each with the records it adds.

    Up to ``concurrency`` requests are in flight; a request whose answer the walk no longer wants
    (its chunk was thrown away) is not sent if it has not gone yet. On the way out (the end, an error,
    or the consumer closing the generator) requests not yet sent are dropped and the others finish.

    :param walk: the walk to run.
    :param fetch: sends one request (see :data:`Fetch`).
    :param concurrency: requests in flight at once (>= 1).
    :param log: where the progress lines go, about once ``progress_every`` seconds (see
        :class:`~airflow_provider_conversations.reading.progress.ReadProgress`); ``None``: no lines.
    :param progress_every: seconds between two progress lines.
    :param clock: monotonic clock of the progress lines (for tests).
    """
    concurrency = max(1, concurrency)
    lookahead = 2 * concurrency
    progress = ReadProgress(log, describe(walk), every=progress_every, clock=clock) if log is not None else None
    runner: _Inline | _Pool = _Inline(fetch) if concurrency == 1 else _Pool(fetch, concurrency)
    in_flight: dict[Future[Page], PageRequest] = {}
    try:
        while not walk.done:
            for future in [f for f, request in in_flight.items() if not walk.is_live(request)]:
                if future.cancel():  # not sent yet, and no longer wanted
                    del in_flight[future]
            for request in walk.requests(concurrency - len(in_flight), lookahead=lookahead):
                in_flight[runner.submit(request)] = request
            if walk.ready():
                page = RangePage(*walk.pop())
                if progress is not None:
                    progress.taken(len(page.timed))
                yield page
                continue
            if not in_flight:
                raise RuntimeError("the range walk waits for a page it did not ask for")  # a bug, not bad data
            for future in runner.completed(in_flight):
                request = in_flight.pop(future)
                if walk.is_live(request):
                    answer = future.result()
                    if progress is not None:
                        progress.answered(answer)
                    walk.receive(request, answer)
    finally:
        runner.shutdown()
