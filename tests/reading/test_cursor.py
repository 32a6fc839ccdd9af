"""The keyset cursor against the fake API's query engine, in memory (the wire is tested elsewhere)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.api.filters import ConversationFilters
from airflow_provider_conversations.exceptions import ConversationsResponseError
from airflow_provider_conversations.reading.cursor import KeysetCursor
from airflow_provider_conversations.testing.query import answer_query

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def rec(i: int, seconds: float) -> dict:
    ts = T0 + timedelta(seconds=seconds)
    return {"id": f"id-{i:05d}", "created_at": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def serve_counted(records: list[dict], params: list[tuple[str, str]]) -> tuple[list[dict], int | None]:
    """Answer like the API: (the page, ``total_count`` when ``include_paging_counts`` asked for it)."""
    result = answer_query(records, params)
    return result.data, result.paging.get("total_count")


def serve(records: list[dict], params: list[tuple[str, str]], *, quirk: bool = False) -> list[dict]:
    """Answer like the API (the fake's query engine); ``quirk``: its worst form, every page shifted by one."""
    return answer_query(records, params, quirk="shift" if quirk else None).data


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


def walk_counted(records: list[dict], *, per_page: int = 10, before_each=None):
    cursor = KeysetCursor(T0, T0 + timedelta(seconds=10_000), ConversationFilters(), per_page)
    ids: list[str] = []
    sent: list[dict[str, str]] = []
    while not cursor.done:
        if before_each:
            before_each(len(sent))
        params = cursor.params()
        sent.append(dict(params))
        page, total = serve_counted(records, params)
        ids += [r["id"] for r in cursor.advance(page, total=total)]
        assert len(sent) < 10_000
    return ids, sent, cursor


def test_counted_mode_fetches_each_record_exactly_once_with_no_overlap():
    records = [rec(i, i * 1.5) for i in range(95)]
    ids, sent, cursor = walk_counted(records)
    assert ids == [r["id"] for r in records]
    assert len(sent) == 10 and cursor.counted  # 9 full pages and a short one: no record fetched twice
    assert [("created_at[gt]" in p) for p in sent] == [False] + [True] * 9
    assert all(p["include_paging_counts"] == "true" for p in sent)


def test_counted_mode_repairs_a_tie_that_straddles_a_page_boundary():
    # Records 8..12 share one timestamp: the first page (10 a page) ends inside that group.
    records = [rec(i, float(i) if not 8 <= i <= 12 else 8.0) for i in range(40)]
    ids, sent, cursor = walk_counted(records)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))
    repairs = [p for p in sent if "created_at[lte]" in p]
    assert len(repairs) == 1 and repairs[0]["created_at[gte]"] == repairs[0]["created_at[lte]"]
    assert cursor.mismatches == 1 and cursor.false_alarms == 0


def test_counted_mode_walks_ties_bigger_than_a_page():
    records = [rec(i, 5.0) for i in range(35)] + [rec(100 + i, 6.0 + i) for i in range(5)] + [rec(200, 1.0)]
    ids, _, _ = walk_counted(records)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))


def test_counted_mode_survives_deletions_and_falls_back_when_counts_keep_disagreeing():
    records = [rec(i, i * 1.0) for i in range(300)]
    alive = list(records)

    def delete(n: int) -> None:  # the tail is deleted as we go: every count disagrees
        if n and len(alive) > 250:
            alive.pop()

    cursor = KeysetCursor(T0, T0 + timedelta(seconds=10_000), ConversationFilters(), 10)
    ids: list[str] = []
    n = 0
    while not cursor.done:
        delete(n)
        n += 1
        page, total = serve_counted(alive, cursor.params())
        ids += [r["id"] for r in cursor.advance(page, total=total)]
    assert {r["id"] for r in alive} <= set(ids) and len(ids) == len(set(ids))
    assert not cursor.counted and 1 <= cursor.false_alarms <= KeysetCursor.MAX_FALSE_ALARMS


def test_counts_vanishing_mid_walk_trigger_a_safety_walk_and_the_overlapping_mode():
    records = [rec(i, float(i) if not 8 <= i <= 12 else 8.0) for i in range(40)]
    cursor = KeysetCursor(T0, T0 + timedelta(seconds=10_000), ConversationFilters(), 10)
    ids: list[str] = []
    first = True
    while not cursor.done:
        page, total = serve_counted(records, cursor.params())
        ids += [r["id"] for r in cursor.advance(page, total=total if first else None)]
        first = False
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))
    assert not cursor.counted


