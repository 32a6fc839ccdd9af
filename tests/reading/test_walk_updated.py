"""RangeWalk on ``updated_at``: the same read as on ``created_at`` (one code path), with the same guarantees.

Records are updated while the read runs (their ``updated_at`` moves past the range's end), deleted,
share timestamps and meet the boundary quirk; consecutive intervals lose nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.api.filters import ConversationFilters, format_timestamp, parse_timestamp
from airflow_provider_conversations.api.wire import Page
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.reading.walk import RangeWalk, RequestKind
from tests.reading.simulator import SimulatedAPI
from tests.reading.test_walk import drive

START = datetime(2025, 3, 1, tzinfo=timezone.utc)
MID = datetime(2025, 3, 2, tzinfo=timezone.utc)
END = datetime(2025, 3, 3, tzinfo=timezone.utc)


def make_records(n: int, rng: random.Random, *, tie_share: float = 0.05) -> list[dict]:
    """Records created in the month before ``START``, updated in ``[START, MID)`` (ties on ``updated_at``)."""
    span = int((MID - START).total_seconds() * 1e6)
    stamps = sorted(START + timedelta(microseconds=rng.randrange(span)) for _ in range(n))
    for i in rng.sample(range(1, n), round((n - 1) * tie_share)) if n > 1 else []:
        stamps[i] = stamps[i - 1]
    stamps.sort()
    created = [START - timedelta(seconds=rng.randrange(30 * 86_400)) for _ in range(n)]
    return [
        {"id": f"u{i:06d}", "created_at": format_timestamp(c), "updated_at": format_timestamp(u)}
        for i, (c, u) in enumerate(zip(created, stamps))
    ]


class UpdatedAPI(SimulatedAPI):
    """The shared simulator, answering reads sorted by ``updated_at``."""

    def page(self, params: tuple[tuple[str, str], ...]) -> Page:
        q = dict(params)
        assert q["sort_by"] == "updated_at" and q["sort_direction"] == "ASC"
        assert not any(name.startswith("created_at") for name in q)
        result = self.answer(params)
        return Page(records=[dict(r) for r in result.data], paging=result.paging, cost=1, remaining=600)


def updated(record: dict) -> datetime:
    return parse_timestamp(record["updated_at"], "updated_at")


def check_read(out: list[dict], api: UpdatedAPI, start: datetime, end: datetime) -> None:
    """Each record once, in ``updated_at`` order, inside the range; every record still in it was read."""
    ids = [r["id"] for r in out]
    assert len(ids) == len(set(ids)), "a record was yielded twice"
    stamps = [updated(r) for r in out]
    assert stamps == sorted(stamps) and all(start <= t < end for t in stamps)
    still_in_range = {rid for rid, ts in api.updated_at().items() if start <= ts < end}
    assert still_in_range <= set(ids), f"{len(still_in_range - set(ids))} record(s) in the range skipped"


@pytest.mark.parametrize("n", [0, 1, 100, 101, 2_500])
def test_an_updated_at_read_costs_what_a_created_at_read_costs(n: int) -> None:
    rng = random.Random(n)
    api = UpdatedAPI(make_records(n, rng), rng)
    walk = RangeWalk(START, MID, key="updated_at")
    out = drive(walk, api, rng)
    check_read(out, api, START, MID)
    assert len(out) == n
    assert api.requests == max(1, -(-n // 100)) and walk.rejected == 0 and walk.mode == "numbered"


@pytest.mark.parametrize("seed", range(30))
def test_updated_at_read_survives_updates_deletions_quirks_and_ties(seed: int) -> None:
    rng = random.Random(seed)
    api = UpdatedAPI(
        make_records(rng.choice((300, 2_000)), rng, tie_share=rng.choice((0.0, 0.05, 0.4))),
        rng,
        unstable_ties=rng.random() < 0.5,
        shift_quirk=rng.choice((0.0, 0.05, 0.2)),
        prepend_quirk=rng.choice((0.0, 0.1)),
        delete_rate=rng.choice((0.0, 0.02, 0.3)),
        update_rate=rng.choice((0.05, 0.3, 1.0)),
        clock=MID + timedelta(minutes=1),
    )
    walk = RangeWalk(START, MID, max_chunk_pages=rng.choice((3, 100)), key="updated_at")
    out = drive(walk, api, rng, concurrency=rng.choice((1, 2, 4, 8)))
    check_read(out, api, START, MID)


@pytest.mark.parametrize("seed", range(10))
def test_a_record_updated_while_the_scan_runs_is_caught_by_the_next_interval(seed: int) -> None:
    """Updates during interval 1's read move records past its end, into interval 2: nothing is lost."""
    rng = random.Random(seed)
    records = make_records(1_500, rng)
    api = UpdatedAPI(records, rng, update_rate=0.5, delete_rate=0.05, shift_quirk=0.05, clock=MID + timedelta(hours=1))
    first = drive(RangeWalk(START, MID, key="updated_at"), api, rng, concurrency=4)
    moved = set(api.updated)
    assert moved, "the scenario must update records while interval 1 is read"
    api.update_rate = api.delete_rate = 0.0
    second = drive(RangeWalk(MID, END, key="updated_at"), api, rng, concurrency=4)
    check_read(second, api, MID, END)
    newest = {rid: ts for rid, ts in api.updated_at().items()}
    seen = {r["id"] for r in first} | {r["id"] for r in second}
    assert set(newest) <= seen, "a surviving record was in neither interval"
    # Every record updated during interval 1's read comes in its newest version in interval 2.
    versions = {r["id"]: updated(r) for r in second}
    assert all(versions[rid] == newest[rid] for rid in moved if rid in newest)


def test_requests_pin_the_updated_at_wire_parameters() -> None:
    walk = RangeWalk(START, MID, ConversationFilters(platform="zoom"), per_page=50, key="updated_at")
    (request,) = walk.requests(4)
    assert request.kind is RequestKind.CHUNK
    assert dict(request.params) == {
        "platform": "zoom",
        "updated_at[gte]": "2025-03-01T00:00:00.000000Z",
        "updated_at[lt]": "2025-03-02T00:00:00.000000Z",
        "sort_by": "updated_at",
        "sort_direction": "ASC",
        "per_page": "50",
        "page": "1",
        "include_paging_counts": "true",
    }


def test_the_keyset_fallback_reads_updated_at_and_says_so_in_its_requests() -> None:
    rng = random.Random(4)
    records = make_records(700, rng)
    api = UpdatedAPI(records, rng, counts=False)
    walk = RangeWalk(START, MID, key="updated_at")
    kinds: list[RequestKind] = []
    original = walk.requests

    def spy(limit: int, *, lookahead: int = 8):
        out = original(limit, lookahead=lookahead)
        kinds.extend(r.kind for r in out)
        return out

    walk.requests = spy  # type: ignore[method-assign]
    out = drive(walk, api, rng)
    check_read(out, api, START, MID)
    assert walk.mode == "keyset" and walk.fallback_reason == "the API sent no paging counts"
    assert kinds[0] is RequestKind.CHUNK and set(kinds[1:]) == {RequestKind.KEYSET}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"key": "duration"}, "key: 'duration' cannot be read as a range; allowed: created_at, updated_at"),
        ({"key": "updated_at", "filters": ConversationFilters(updated_at_gt=START)}, "updated_at_gt"),
    ],
)
def test_bad_keys_and_own_bounds_in_filters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ConversationsFilterError, match=match):
        RangeWalk(START, MID, **kwargs)
