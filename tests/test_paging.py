"""The keyset cursor against an in-memory model of the API (the wire is tested elsewhere)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsResponseError
from airflow_provider_conversations.filters import ConversationFilters, parse_timestamp
from airflow_provider_conversations.paging import KeysetCursor

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def rec(i: int, seconds: float) -> dict:
    ts = T0 + timedelta(seconds=seconds)
    return {"id": f"id-{i:05d}", "created_at": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def serve(records: list[dict], params: list[tuple[str, str]], *, quirk: bool = False) -> list[dict]:
    """Answer like the API: filter on created_at bounds, sort by (created_at, id), slice the page."""
    p = dict(params)
    ts = {r["id"]: parse_timestamp(r["created_at"], "c") for r in records}
    ops = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}
    rows = sorted(records, key=lambda r: (ts[r["id"]], r["id"]))
    for op, fn in ops.items():
        if f"created_at[{op}]" in p:
            bound = parse_timestamp(p[f"created_at[{op}]"], "b")
            kept = [r for r in rows if fn(ts[r["id"]], bound)]
            if quirk and op in ("gte", "gt"):
                before = [r for r in rows if ts[r["id"]] < bound]
                kept = before[-1:] + kept
            rows = kept
    per_page, page = int(p["per_page"]), int(p["page"])
    return rows[(page - 1) * per_page : page * per_page]


def walk(
    records: list[dict], *, per_page: int = 10, end: float = 10_000, quirk: bool = False, on_request=None
) -> tuple[list[str], list[list[tuple[str, str]]]]:
    cursor = KeysetCursor(T0, T0 + timedelta(seconds=end), ConversationFilters(), per_page)
    out: list[str] = []
    sent: list[list[tuple[str, str]]] = []
    while not cursor.done:
        params = cursor.params()
        sent.append(params)
        if on_request:
            on_request(len(sent))
        out += [r["id"] for r in cursor.advance(serve(records, params, quirk=quirk))]
        assert len(sent) < 10_000
    return out, sent


def test_every_record_once_and_every_request_is_page_one():
    records = [rec(i, i * 1.5) for i in range(95)]
    ids, sent = walk(records)
    assert ids == [r["id"] for r in records]
    assert all(dict(p)["page"] == "1" and dict(p)["sort_direction"] == "ASC" for p in sent)
    # The inclusive bound brings the page's last record back once: 10 new, then 9 new a page.
    assert len(sent) == 11


def test_ties_across_page_boundaries_are_neither_lost_nor_repeated():
    records = [rec(i, (i // 7) * 1.0) for i in range(100)]  # groups of 7 on one timestamp
    ids, _ = walk(records, per_page=10)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))


def test_more_ties_than_a_page_fall_back_to_page_numbers_inside_that_timestamp():
    records = [rec(i, 5.0) for i in range(35)] + [rec(100 + i, 6.0 + i) for i in range(5)] + [rec(200, 1.0)]
    ids, sent = walk(records, per_page=10)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))
    tie_requests = [dict(p) for p in sent if "created_at[lte]" in dict(p)]
    assert [p["page"] for p in tie_requests] == ["1", "2", "3", "4"]
    assert all(p["created_at[gte]"] == p["created_at[lte]"] for p in tie_requests)
    assert any("created_at[gt]" in dict(p) for p in sent)  # then strictly past the tie


def test_boundary_quirk_rows_are_dropped():
    records = [rec(i, i * 1.0) for i in range(50)]
    ids, _ = walk(records, per_page=10, quirk=True)
    assert ids == [r["id"] for r in records]


def test_range_is_half_open():
    records = [rec(i, float(i)) for i in range(30)]
    cursor = KeysetCursor(T0 + timedelta(seconds=5), T0 + timedelta(seconds=15), ConversationFilters(), 100)
    got = cursor.advance(records, has_next=False)  # an API that ignored both bounds
    assert [r["id"] for r in got] == [f"id-{i:05d}" for i in range(5, 15)]


def test_deletions_while_paging_never_skip_a_survivor():
    records = [rec(i, i * 1.0) for i in range(200)]
    alive = list(records)
    deleted: set[str] = set()

    def delete_some(n: int) -> None:  # before each request, delete 3 records spread over the set
        for victim in alive[n * 7 % len(alive) :: 61][:3]:
            alive.remove(victim)
            deleted.add(victim["id"])

    cursor = KeysetCursor(T0, T0 + timedelta(seconds=10_000), ConversationFilters(), 10)
    ids: list[str] = []
    n = 0
    while not cursor.done:
        n += 1
        delete_some(n)
        ids += [r["id"] for r in cursor.advance(serve(alive, cursor.params()))]
    survivors = {r["id"] for r in alive}
    assert survivors <= set(ids) and len(ids) == len(set(ids))
    assert set(ids) <= {r["id"] for r in records}


def test_unsorted_page_is_refused():
    cursor = KeysetCursor(T0, T0 + timedelta(days=1), ConversationFilters(), 2)
    with pytest.raises(ConversationsResponseError, match="not sorted by created_at ascending"):
        cursor.advance([rec(1, 5), rec(2, 1)])


def test_record_without_created_at_is_a_clear_error():
    cursor = KeysetCursor(T0, T0 + timedelta(days=1), ConversationFilters(), 2)
    with pytest.raises(ConversationsResponseError, match="without 'id' or 'created_at'"):
        cursor.advance([{"id": "x"}])


def test_filters_may_not_carry_their_own_created_at_bounds():
    with pytest.raises(ValueError, match="created_at_gte cannot be combined"):
        KeysetCursor(T0, T0 + timedelta(days=1), ConversationFilters(created_at_gte=T0))
