"""The fake API learns updates: insert, update and delete with explicit updated_at, also mid-run."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from airflow_provider_conversations.testing import FakeConversationsAPI, Faults
from airflow_provider_conversations.testing.changes import ChangeSchedule
from airflow_provider_conversations.testing.store import RecordStore

AUTH = {"Authorization": "Bearer test-token"}
T = "2025-01-01T10:00:00.000000Z"
LATER = datetime(2025, 2, 1, 12, tzinfo=timezone.utc)


def rec(rid: str, created: str = T, **extra: object) -> dict:
    return {"id": rid, "created_at": created, "updated_at": created, "title": rid, **extra}


def by_updated(api: FakeConversationsAPI, gte: str) -> list[dict]:
    params = {"updated_at[gte]": gte, "sort_by": "updated_at", "sort_direction": "ASC", "per_page": 100}
    answer = requests.get(f"{api.url}/v2/conversations", params=params, headers=AUTH, timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]


def test_update_sets_fields_and_updated_at_and_keeps_earlier_snapshots() -> None:
    store = RecordStore()
    store.add([rec("a"), rec("b")])
    before, _ = store.snapshot()
    new = store.update("a", {"title": "edited", "created_at": "2024-12-31T00:00:00Z"}, updated_at=LATER)
    assert new["title"] == "edited" and new["updated_at"] == "2025-02-01T12:00:00.000000Z"
    assert [r["id"] for r in store.records()] == ["a", "b"]  # back-dated: now first by created_at
    assert before[0].record["title"] == "a"  # a snapshot handed out is never changed


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda s: s.update("zz", {}, updated_at=LATER), KeyError, "no record with id 'zz'"),
        (lambda s: s.update("a", {"id": "b"}, updated_at=LATER), ValueError, "cannot change"),
        (lambda s: s.update("a", {}, updated_at="yesterday"), ValueError, "not an ISO-8601 timestamp"),
        (lambda s: s.insert([rec("c"), rec("a")]), ValueError, "ids already stored: a"),
    ],
)
def test_bad_changes_are_refused_and_change_nothing(call, error: type[Exception], match: str) -> None:
    store = RecordStore()
    store.add([rec("a")])
    with pytest.raises(error, match=match):
        call(store)
    assert store.records() == [rec("a")]


def test_insert_with_explicit_updated_at() -> None:
    store = RecordStore()
    store.insert([rec("n", "2024-06-01T00:00:00Z")], updated_at="2025-02-01T00:00:00Z")
    assert store.records()[0]["updated_at"] == "2025-02-01T00:00:00Z"


def test_changes_apply_after_the_nth_answered_request_over_http() -> None:
    with FakeConversationsAPI([rec("a"), rec("b"), rec("c")]) as api:
        api.after_request(2, lambda a: a.update_record("a", {"title": "v2"}, updated_at=LATER))
        api.after_request(2, lambda a: a.delete_records(["b"]))
        api.after_request(3, lambda a: a.insert_records([rec("d")], updated_at=LATER))
        first = by_updated(api, "2025-01-01T00:00:00Z")
        second = by_updated(api, "2025-01-01T00:00:00Z")  # the 2nd answer still sees the old records
        third = by_updated(api, "2025-01-01T00:00:00Z")
        fourth = by_updated(api, "2025-02-01T00:00:00Z")
    assert [r["id"] for r in first] == [r["id"] for r in second] == ["a", "b", "c"]
    assert [(r["id"], r["title"]) for r in third] == [("c", "c"), ("a", "v2")]
    assert [r["id"] for r in fourth] == ["a", "d"]


def test_failed_answers_do_not_count_towards_the_nth_request() -> None:
    with FakeConversationsAPI([rec("a")], faults=Faults(error_rate=1.0)) as api:
        api.after_request(1, lambda a: a.delete_records(["a"]))
        requests.get(f"{api.url}/v2/conversations", headers=AUTH, timeout=5)
        api.faults.error_rate = 0.0
        assert [r["id"] for r in by_updated(api, T)] == ["a"]
        assert by_updated(api, T) == []


def test_the_quirk_applies_to_an_updated_at_read() -> None:
    with FakeConversationsAPI(
        [rec("a"), rec("b", "2025-01-01T11:00:00Z")], faults=Faults(boundary_quirk_rate=1.0)
    ) as api:
        assert [r["id"] for r in by_updated(api, "2025-01-01T11:00:00Z")] == ["a", "b"]


@pytest.mark.parametrize("after", [0, -1, True, "2"])
def test_a_bad_request_count_is_refused(after: object) -> None:
    with pytest.raises(ValueError, match="after: expected a request count >= 1"):
        ChangeSchedule().add(after, print)  # type: ignore[arg-type]
