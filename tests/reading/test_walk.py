"""RangeWalk against an in-process simulated API: answers out of order, records deleted meanwhile, quirks.

The simulator (``tests/reading/simulator.py``: the fake API's query engine) answers at delivery time (not
at request time), so records deleted between requests shift the page numbers of later answers
exactly as on a live API. Every run checks the invariant
of the product: every record that still exists at the end was yielded, none twice, none outside the
range, in ``created_at`` order.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.api.filters import ConversationFilters, format_timestamp, parse_timestamp
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.exceptions import ConversationsFilterError, ConversationsResponseError
from airflow_provider_conversations.reading.walk import MAX_CHUNK_PAGES, RangeWalk
from tests.reading.simulator import SimulatedAPI

START = datetime(2025, 1, 1, tzinfo=timezone.utc)
END = datetime(2025, 1, 3, tzinfo=timezone.utc)


def make_records(n: int, rng: random.Random, *, tie_share: float = 0.05, span: timedelta = END - START) -> list[dict]:
    stamps = sorted(START + timedelta(microseconds=rng.randrange(int(span.total_seconds() * 1e6))) for _ in range(n))
    for i in rng.sample(range(1, n), min(max(n - 1, 0), round(n * tie_share))) if n > 1 else []:
        stamps[i] = stamps[i - 1]
    stamps.sort()
    return [
        {"id": f"c{i:06d}", "created_at": format_timestamp(ts), "title": f"call {i}"} for i, ts in enumerate(stamps)
    ]


class SimAPI(SimulatedAPI):
    """The shared simulator, answering with the :class:`Page` the walk receives."""

    def page(self, params: tuple[tuple[str, str], ...]) -> Page:
        q = dict(params)
        assert q["sort_by"] == "created_at" and q["sort_direction"] == "ASC"
        result = self.answer(params)
        return Page(records=[dict(r) for r in result.data], paging=result.paging, cost=1, remaining=600)


def drive(walk: RangeWalk, api: SimAPI, rng: random.Random, *, concurrency: int = 4) -> list[dict]:
    """Run the walk with up to ``concurrency`` requests outstanding, answered in random order."""
    outstanding: list = []
    out: list[dict] = []
    for _ in range(100_000):
        if walk.done:
            return out
        outstanding += walk.requests(concurrency - len(outstanding), lookahead=2 * concurrency)
        if walk.ready():
            _, timed = walk.pop()
            out += [record for record, _ in timed]
            continue
        assert outstanding, "the walk waits for a page it did not ask for"
        request = outstanding.pop(rng.randrange(len(outstanding)))
        if walk.is_live(request):
            walk.receive(request, api.page(request.params))
    raise AssertionError("the walk did not finish")


def check_exactly_once(out: list[dict], api: SimAPI, original: list[dict], start: datetime = START) -> None:
    ids = [r["id"] for r in out]
    assert len(ids) == len(set(ids)), "a record was yielded twice"
    survivors = {rid for rid, ts in api.created_at().items() if start <= ts < END}
    assert survivors <= set(ids), f"{len(survivors - set(ids))} surviving record(s) skipped"
    assert set(ids) <= {r["id"] for r in original}
    stamps = [parse_timestamp(r["created_at"], "created_at") for r in out]
    assert stamps == sorted(stamps)
    assert all(start <= t < END for t in stamps)


@pytest.mark.parametrize("n", [0, 1, 99, 100, 101, 1_000, 9_999, 10_000, 10_001, 20_050])
def test_costs_one_point_per_page_plus_one_per_chunk(n: int) -> None:
    rng = random.Random(n)
    records = make_records(n, rng)
    api = SimAPI(records, rng)
    walk = RangeWalk(START, END)
    out = drive(walk, api, rng)
    check_exactly_once(out, api, records)
    chunks = max(1, math.ceil(n / (100 * MAX_CHUNK_PAGES)))
    # ceil(n / 100) pages, and at most one more per chunk boundary (the record shared with the next chunk).
    assert max(1, math.ceil(n / 100)) <= api.requests <= max(1, math.ceil(n / 100)) + chunks - 1
    assert api.cost == api.requests  # no page past 100
    assert walk.rejected == 0 and walk.mode == "numbered"


@pytest.mark.parametrize("seed", range(40))
def test_exactly_once_under_deletions_quirks_and_unordered_ties(seed: int) -> None:
    rng = random.Random(seed)
    records = make_records(rng.choice((300, 2_000, 5_000)), rng, tie_share=rng.choice((0.0, 0.05, 0.4)))
    api = SimAPI(
        records,
        rng,
        unstable_ties=rng.random() < 0.5,
        shift_quirk=rng.choice((0.0, 0.05, 0.2)),
        prepend_quirk=rng.choice((0.0, 0.1)),
        delete_rate=rng.choice((0.0, 0.02, 0.3, 1.0)),
    )
    walk = RangeWalk(START, END, max_chunk_pages=rng.choice((3, 100)))
    out = drive(walk, api, rng, concurrency=rng.choice((1, 2, 4, 8)))
    check_exactly_once(out, api, records)


def test_a_shifted_page_is_detected_not_trusted() -> None:
    """Every answer shifted by the quirk's row: pages 2.. would skip a record if taken as they come."""
    rng = random.Random(7)
    records = make_records(1_000, rng, tie_share=0.0)
    api = SimAPI(records, rng, shift_quirk=1.0)
    walk = RangeWalk(START + timedelta(hours=1), END)
    out = drive(walk, api, rng)
    check_exactly_once(out, api, records, start=START + timedelta(hours=1))
    assert walk.rejected > 0


