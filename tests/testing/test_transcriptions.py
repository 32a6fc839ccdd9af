"""Real-HTTP tests of the fake's transcription endpoints, and of the sentence reader against them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from airflow_provider_conversations.api.wire import Page, parse_page
from airflow_provider_conversations.exceptions import ConversationsNotFoundError
from airflow_provider_conversations.reading.sentences import GetPage, read_sentences
from airflow_provider_conversations.testing import FakeConversationsAPI, Faults
from airflow_provider_conversations.testing.transcript_records import SPECIAL_SIZES
from tests.testing.server_helpers import AUTH, Factory

LATER = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def api() -> Iterator[FakeConversationsAPI]:
    """A shared read-only fake with 200 conversations and their transcriptions."""
    with FakeConversationsAPI(200, seed=5, rate_limit_per_minute=1_000_000) as server:
        yield server


def call(api: FakeConversationsAPI, path: str, params: Any = None) -> requests.Response:
    return requests.get(f"{api.url}{path}", params=params, headers=AUTH, timeout=5)


def http_get(api: FakeConversationsAPI) -> GetPage:
    """The reader's ``get`` over real HTTP: a requests session and the provider's page parser."""
    session = requests.Session()

    def get(path: str, params: list[tuple[str, str]]) -> Page:
        r = session.get(f"{api.url}{path}", params=params, headers=AUTH, timeout=5)
        return parse_page(r.status_code, r.headers, r.content, records="sentences", required=("id",))

    return get


def by_size(api: FakeConversationsAPI) -> dict[int, str]:
    return {len(api.transcripts.sentences(t["id"])): t["id"] for t in api.transcripts.records()}


# -- the data ----------------------------------------------------------------------------------------
def test_every_conversation_refers_to_its_transcription(api: FakeConversationsAPI) -> None:
    transcriptions = {t["id"]: t for t in api.transcripts.records()}
    conversations = api.records()
    assert len(transcriptions) == len(conversations) == 200
    for conversation in conversations:
        t = transcriptions[conversation["transcription"]["id"]]
        assert t["conversation"]["id"] == conversation["id"] and t["language_code"] == conversation["language_code"]
        assert t["created_at"] > conversation["created_at"] and t["updated_at"] >= t["created_at"]
        assert t["transcription_sentences"]["_href"].endswith(f"/transcriptions/{t['id']}/sentences")


def test_data_holds_the_special_sizes_and_legacy_sentences(api: FakeConversationsAPI) -> None:
    sizes = by_size(api)
    assert set(SPECIAL_SIZES) <= set(sizes)
    legacy = [
        t["id"]
        for t in api.transcripts.records()
        if any("order_number" not in s for s in api.transcripts.sentences(t["id"]))
    ]
    assert sizes[101] in legacy and 0 < len(legacy) < 200


def test_data_is_deterministic_from_the_seed() -> None:
    def dump(seed: int) -> list[Any]:
        fake = FakeConversationsAPI(30, seed=seed)
        return [(t, fake.transcripts.sentences(t["id"])) for t in fake.transcripts.records()]

    assert dump(1) == dump(1) and dump(1) != dump(2)


def test_no_transcriptions_when_switched_off() -> None:
    assert FakeConversationsAPI(10, transcriptions=False).transcripts.records() == []


# -- the list ---------------------------------------------------------------------------------------
def test_list_filters_sorts_and_pages_in_the_envelope(api: FakeConversationsAPI) -> None:
    everything = api.transcripts.records()
    lo, hi = everything[40]["created_at"], everything[90]["created_at"]
    params = {"created_at[gte]": lo, "created_at[lt]": hi, "sort_direction": "ASC", "per_page": 20}
    seen, page = [], 1
    while page:
        r = call(api, "/v2/transcriptions", {**params, "page": page, "include_paging_counts": "true"})
        assert r.status_code == 200 and r.headers["x-ratelimit-endpoint-cost"] == "1"
        body = r.json()
        assert body["metadata"]["paging"]["total_count"] == 50
        assert body["metadata"]["sorting"] == {"sort_by": "created_at", "sort_direction": "ASC"}
        seen += body["data"]
        page = body["metadata"]["paging"]["next_page"]
    assert seen == everything[40:90]
    updated = sorted(everything, key=lambda t: (t["updated_at"], t["id"]))
    r = call(api, "/v2/transcriptions", {"sort_by": "updated_at", "sort_direction": "ASC", "per_page": 100})
    assert r.json()["data"] == updated[:100]
    ids = [everything[3]["id"], everything[7]["id"]]
    assert [t["id"] for t in call(api, "/v2/transcriptions", {"ids[]": ids}).json()["data"]] == ids[::-1]
    code = everything[0]["language_code"]
    answer = call(api, "/v2/transcriptions", {"language_code": code, "per_page": 100}).json()["data"]
    assert answer and {t["language_code"] for t in answer} == {code}


@pytest.mark.parametrize(
    ("params", "name"),
    [({"sort_by": "duration"}, "sort_by"), ({"per_page": 101}, "per_page"), ({"language_code": "xx"}, "language_code")],
)
def test_list_refuses_bad_values_with_422(api: FakeConversationsAPI, params: dict[str, Any], name: str) -> None:
    r = call(api, "/v2/transcriptions", params)
    assert r.status_code == 422 and name in r.json()["message"]


def test_list_ignores_conversation_filters_unless_strict(conversations_api_factory: Factory) -> None:
    loose = conversations_api_factory(20, seed=1)
    assert len(call(loose, "/v2/transcriptions", {"platform": "zoom", "per_page": 100}).json()["data"]) == 20
    strict = conversations_api_factory(20, seed=1, strict_params=True)
    assert call(strict, "/v2/transcriptions", {"platform": "zoom"}).status_code == 400
    assert (
        call(
            strict, f"/v2/transcriptions/{strict.transcripts.records()[0]['id']}/sentences", {"sort_by": "x"}
        ).status_code
        == 400
    )


def test_deep_pages_cost_as_on_conversations(api: FakeConversationsAPI) -> None:
    r = call(api, "/v2/transcriptions", {"per_page": 1, "page": 101})
    assert r.status_code == 200 and r.headers["x-ratelimit-endpoint-cost"] == "3"


def test_boundary_quirk_prepends_the_row_before_the_bound(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(30, seed=2, faults=Faults(boundary_quirk_rate=1.0))
    rows = fake.transcripts.records()
    r = call(fake, "/v2/transcriptions", {"created_at[gte]": rows[10]["created_at"], "sort_direction": "ASC"})
    assert [t["id"] for t in r.json()["data"][:2]] == [rows[9]["id"], rows[10]["id"]]
    assert fake.stats.faults["boundary_quirk"] == 1


# -- one transcription ------------------------------------------------------------------------------
def test_one_transcription_its_artifact_and_404s(api: FakeConversationsAPI) -> None:
    t = api.transcripts.records()[0]
    assert call(api, f"/v2/transcriptions/{t['id']}").json() == {"data": t}
    url = call(api, f"/v2/transcriptions/{t['id']}/artifact").json()["data"]
    assert url.startswith("https://") and "Signature=" in url
    for path in ("/v2/transcriptions/nope", "/v2/transcriptions/nope/sentences", "/v2/transcriptions/nope/artifact"):
        r = call(api, path)
        assert r.status_code == 404 and r.json() == {"error": "Not Found", "message": "Transcription nope not found"}
        assert r.headers["x-ratelimit-endpoint-cost"] == "1"
    assert call(api, f"/v2/transcriptions/{t['id']}/words").status_code == 404


def test_sentences_page_in_api_order_with_counts(api: FakeConversationsAPI) -> None:
    tid = by_size(api)[101]
    first = call(api, f"/v2/transcriptions/{tid}/sentences", {"per_page": 100, "include_paging_counts": "true"})
    second = call(api, f"/v2/transcriptions/{tid}/sentences", {"per_page": 100, "page": 2})
    assert first.json()["metadata"]["paging"] | {} == {
        "per_page": 100, "current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 2, "total_count": 101,
    }  # fmt: skip
    assert second.json()["metadata"]["paging"]["next_page"] is None
    assert first.json()["data"] + second.json()["data"] == api.transcripts.sentences(tid)
    starts = [s["start_time"] for s in api.transcripts.sentences(tid)]
    assert starts == sorted(starts) and {s["id"] for s in api.transcripts.sentences(tid)} == {tid}


def test_faults_and_budget_apply_to_transcription_paths(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(10, seed=3, rate_limit_per_minute=2, faults=Faults(error_rate=1.0))
    tid = fake.transcripts.records()[0]["id"]
    assert call(fake, f"/v2/transcriptions/{tid}/sentences").status_code in (500, 502, 503)
    fake.faults.error_rate = 0.0
    statuses = [call(fake, f"/v2/transcriptions/{tid}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429] and fake.stats.total_cost == 2


# -- changes ----------------------------------------------------------------------------------------
def test_retranscribe_moves_updated_at_of_transcription_and_conversation(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(10, seed=4)
    t = fake.transcripts.records()[2]
    before = fake.transcripts.sentences(t["id"])
    new = fake.transcripts.retranscribe(t["id"], updated_at=LATER)
    after = fake.transcripts.sentences(t["id"])
    assert new["updated_at"] == "2025-03-01T12:00:00.000000Z" and len(after) == len(before) and after != before
    conversation = next(c for c in fake.records() if c["id"] == t["conversation"]["id"])
    assert conversation["updated_at"] == new["updated_at"]
    fake.transcripts.retranscribe(t["id"], updated_at=LATER, sentences=3)
    assert len(call(fake, f"/v2/transcriptions/{t['id']}/sentences").json()["data"]) == 3


def test_insert_update_delete_transcriptions(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(5, seed=6)
    record = {
        "id": "tx-new",
        "created_at": "2025-01-03T00:00:00Z",
        "language_code": "en-US",
        "conversation": {"id": "c9"},
    }
    fake.transcripts.insert([record], sentences={"tx-new": 150}, updated_at=LATER)
    body = call(fake, "/v2/transcriptions/tx-new/sentences", {"include_paging_counts": "true"}).json()
    assert body["metadata"]["paging"]["total_count"] == 150 and body["data"][0]["conversation"]["id"] == "c9"
    with pytest.raises(ValueError, match="ids already stored"):
        fake.transcripts.insert([record])
    fake.transcripts.update("tx-new", {"language_code": "fr-FR"}, updated_at=LATER)
    assert call(fake, "/v2/transcriptions/tx-new").json()["data"]["language_code"] == "fr-FR"
    assert fake.transcripts.delete(["tx-new", "missing"]) == 1
    assert call(fake, "/v2/transcriptions/tx-new/sentences").status_code == 404


def test_deletion_fault_on_the_list_deletes_transcriptions(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(10, seed=7, faults=Faults(delete_per_request=2))
    call(fake, "/v2/transcriptions")
    assert len(fake.transcripts.records()) == 8 and len(fake.records()) == 10


# -- the sentence reader over real HTTP -------------------------------------------------------------
@pytest.mark.parametrize("size", SPECIAL_SIZES)
def test_reader_reads_each_special_size_at_one_request_per_100(api: FakeConversationsAPI, size: int) -> None:
    tid = by_size(api)[size]
    t = api.transcripts.get(tid)
    assert t is not None
    before = api.stats.requests
    read = read_sentences(http_get(api), tid, conversation_id=t["conversation"]["id"])
    assert api.stats.requests - before == read.requests == max(1, math.ceil(size / 100)) == read.cost
    assert [
        {k: r[k] for k in r if k not in ("transcription_id", "conversation_id", "sentence_index")} for r in read.rows
    ] == (api.transcripts.sentences(tid))
    assert Counter(r["conversation_id"] for r in read.rows) == ({t["conversation"]["id"]: size} if size else {})


def test_reader_survives_a_retranscription_mid_read(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(20, seed=5)
    tid = by_size(fake)[101]
    fake.after_request(1, lambda a: a.transcripts.retranscribe(tid, updated_at=LATER, sentences=230))
    read = read_sentences(http_get(fake), tid)
    assert len(read.rows) == 230 and [r["text"] for r in read.rows] == [
        s["text"] for s in fake.transcripts.sentences(tid)
    ]
    assert read.requests == 2 + 3 and len(read.rereads) == 1


def test_reader_raises_not_found_for_a_deleted_transcription(conversations_api_factory: Factory) -> None:
    fake = conversations_api_factory(5, seed=8)
    tid = fake.transcripts.records()[0]["id"]
    fake.transcripts.delete([tid])
    with pytest.raises(ConversationsNotFoundError) as caught:
        read_sentences(http_get(fake), tid)
    assert caught.value.ident == tid and caught.value.request_id
