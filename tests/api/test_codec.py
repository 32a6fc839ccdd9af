"""codec: the hot path's JSON decodes what json.loads reads, and writes the bytes json.dumps wrote."""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_conversations.api.codec import decode, encode_line
from airflow_provider_conversations.testing.records import generate_conversations


def stdlib_line(record: object) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


@pytest.mark.parametrize("title_chars", [0, 2_000])
def test_lines_are_the_bytes_the_standard_library_wrote(title_chars: int):
    records = generate_conversations(300, seed=7, title_chars=title_chars)
    assert any(not r["title"].isascii() for r in records)  # the data exercises UTF-8 text
    assert [encode_line(r) for r in records] == [stdlib_line(r) for r in records]


@pytest.mark.parametrize(
    "value",
    [
        'tab\tquote"backslash\\nul\x00del\x7fline-sep\u2028emoji😀/<>&',
        2**63 - 1,
        -(2**63),
        2**64 + 1,  # beyond 64 bits: written by the standard library, digit for digit
        -(10**30),
        [None, True, False, 0, -0.0, 1.5, {"nested": []}],
        {},
    ],
)
def test_values_match_the_standard_library(value: object):
    record = {"id": "x", "value": value}
    assert encode_line(record) == stdlib_line(record)


@pytest.mark.parametrize("number", [1e-7, 5.681514209101919e-05, 1e16, 1e22, 0.1, 123.456, -2.5e-300])
def test_floats_read_back_as_the_same_number(number: float):
    line = encode_line({"n": number})
    assert line.endswith(b"\n") and b"\n" not in line[:-1]
    assert json.loads(line)["n"] == number


def test_lone_surrogate_is_kept_as_its_escape_in_valid_utf8():
    record = decode(b'{"id":"x","title":"broken \\ud800 pair"}')
    line = encode_line(record)
    line.decode("utf-8")  # valid UTF-8: readers can open the part
    assert json.loads(line) == record


@pytest.mark.parametrize(
    "body",
    [
        b'{"data":[{"id":"a","n":123456789012345678901234567890}]}',  # no loss of digits
        b'\xef\xbb\xbf{"data":[]}',  # a byte order mark
        b'{"data":[{"id":"a","x":NaN}]}',
        b'{"data":[{"id":"a","t":"\\ud83d"}]}',
        b' \r\n{"data" : [ {"id" : "a"} ] }\n',  # any framing whitespace
        '{"data":[{"id":"a","t":"Société 東京"}]}'.encode(),
    ],
)
def test_decode_reads_what_the_standard_library_reads(body: bytes):
    got, want = decode(body), json.loads(body)
    if "NaN" in body.decode("utf-8-sig"):
        assert math.isnan(got["data"][0]["x"])
    else:
        assert got == want


def test_decode_keeps_big_integers_exact():
    assert decode(b'{"n":123456789012345678901234567890}')["n"] == 123456789012345678901234567890


@pytest.mark.parametrize("body", [b"", b"<html>oops</html>", b'{"data":[', b"\xff\xfe\x00"])
def test_decode_raises_value_error_on_what_is_not_json(body: bytes):
    with pytest.raises(ValueError):
        decode(body)