def test_without_counts_the_keyset_cursor_finishes_the_range() -> None:
    rng = random.Random(3)
    records = make_records(1_000, rng)
    api = SimAPI(records, rng, counts=False)
    walk = RangeWalk(START, END)
    out = drive(walk, api, rng)
    check_exactly_once(out, api, records)
    assert walk.mode == "keyset"


def test_a_chunk_on_one_timestamp_falls_back_to_the_keyset_cursor() -> None:
    """Page 100 ending on the chunk's own lower bound: the next chunk could not start past it."""
    rng = random.Random(5)
    same = format_timestamp(START + timedelta(hours=1))
    records = [{"id": f"t{i:04d}", "created_at": same} for i in range(350)] + make_records(50, rng)
    api = SimAPI(records, rng)
    walk = RangeWalk(START + timedelta(hours=1), END, max_chunk_pages=3)
    out = drive(walk, api, rng)
    check_exactly_once(out, api, records)
    assert walk.mode == "keyset"


def test_unsorted_page_is_an_error() -> None:
    walk = RangeWalk(START, END)
    (request,) = walk.requests(1)
    records = [
        {"id": "b", "created_at": "2025-01-02T00:00:00Z"},
        {"id": "a", "created_at": "2025-01-01T00:00:00Z"},
    ]
    walk.receive(request, Page(records=records, paging={"total_count": 2}))
    with pytest.raises(ConversationsResponseError, match="not sorted"):
        walk.pop()


def test_cursor_bounds_in_filters_are_refused() -> None:
    with pytest.raises(ConversationsFilterError, match="created_at_gte"):
        RangeWalk(START, END, ConversationFilters(created_at_gte=START))


def test_requests_pin_the_wire_parameters() -> None:
    walk = RangeWalk(START, END, ConversationFilters(platform="zoom"), per_page=50)
    (request,) = walk.requests(4)  # only page 1 until the count is known
    assert dict(request.params) == {
        "platform": "zoom",
        "created_at[gte]": "2025-01-01T00:00:00.000000Z",
        "created_at[lt]": "2025-01-03T00:00:00.000000Z",
        "sort_by": "created_at",
        "sort_direction": "ASC",
        "per_page": "50",
        "page": "1",
        "include_paging_counts": "true",
    }


def test_lookahead_bounds_the_pages_in_flight() -> None:
    rng = random.Random(1)
    api = SimAPI(make_records(5_000, rng), rng)
    walk = RangeWalk(START, END)
    (first,) = walk.requests(10, lookahead=3)
    walk.receive(first, api.page(first.params))
    pages = sorted(r.page for r in walk.requests(50, lookahead=3))
    assert pages == [2, 3]  # pages 1-3 are the next 3 to consume (page 1 arrived, not consumed yet)


@pytest.mark.parametrize("echo", [True, False])
def test_an_api_that_caps_per_page_is_read_exactly_once(echo: bool) -> None:
    """per_page=100 asked, 40 served: paged by the size the API says it used, or by next_page if it says nothing."""
    rng = random.Random(11)
    records = make_records(2_000, rng)
    api = SimAPI(records, rng, max_per_page=40, echo_per_page=echo)
    walk = RangeWalk(START, END)
    out = drive(walk, api, rng)
    check_exactly_once(out, api, records)
    if echo:
        assert api.requests == math.ceil(2_000 / 40) and walk.rejected == 0
