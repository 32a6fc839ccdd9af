"""The walk driver over requests-mock: another list endpoint through the same reader, progress lines, errors.

``/v2/transcriptions`` is served by the fake API's query engine (it pages, sorts and filters the
transcriptions' fields as the real endpoint does), so the reader's guarantees are checked on an
endpoint other than conversations, with filters that are not
:class:`~airflow_provider_conversations.api.filters.ConversationFilters`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from airflow_provider_conversations.api.endpoints import ListEndpoint
from airflow_provider_conversations.api.wire import Page, parse_page
from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsFilterError
from airflow_provider_conversations.reading.driver import read_walk
from airflow_provider_conversations.reading.walk import PageRequest, RangeWalk
from airflow_provider_conversations.testing.query import answer_query
from airflow_provider_conversations.timestamps import format_timestamp

BASE = "https://api.example.com"
TRANSCRIPTIONS = ListEndpoint(path="/v2/transcriptions", record="transcription")
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
END = START + timedelta(days=1)


@dataclass(frozen=True)
class LanguageFilter:
    """The further filters of ``/v2/transcriptions`` a test needs: only the language."""

    language_code: str | None = None
    created_at_gte: str | None = None

    def to_params(self) -> list[tuple[str, str]]:
        return [("language_code", self.language_code)] if self.language_code else []

    def set_fields(self) -> list[str]:
        return [name for name in ("language_code", "created_at_gte") if getattr(self, name) is not None]


def transcriptions(n: int, rng: random.Random) -> list[dict]:
    """``n`` transcriptions over two days around the range, a tenth of them sharing a time with the one before."""
    stamps = sorted(START - timedelta(hours=6) + timedelta(seconds=rng.randrange(36 * 3600)) for _ in range(n))
    for i in range(1, n, 10):
        stamps[i] = stamps[i - 1]
    return [
        {
            "id": f"t{i:05d}",
            "language_code": rng.choice(["en-US", "de-DE"]),
            "created_at": format_timestamp(ts),
            "updated_at": format_timestamp(ts + timedelta(minutes=i % 7)),
            "conversation": {"id": f"c{i:05d}", "_href": f"{BASE}/v2/conversations/c{i:05d}"},
        }
        for i, ts in enumerate(sorted(stamps))
    ]


@pytest.fixture
def served(requests_mock):
    """``/v2/transcriptions`` answering from a list of records, the budget counting down by one a request."""
    records: list[dict] = []

    def answer(request, context):
        result = answer_query(records, parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
        context.headers["x-ratelimit-endpoint-cost"] = "1"
        context.headers["x-ratelimit-remaining-minute"] = str(600 - requests_mock.call_count)
        return json.dumps({"metadata": {"paging": result.paging}, "data": result.data})

    requests_mock.get(f"{BASE}{TRANSCRIPTIONS.path}", text=answer)
    return records


def fetch(request: PageRequest, stop: threading.Event | None) -> Page:
    response = requests.get(BASE + request.path, params=list(request.params), timeout=5)
    return parse_page(response.status_code, response.headers, response.content, records="transcriptions")


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize("key", ["created_at", "updated_at"])
def test_transcriptions_read_through_the_same_reader_each_once_in_order(served, requests_mock, key, concurrency):
    served += transcriptions(2_500, random.Random(7))
    walk = RangeWalk(START, END, LanguageFilter("en-US"), key=key, endpoint=TRANSCRIPTIONS)
    pages = list(read_walk(walk, fetch, concurrency=concurrency))
    got = [record for page in pages for record in page.records]
    want = [r for r in served if r["language_code"] == "en-US" and START <= datetime.fromisoformat(r[key]) < END]
    assert sorted(r["id"] for r in got) == sorted(r["id"] for r in want)
    assert len(got) == len({r["id"] for r in got}), "a transcription came twice"
    assert [r[key] for r in got] == sorted(r[key] for r in want)
    sent = [dict(parse_qsl(urlsplit(r.url).query)) for r in requests_mock.request_history]
    assert {urlsplit(r.url).path for r in requests_mock.request_history} == {"/v2/transcriptions"}
    assert all(q["language_code"] == "en-US" and q["sort_by"] == key and f"{key}[gte]" in q for q in sent)
    assert len(sent) <= len(want) // 100 + 2  # one point per 100 records, plus the partial last page


@pytest.mark.parametrize(
    ("walk_args", "message"),
    [
        ({"key": "duration"}, "key: 'duration' cannot be read as a range; allowed: created_at"),
        ({"filters": LanguageFilter(created_at_gte="2025-01-01")}, "filters: created_at_gte cannot be combined"),
        ({"per_page": 101}, "per_page: 101 is out of range"),
    ],
)
def test_bad_reads_of_an_endpoint_are_refused_before_any_request(requests_mock, walk_args, message):
    endpoint = ListEndpoint(path="/v2/transcriptions", record="transcription", range_keys=("created_at",))
    with pytest.raises(ConversationsFilterError, match=message):
        RangeWalk(START, END, **{"endpoint": endpoint, **walk_args})
    assert requests_mock.call_count == 0


def test_an_endpoint_with_a_range_key_the_api_cannot_filter_is_refused():
    with pytest.raises(ValueError, match="range_keys: 'duration' cannot be read as a range"):
        ListEndpoint(path="/v2/transcriptions", range_keys=("duration",))


class StepClock:
    """A clock that moves ``step`` seconds each time it is read (once per page taken, once at the start)."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


def progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Still reading")]


def test_a_long_read_logs_its_progress_about_once_a_minute(served, caplog):
    served += [
        {"id": f"t{i:05d}", "created_at": format_timestamp(START + timedelta(seconds=i)), "language_code": "en-US"}
        for i in range(5_000)
    ]
    caplog.set_level(logging.INFO, logger="test.progress")
    walk = RangeWalk(START, END, endpoint=TRANSCRIPTIONS)
    clock = StepClock(10.0)  # a page taken every 10 s: a line every 6 pages
    pages = list(read_walk(walk, fetch, concurrency=1, log=logging.getLogger("test.progress"), clock=clock))
    lines = progress_lines(caplog)
    assert len(pages) == 50 and len(lines) == 8
    where = f"[{format_timestamp(START)}, {format_timestamp(END)})"
    assert lines[0] == (
        f"Still reading transcriptions by created_at in {where}: 600 records, 6 pages (6 points) so far; "
        "rate-limit budget left this minute: 594"
    )
    assert lines[-1].startswith(f"Still reading transcriptions by created_at in {where}: 4800 records, 48 pages")


def test_a_read_shorter_than_a_minute_logs_no_progress(served, caplog):
    served += transcriptions(1_000, random.Random(3))
    caplog.set_level(logging.INFO, logger="test.progress")
    walk = RangeWalk(START, END, endpoint=TRANSCRIPTIONS)
    list(read_walk(walk, fetch, concurrency=4, log=logging.getLogger("test.progress"), clock=StepClock(1.0)))
    assert progress_lines(caplog) == []


def test_a_failed_request_ends_the_read_and_stops_the_others(served, requests_mock):
    served += transcriptions(3_000, random.Random(5))
    stops: list[threading.Event] = []

    def failing(request: PageRequest, stop: threading.Event | None) -> Page:
        assert stop is not None
        stops.append(stop)
        if request.page == 3:
            raise ConversationsAPIError("the API failed (503)", status=503)
        return fetch(request, stop)

    walk = RangeWalk(START, END, endpoint=TRANSCRIPTIONS)
    with pytest.raises(ConversationsAPIError, match="503"):
        list(read_walk(walk, failing, concurrency=4))
    assert stops and all(stop.is_set() for stop in stops)
