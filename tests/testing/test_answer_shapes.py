"""The fake's answer shapes: record size and text, gzip, chunked framing (over real HTTP, and pure)."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest

from airflow_provider_conversations.testing import FakeConversationsAPI, generate_conversations
from airflow_provider_conversations.testing.__main__ import build_parser
from airflow_provider_conversations.testing.answers import accepts_gzip, chunks

TOKEN = "test-token"
QUERY = "/v2/conversations?per_page=100&sort_by=created_at&sort_direction=ASC"


def raw_get(api: FakeConversationsAPI, headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
    """One GET with exactly ``headers`` (http.client adds no Accept-Encoding) and the body as on the wire."""
    conn = http.client.HTTPConnection(api.host, api.port, timeout=5)
    conn.request("GET", QUERY, headers={"Authorization": f"Bearer {TOKEN}", **headers})
    response = conn.getresponse()
    body = response.read()  # http.client undoes the chunked framing but not the gzip
    conn.close()
    return response, body


def test_title_chars_and_non_ascii_share_shape_the_records():
    plain = generate_conversations(200, seed=1)
    long = generate_conversations(200, seed=1, title_chars=500, non_ascii_share=0.0)
    everywhere = generate_conversations(200, seed=1, title_chars=500, non_ascii_share=1.0)
    assert max(len(r["title"]) for r in plain) < 100
    assert all(len(r["title"]) == 500 and r["title"].isascii() for r in long)
    assert all(not r["title"].isascii() for r in everywhere)
    assert [r["id"] for r in plain] != [] and plain == generate_conversations(200, seed=1)


@pytest.mark.parametrize("bad", [{"title_chars": -1}, {"non_ascii_share": 1.5}])
def test_bad_shape_knobs_name_the_field(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        generate_conversations(5, **bad)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_gzip_only_to_a_request_that_accepts_it(chunked):
    with FakeConversationsAPI(150, token=TOKEN, gzip=True, chunked=chunked) as api:
        zipped, zipped_body = raw_get(api, {"Accept-Encoding": "gzip, deflate"})
        plain, plain_body = raw_get(api, {})
    assert zipped.getheader("Content-Encoding") == "gzip" and plain.getheader("Content-Encoding") is None
    assert json.loads(gzip.decompress(zipped_body)) == json.loads(plain_body)
    assert len(zipped_body) < len(plain_body) / 3
    framing = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(len(plain_body)))
    assert plain.getheader(framing[0]) == framing[1]
    assert (plain.getheader("Content-Length") is None) == chunked
    assert api.stats.encodings == {"gzip": 1, "identity": 1} and api.stats.chunked == (2 if chunked else 0)


def test_without_the_gzip_knob_answers_are_never_compressed():
    with FakeConversationsAPI(10, token=TOKEN) as api:
        response, body = raw_get(api, {"Accept-Encoding": "gzip"})
    assert response.getheader("Content-Encoding") is None and json.loads(body)["data"]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("gzip, deflate", True), ("br;q=1.0, gzip;q=0.5", True), ("gzip;q=0", False), ("*", True),
     ("deflate", False), ("", False), (None, False), ("gzip;q=x", False)],
)  # fmt: skip
def test_accepts_gzip(value, accepted):
    assert accepts_gzip(value) is accepted


def test_chunks_frame_the_body_and_end_with_the_last_chunk():
    frames = chunks(b"a" * 10 + b"b" * 5, size=10)
    assert frames == [b"a\r\n" + b"a" * 10 + b"\r\n", b"5\r\nbbbbb\r\n", b"0\r\n\r\n"]
    assert chunks(b"") == [b"0\r\n\r\n"]


def test_cli_takes_the_shape_and_window_rule_flags():
    args = build_parser().parse_args(
        ["serve", "--gzip", "--chunked", "--title-chars", "300", "--non-ascii-share", "0", "--window-rule", "sliding"]
    )
    assert (args.gzip, args.chunked, args.title_chars, args.non_ascii_share) == (True, True, 300, 0.0)
    assert args.window_rule == "sliding"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--window-rule", "hourly"])
