"""codec: the hot path's JSON decodes what json.loads reads, writes the bytes json.dumps wrote, and changes no value."""

from __future__ import annotations

import copy
import json
import math
import pickle

import pytest

from airflow_provider_conversations.api.codec import JsonNumber, append_line, decode, encode, encode_line
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
        2**64 + 1,  # beyond 64 bits: digit for digit
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


def strict_loads(line: bytes) -> object:
    """json.loads that refuses what standard JSON does not have (NaN, Infinity)."""

    def refuse(token: str) -> None:
        raise ValueError(f"not standard JSON: {token}")

    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize(
    "text",
    [
        "1e400",  # beyond a float: inf
        "-1E+400",
        "1e-400",  # below a float: 0.0
        "-2.5e-330",
        "0.10000000000000000001",  # rounds to 0.1
        "3.14159265358979323846264338327950288",
        "123456789012345678901234567890.5",
    ],
)
def test_a_number_a_float_cannot_hold_keeps_its_text(text: str):
    body = f'{{"id":"a","n":{text},"list":[{text}]}}'.encode()
    record = decode(body)
    assert record["n"] == float(text)  # readers of records see the float they always saw
    assert type(record["n"]) is JsonNumber and record["n"].text == text
    assert encode_line(record) == body + b"\n"  # written as the API sent it
    assert strict_loads(encode_line(record)) == json.loads(body)


@pytest.mark.parametrize(("text", "written"), [("1.5", "1.5"), ("1.50", "1.5"), ("1E5", "100000.0"), ("-0.0", "-0.0")])
def test_a_number_a_float_holds_is_a_float_written_in_its_shortest_form(text: str, written: str):
    record = decode(f'{{"n":{text}}}'.encode())
    assert type(record["n"]) is float
    assert encode_line(record) == f'{{"n":{written}}}\n'.encode()


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_tokens_json_lacks_are_written_as_strings_so_lines_stay_standard_json(token: str):
    record = decode(f'{{"id":"a","n":{token}}}'.encode())  # refused by msgspec, read by json.loads
    assert str(record["n"]) == str(float(token))
    assert strict_loads(encode_line(record)) == {"id": "a", "n": token}


def test_the_standard_library_path_keeps_numbers_too():
    body = b'\xef\xbb\xbf{"n":1e400,"m":0.5}'  # a byte order mark: msgspec refuses it
    assert encode_line(decode(body)) == b'{"n":1e400,"m":0.5}\n'


def test_a_lone_surrogate_is_escaped_and_the_rest_stays_utf8():
    body = '{"id":"x","title":"Société \\ud800 東京","\\udfff":1}'.encode()
    record = decode(body)
    line = encode_line(record)
    assert line == body + b"\n"  # only the surrogates are escapes
    assert json.loads(line) == record


def test_slow_path_values_keep_their_text_together():
    body = b'{"big":123456789012345678901234567890,"n":1e400,"t":"\\udc00","b":[true,null,1.5,-7]}'
    assert encode(decode(body)) == body


def test_json_numbers_survive_copies_and_pickles():
    number = decode(b"[1e400]")[0]
    for twin in (copy.deepcopy(number), pickle.loads(pickle.dumps(number))):
        assert type(twin) is JsonNumber and twin.text == "1e400" and twin == math.inf


@pytest.mark.parametrize(
    "body",
    [b'{"id":"a","n":1e400}', b'{"big":123456789012345678901234567890,"t":"\\ud800 \xc3\xa9"}', b'{"id":"b"}'],
)
def test_append_line_writes_encode_line_after_what_the_buffer_holds(body: bytes):
    buffer = bytearray(b"earlier\n")
    append_line(decode(body), buffer)
    assert bytes(buffer) == b"earlier\n" + encode_line(decode(body)) == b"earlier\n" + body + b"\n"


def test_append_line_leaves_the_buffer_as_it_was_on_a_value_json_lacks():
    buffer = bytearray(b"earlier\n")
    with pytest.raises(TypeError):
        append_line({"id": "a", "when": object()}, buffer)
    assert buffer == b"earlier\n"
