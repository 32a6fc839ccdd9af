"""Real-HTTP tests of the fake Conversations API (``airflow_provider_conversations.testing``)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from airflow_provider_conversations.testing import (
    FakeConversationsAPI,
    generate_conversations,
    parse_timestamp,
)
from tests.testing.server_helpers import AUTH, TOKEN, Factory, Record, fetch_all, get


@pytest.fixture(scope="module")
def api() -> Iterator[FakeConversationsAPI]:
    """A shared read-only fake with 300 records (the tests below do not mutate it)."""
    with FakeConversationsAPI(300, seed=7, rate_limit_per_minute=1_000_000) as server:
        yield server


# -- auth, routing, envelope -----------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
def test_auth_required(conversations_api_factory: Factory, headers: dict[str, str]) -> None:
    api = conversations_api_factory(5)
    r = get(api, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "Unauthorized" and r.json()["message"]
    logged = api.request_log[-1].headers.get("Authorization")
    assert logged == headers.get("Authorization")  # a wrong value is kept, for debugging
    get(api)
    assert api.request_log[-1].headers["Authorization"] == "***"  # the right one is masked


def test_unknown_path_is_json_404(api: FakeConversationsAPI) -> None:
    r = requests.get(f"{api.url}/v2/people", headers=AUTH, timeout=5)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")
    assert requests.post(f"{api.url}/v2/conversations", headers=AUTH, timeout=5).status_code == 404


def test_envelope_paging_and_headers(api: FakeConversationsAPI) -> None:
    ids: list[str] = []
    request_ids = set()
    for page in (1, 2, 3):
        r = get(api, {"per_page": 100, "page": page, "sort_direction": "ASC"})
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
        assert r.headers["Date"] and r.headers["x-ratelimit-endpoint-cost"] == "1"
        request_ids.add(r.headers["x-request-id"])
        body = r.json()
        paging = body["metadata"]["paging"]
        assert paging["current_page"] == page and paging["per_page"] == 100
        assert paging["prev_page"] == (None if page == 1 else page - 1)
        assert paging["next_page"] == (None if page == 3 else page + 1)
        assert "total_count" not in paging and "total_pages" not in paging
        assert body["metadata"]["sorting"] == {"sort_by": "created_at", "sort_direction": "ASC"}
        ids.extend(rec["id"] for rec in body["data"])
    assert ids == [rec["id"] for rec in api.records()]
    assert len(request_ids) == 3
    past = get(api, {"per_page": 100, "page": 4}).json()
    assert past["data"] == [] and past["metadata"]["paging"]["next_page"] is None
    default = get(api).json()
    assert len(default["data"]) == 25
    assert default["metadata"]["sorting"] == {"sort_by": "created_at", "sort_direction": "DESC"}


def test_include_paging_counts(api: FakeConversationsAPI) -> None:
    paging = get(api, {"per_page": 40, "include_paging_counts": "true"}).json()["metadata"]["paging"]
    assert paging["total_count"] == 300 and paging["total_pages"] == 8
    paging = get(api, {"include_paging_counts": "false"}).json()["metadata"]["paging"]
    assert "total_count" not in paging


# -- filters and sorting ---------------------------------------------------------------------------
def _ts(rec: Record, key: str = "created_at") -> datetime:
    return parse_timestamp(rec[key])


def _filter_cases(records: list[Record]) -> list[tuple[dict[str, Any], Callable[[Record], bool]]]:
    created = _tie_timestamp(records)
    updated, dur = _ts(records[150], "updated_at"), records[100]["duration"]
    owner, user, title = records[3]["owner_id"], records[4]["user_guid"], records[5]["title"]
    acct, person = records[6]["account"]["id"], records[7]["person"]["id"]
    some = [records[i]["id"] for i in (1, 50, 99)]
    iso = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    upd = updated.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    return [
        ({"title": title}, lambda r: r["title"] == title),
        ({"title[_starts_with]": "Discovery"}, lambda r: r["title"].startswith("Discovery")),
        ({"created_at[lt]": iso}, lambda r: _ts(r) < created),
        ({"created_at[lte]": iso}, lambda r: _ts(r) <= created),
        ({"created_at[gt]": iso}, lambda r: _ts(r) > created),
        ({"created_at[gte]": iso}, lambda r: _ts(r) >= created),
        ({"created_at[gte]": iso, "created_at[lt]": "2025-01-06"}, lambda r: created <= _ts(r) < _day(6)),
        ({"updated_at[lt]": upd}, lambda r: _ts(r, "updated_at") < updated),
        ({"updated_at[lte]": upd}, lambda r: _ts(r, "updated_at") <= updated),
        ({"updated_at[gt]": upd}, lambda r: _ts(r, "updated_at") > updated),
        ({"updated_at[gte]": upd}, lambda r: _ts(r, "updated_at") >= updated),
        ({"duration[lt]": dur}, lambda r: r["duration"] < dur),
        ({"duration[lte]": dur}, lambda r: r["duration"] <= dur),
        ({"duration[gt]": dur}, lambda r: r["duration"] > dur),
        ({"duration[gte]": dur}, lambda r: r["duration"] >= dur),
        ({"language_code": "en-US"}, lambda r: r["language_code"] == "en-US"),
        ({"platform": "zoom"}, lambda r: r["platform"] == "zoom"),
        ({"media_type": "audio"}, lambda r: r["media_type"] == "audio"),
        ({"is_api": "true"}, lambda r: r["is_api"] is True),
        ({"is_api": "FALSE"}, lambda r: r["is_api"] is False),
        ({"owner_ids[]": [owner]}, lambda r: r["owner_id"] == owner),
        ({"user_guids[]": [user]}, lambda r: r["user_guid"] == user),
        ({"account_ids[]": [acct]}, lambda r: r["account"]["id"] == acct),
        ({"person_ids[]": [person]}, lambda r: r["person"]["id"] == person),
        ({"ids[]": some}, lambda r: r["id"] in some),
        ({"ids": ",".join(some)}, lambda r: r["id"] in some),
        ({"ids[]": some[:1], "ids": some[1]}, lambda r: r["id"] in some[:2]),
        (
            {"platform": "zoom", "media_type": "video"},
            lambda r: r["platform"] == "zoom" and r["media_type"] == "video",
        ),
    ]


def _day(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=timezone.utc)


def _tie_timestamp(records: list[Record]) -> datetime:
    """A created_at shared by two records (so the bounds are tested on a tie), else a middle one."""
    seen: set[str] = set()
    for rec in records[50:]:
        if rec["created_at"] in seen:
            return _ts(rec)
        seen.add(rec["created_at"])
    return _ts(records[len(records) // 2])


def test_every_filter_filters(api: FakeConversationsAPI) -> None:
    records = api.records()
    for params, predicate in _filter_cases(records):
        expected = {r["id"] for r in records if predicate(r)}
        got = fetch_all(api, params)
        assert {r["id"] for r in got} == expected, params
        assert 0 < len(expected) < len(records) or "ids" in str(params), params
        assert len(got) == len(expected), params  # no duplicates across pages


@pytest.mark.parametrize("sort_by", ["created_at", "updated_at", "duration"])
@pytest.mark.parametrize("direction", ["ASC", "desc"])
def test_sorting_is_stable_with_id(api: FakeConversationsAPI, sort_by: str, direction: str) -> None:
    got = fetch_all(api, {"sort_by": sort_by, "sort_direction": direction})
    key: Callable[[Record], Any] = (
        (lambda r: (r[sort_by], r["id"])) if sort_by == "duration" else (lambda r: (_ts(r, sort_by), r["id"]))
    )
    expected = sorted(api.records(), key=key, reverse=direction.upper() == "DESC")
    assert [r["id"] for r in got] == [r["id"] for r in expected]


def test_naive_timestamp_is_utc_and_filtering_is_echoed(api: FakeConversationsAPI) -> None:
    a = get(api, {"created_at[gte]": "2025-01-03T00:00:00", "per_page": 100}).json()
    b = get(api, {"created_at[gte]": "2025-01-03T01:00:00+01:00", "per_page": 100}).json()
    assert a["data"] == b["data"]
    assert a["metadata"]["filtering"] == {"created_at[gte]": "2025-01-03T00:00:00"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("per_page", "0"),
        ("per_page", "101"),
        ("per_page", "ten"),
        ("page", "0"),
        ("platform", "skype"),
        ("language_code", "en-us"),
        ("media_type", "text"),
        ("sort_by", "title"),
        ("sort_direction", "up"),
        ("created_at[gte]", "yesterday"),
        ("updated_at[lt]", "2025-13-01"),
        ("duration[gt]", "1.5"),
        ("is_api", "yes"),
        ("include_paging_counts", "1"),
    ],
)
def test_invalid_values_are_422(api: FakeConversationsAPI, name: str, value: str) -> None:
    r = get(api, {name: value})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "Unprocessable Entity" and name in body["message"]


def test_unknown_params_ignored_or_strict(conversations_api_factory: Factory) -> None:
    lax = conversations_api_factory(30)
    r = get(lax, {"created_at[since]": "2025-01-02", "per_page": 100})
    assert r.status_code == 200 and len(r.json()["data"]) == 30  # ignored: every record comes back
    assert lax.stats.unknown_params == {"created_at[since]"}
    strict = conversations_api_factory(30, strict_params=True)
    r = get(strict, {"created_at[since]": "2025-01-02"})
    assert r.status_code == 400 and "created_at[since]" in r.json()["message"]
    assert get(strict, {"ids[]": ["x"], "owner_ids": "y"}).status_code == 200


# -- server behaviour --------------------------------------------------------------------------------
def test_latency_overlaps_across_threads(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(5, latency=0.2)
    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(get(api).status_code)) for _ in range(5)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 5 and 0.2 <= time.monotonic() - began < 0.8  # serial would be 1.0


def test_stop_is_prompt_with_idle_keepalive(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(5)
    url = api.url
    with requests.Session() as session:
        assert session.get(f"{url}/v2/conversations", headers=AUTH, timeout=5).status_code == 200
        began = time.monotonic()
        api.stop()  # the session still holds an idle keep-alive connection
        assert time.monotonic() - began < 1.0
        assert not [t for t in threading.enumerate() if t.name.endswith(url.rsplit(":", 1)[1])]
        with pytest.raises(requests.ConnectionError):
            session.get(f"{url}/v2/conversations", headers=AUTH, timeout=1)
    api.stop()  # idempotent


def test_add_delete_and_ids_in_range(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(20)
    extra = generate_conversations(3, seed=99, start=_day(20))
    api.add_records(extra)
    assert api.ids_in_range(_day(20), _day(28)) == {r["id"] for r in extra}
    assert {r["id"] for r in fetch_all(api, {"created_at[gte]": "2025-01-20"})} == {r["id"] for r in extra}
    assert api.delete_records([extra[0]["id"], "nope"]) == 1
    assert len(api.records()) == 22 and api.ids_in_range(_day(1), _day(8)) == {r["id"] for r in api.records()[:20]}


def test_plugin_fixture(conversations_api: FakeConversationsAPI) -> None:
    paging = get(conversations_api, {"include_paging_counts": "true"}).json()["metadata"]["paging"]
    assert paging["total_count"] == 500


# -- data --------------------------------------------------------------------------------------------
def test_generated_data_is_deterministic_and_complete() -> None:
    a, b = generate_conversations(400, seed=1), generate_conversations(400, seed=1)
    assert a == b and a != generate_conversations(400, seed=2)
    assert a == sorted(a, key=lambda r: (_ts(r), r["id"]))
    fields = {
        "id",
        "duration",
        "is_api",
        "platform",
        "media_type",
        "organization_id",
        "title",
        "owner_id",
        "user_guid",
        "started_recording_at",
        "event_end_date",
        "event_start_date",
        "language_code",
        "created_at",
        "updated_at",
        "call_id",
        "account",
        "person",
        "recording",
        "transcription",
        "transcription_sentences",
        "transcription_artifact",
    }
    for rec in a:
        assert set(rec) == fields
        assert _day(1) <= _ts(rec) < _day(8) and _ts(rec, "updated_at") >= _ts(rec)
        span = _ts(rec, "event_end_date") - _ts(rec, "event_start_date")
        assert span == timedelta(milliseconds=rec["duration"])
        assert rec["account"]["_href"].startswith("https://api.salesloft.com/v2/accounts/")
    assert 10 <= len(a) - len({r["created_at"] for r in a}) <= 30  # ~5% ties
    assert any(not r["title"].isascii() for r in a)
    assert len({r["owner_id"] for r in a}) <= 20
    assert a[0]["created_at"].endswith("Z") and len(a[0]["created_at"]) == len("2025-02-13T22:11:57.792123Z")


# -- CLI ---------------------------------------------------------------------------------------------
def test_cli_serves_and_stops() -> None:
    cmd = [sys.executable, "-m", "airflow_provider_conversations.testing", "serve", "--port", "0"]
    proc = subprocess.Popen([*cmd, "--records", "50", "--token", "cli-token"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("READY http://127.0.0.1:")
        url = line.split()[1]
        r = requests.get(f"{url}/v2/conversations", headers={"Authorization": "Bearer cli-token"}, timeout=5)
        assert r.status_code == 200 and len(r.json()["data"]) == 25
        proc.terminate()
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
