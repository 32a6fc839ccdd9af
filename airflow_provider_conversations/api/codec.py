"""JSON in and out of the hot path: the API's answers decoded, records encoded as JSONL lines, losslessly.

Both run once per record, and with the standard library they were most of the task's CPU (about 5 us
to decode and 9 us to encode a 1.5 KB conversation; msgspec takes 2 and 1). msgspec decodes to the same
Python values as :func:`json.loads`, integers of any size included; what it refuses (a byte order
mark, ``NaN``, a lone surrogate escape such as ``"\\ud800"``) goes to :func:`json.loads`, which
accepts it, so no answer the standard library could read is rejected.

No value is silently changed on its way from an answer to a written line:

* Integers are exact at any size.
* A number a float holds exactly (its shortest form is the same decimal number as the API's text)
  decodes to a :class:`float` and is written in its shortest form: ``1.50`` and ``1.5e0`` come out as
  ``1.5``, the same number for every reader.
* Any other number (``1e400``, which overflows a float; ``1e-400``, which underflows to zero;
  ``0.10000000000000000001``, which rounds) decodes to a :class:`JsonNumber`: a float holding the
  nearest value (``inf`` beyond the range) that keeps the API's text, and it is written as that text.
* ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON; an answer that has them anyway decodes them to
  a :class:`JsonNumber` that is written as a JSON string of the token (``"NaN"``), so every line stays
  standard JSON.
* Strings are written as UTF-8 text; a lone surrogate (``"\\ud800"``), which UTF-8 cannot carry, is
  written as its ``\\udXXX`` escape, and the rest of the text stays UTF-8.

Encoding otherwise writes compact JSON, byte for byte what
``json.dumps(record, ensure_ascii=False, separators=(",", ":"))`` gives for strings, integers,
booleans, nulls, lists and objects. Floats are written in their shortest exact form, which differs
from :func:`repr` only in exponent notation (``1e-7`` for ``1e-07``, ``1e16`` for ``1e+16``): the same
number for every reader.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import msgspec

__all__ = ["JsonNumber", "append_line", "decode", "encode", "encode_line"]

_NON_JSON_TOKENS = ("NaN", "Infinity", "-Infinity")


class JsonNumber(float):
    """A number from an answer that a float cannot hold exactly, with the text the API wrote it as.

    It is a :class:`float` (the nearest one, ``inf`` or ``-inf`` beyond the range), so code that reads
    records sees the value it always saw; :func:`encode` writes :attr:`text` instead.

    :param text: the number as the API wrote it (a JSON number, or ``NaN``, ``Infinity``, ``-Infinity``).
    """

    __slots__ = ("text",)

    text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __reduce__(self) -> tuple[type[JsonNumber], tuple[str]]:
        return JsonNumber, (self.text,)

    @property
    def json(self) -> bytes:
        """The JSON this number is written as: its text, or a JSON string of a token JSON does not have."""
        return json.dumps(self.text).encode() if self.text in _NON_JSON_TOKENS else self.text.encode()


def _number(text: str) -> float:
    """A JSON float literal as a :class:`float`, or a :class:`JsonNumber` if a float would change it."""
    value = float(text)
    # At most 15 digits in the normal range always come back as the same decimal (DBL_DIG is 15);
    # else the float's shortest form must be the API's text, or the same decimal number.
    if (len(text) <= 15 and 1e-300 < abs(value) < 1e300) or repr(value) == text:
        return value
    if value - value == 0 and Decimal(repr(value)) == Decimal(text):  # finite, and e.g. 1.50 for 1.5
        return value
    return JsonNumber(text)


_decoder = msgspec.json.Decoder(float_hook=_number)


def decode(body: bytes) -> Any:
    """Decode a JSON document (an API answer) into Python values (see the module docstring for numbers).

    :param body: the raw bytes.
    :raises ValueError: the bytes are not JSON (a :class:`json.JSONDecodeError`, or a
        :class:`UnicodeDecodeError` for bytes that are not text).
    """
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError:
        return json.loads(body, parse_float=_number, parse_constant=JsonNumber)


def _raw_number(value: Any) -> msgspec.Raw:
    if type(value) is JsonNumber:
        return msgspec.Raw(value.json)
    raise TypeError(f"{type(value).__name__} is not a JSON value")


_encoder = msgspec.json.Encoder(enc_hook=_raw_number)
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT64 = (-(2**63), 2**63 - 1)


def _string(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", quoted)


def _slow(value: Any) -> str:
    """What msgspec does not write (an integer beyond 64 bits, a lone surrogate), value by value."""
    if type(value) is str:
        return _string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(str(k))}:{_slow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_slow(v) for v in value) + "]"
    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
        return str(value)
    return _encoder.encode(value).decode("utf-8")


def encode(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, with numbers and strings as the module docstring says.

    :param value: a value decoded from JSON (dicts, lists, strings, numbers, booleans, ``None``).
    :raises TypeError: ``value`` holds something JSON has no form for.
    """
    try:
        return _encoder.encode(value)
    except (OverflowError, UnicodeEncodeError):
        return _slow(value).encode("utf-8")


def encode_line(record: Any) -> bytes:
    """One JSONL line: ``record`` as :func:`encode` writes it, then a newline.

    :param record: a value decoded from JSON (dicts, lists, strings, numbers, booleans, ``None``).
    """
    return encode(record) + b"\n"


def append_line(record: Any, buffer: bytearray) -> None:
    """Append :func:`encode_line` of ``record`` to ``buffer``, without an intermediate bytes object.

    :param record: a value decoded from JSON (dicts, lists, strings, numbers, booleans, ``None``).
    :param buffer: where the line goes, after what it holds.
    :raises TypeError: ``record`` holds something JSON has no form for (``buffer`` is left as it was).
    """
    start = len(buffer)
    try:
        _encoder.encode_into(record, buffer, -1)
    except (OverflowError, UnicodeEncodeError, TypeError):
        del buffer[start:]
        buffer += _slow(record).encode("utf-8")
    buffer += b"\n"