def test_tie_heavy_data_switches_to_the_overlapping_mode():
    # Records come in threes on one timestamp, so most page boundaries split a group: repairs would cost
    # more than the overlap.
    records = [rec(i, float(i // 3)) for i in range(600)]
    ids, _, cursor = walk_counted(records, per_page=10)
    assert sorted(ids) == sorted(r["id"] for r in records) and len(ids) == len(set(ids))
    assert not cursor.counted and cursor.mismatches == 2


@pytest.mark.parametrize("counted", [True, False])
def test_deletions_inside_a_tie_walk_never_skip_a_survivor(counted):
    # 25 records on one timestamp, 10 a page: the tie is walked by page numbers. Deleting a record already
    # read moves every later one up a position; the walk must step back and not skip the one that moved.
    records = [rec(i, 5.0) for i in range(25)] + [rec(100 + i, 6.0 + i) for i in range(3)]
    alive = list(records)
    cursor = KeysetCursor(T0, T0 + timedelta(seconds=10_000), ConversationFilters(), 10, counted=counted)
    ids: list[str] = []
    tie_pages = 0
    while not cursor.done:
        params = cursor.params()
        if "created_at[lte]" in dict(params):
            tie_pages += 1
            if tie_pages in (2, 3):
                alive.remove(next(r for r in alive if r["id"] in ids))  # delete one already read
        page, total = serve_counted(alive, params)
        ids += [r["id"] for r in cursor.advance(page, total=total)]
    assert {r["id"] for r in alive} <= set(ids) and len(ids) == len(set(ids))


@pytest.mark.parametrize(
    "value",
    [
        "2025-02-13T22:11:57.792000Z",
        "2025-12-31T23:59:59.999999Z",
        "2025-02-13T22:11:57Z",
        "2025-02-13T23:11:57.5+01:00",
    ],
)
def test_record_timestamps_parse_the_same_on_the_fast_path_and_the_general_one(value):
    from airflow_provider_conversations.api.filters import parse_timestamp
    from airflow_provider_conversations.reading.ranges import record_created_at

    assert record_created_at({"id": 1, "created_at": value}) == parse_timestamp(value, "created_at")


def test_an_impossible_record_timestamp_is_a_response_error():
    from airflow_provider_conversations.exceptions import ConversationsResponseError
    from airflow_provider_conversations.reading.ranges import record_created_at

    with pytest.raises(ConversationsResponseError, match="record 7"):
        record_created_at({"id": 7, "created_at": "2025-02-30T22:11:57.000000Z"})


@pytest.mark.parametrize("key", ["created_at", "updated_at"])
def test_a_full_page_shifted_by_the_quirk_is_not_the_last_one_whatever_next_page_says(key: str) -> None:
    """The quirk's row fills the page and the API (counting without it) says no next page: read on."""
    records = [{**rec(i, i), "updated_at": rec(i, i)["created_at"]} for i in range(30)]
    cursor = KeysetCursor(T0 + timedelta(seconds=10), T0 + timedelta(seconds=100), per_page=20, counted=False, key=key)
    out: list[str] = []
    while not cursor.done:
        result = answer_query(records, cursor.params(), quirk="shift")
        has_next = result.paging["next_page"] is not None
        out += [r["id"] for r in cursor.advance(result.data, has_next=has_next, total=result.paging.get("total_count"))]
    assert out == [r["id"] for r in records[10:]]


def test_a_cursor_started_at_a_bound_drops_the_ids_already_taken_there():
    """The keyset fallback goes on from the last record the chunks took: the ids taken at it come once."""
    records = [rec(i, 5.0) for i in range(4)] + [rec(10 + i, 6.0 + i) for i in range(3)]
    cursor = KeysetCursor(T0 + timedelta(seconds=5), T0 + timedelta(seconds=100), per_page=10, taken=["id-00000"])
    ids: list[str] = []
    while not cursor.done:
        page, total = serve_counted(records, cursor.params())
        ids += [r["id"] for r in cursor.advance(page, total=total)]
    assert ids == [r["id"] for r in records[1:]]


def test_a_tie_walk_asks_for_the_tied_time_alone_then_moves_strictly_past_it():
    records = [rec(i, 5.0) for i in range(12)] + [rec(100, 6.0)]
    cursor = KeysetCursor(T0, T0 + timedelta(seconds=100), per_page=10)
    cursor.advance(serve_counted(records, cursor.params())[0], total=13)  # a full page on one time
    assert cursor.tie is not None and cursor.tie.page == 1 and not cursor.tie.after_mismatch
    tie = dict(cursor.params())
    assert tie["created_at[gte]"] == tie["created_at[lte]"] == records[0]["created_at"]
    while cursor.tie is not None:
        page, total = serve_counted(records, cursor.params())
        cursor.advance(page, total=total)
    after = dict(cursor.params())
    assert after["created_at[gt]"] == records[0]["created_at"] and "created_at[lte]" not in after
