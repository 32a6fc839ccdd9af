"""What the fake API sends back: an :class:`Answer` and how its body is written.

The dispatcher (:mod:`.server`) decides the status, headers and payload; the HTTP handler writes
the answer with :func:`encode_body`. How a body is shaped on the wire belongs here.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "CHUNK_BYTES",
    "GZIP_LEVEL",
    "HTML",
    "JSON",
    "Answer",
    "accepts_gzip",
    "chunks",
    "encode_body",
    "error_body",
    "fault_answer",
    "gzip_body",
    "retry_after_value",
]

#: ``Content-Type`` of JSON answers.
JSON = "application/json; charset=utf-8"
#: ``Content-Type`` of HTML answers (injected faults).
HTML = "text/html; charset=utf-8"
#: Bytes per chunk of a ``Transfer-Encoding: chunked`` answer.
CHUNK_BYTES = 16 * 1024
#: zlib level of gzip answers (Rails' ``Rack::Deflater`` uses zlib's default, 6).
GZIP_LEVEL = 6


@dataclass
class Answer:
    """One answer to send.

    :param status: the HTTP status.
    :param payload: a JSON-serialisable value, or the body's bytes.
    :param headers: extra headers (``Content-Type``, ``Content-Length``, ``x-request-id`` are added).
    :param content_type: the body's ``Content-Type``.
    :param delay: seconds to wait before sending.
    """

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON
    delay: float = 0.0


def encode_body(payload: Any) -> bytes:
    """The bytes of a body: ``payload`` itself if bytes, else its JSON (UTF-8, non-ASCII kept).

    A string with a lone surrogate, which UTF-8 cannot carry, makes the whole body ASCII with ``\\u``
    escapes, as a JSON API sends such a string.

    :param payload: the payload.
    """
    if isinstance(payload, bytes):
        return payload
    try:
        return json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return json.dumps(payload).encode()


def error_body(status: int, message: str) -> dict[str, str]:
    """The API's JSON error body: ``{"error": <reason phrase>, "message": message}``.

    :param status: the HTTP status.
    :param message: the explanation.
    """
    return {"error": _REASONS.get(status) or HTTPStatus(status).phrase, "message": message}


#: Phrases the API sends that Python's own table renamed (3.13 calls 422 "Unprocessable Content").
_REASONS = {422: "Unprocessable Entity"}


def retry_after_value(seconds: float, integer: bool) -> str:
    """A ``Retry-After`` value: whole seconds rounded up, or seconds with 3 decimals.

    :param seconds: the wait.
    :param integer: send whole seconds (at least 1).
    """
    return str(max(1, math.ceil(seconds))) if integer else f"{max(seconds, 0.001):.3f}"


def fault_answer(kind: str, *, status: int = 500, html: bool = False, retry_after: float | None = None) -> Answer:
    """The answer of an injected fault.

    :param kind: ``error`` (``status`` with a JSON or an HTML body), ``throttle`` (a 429 with
        ``x-ratelimit-remaining-minute: 0``) or ``non_json`` (a 200 with an HTML page).
    :param status: the status of an ``error``.
    :param html: give an ``error`` an HTML body.
    :param retry_after: the ``Retry-After`` seconds of a ``throttle`` (``None``: no header).
    :raises ValueError: on another kind.
    """
    if kind == "error":
        if html:
            text = f"<html><body><h1>{status} {error_body(status, '')['error']}</h1></body></html>"
            return Answer(status, text.encode(), content_type=HTML)
        return Answer(status, error_body(status, "Injected server error"))
    if kind == "throttle":
        headers = {"x-ratelimit-endpoint-cost": "1", "x-ratelimit-remaining-minute": "0"}
        if retry_after is not None:
            headers["Retry-After"] = retry_after_value(
                retry_after, float(retry_after).is_integer() and retry_after >= 1
            )
        return Answer(429, error_body(429, "Rate limit exceeded (injected)"), headers)
    if kind == "non_json":
        return Answer(200, b"<!DOCTYPE html><html><body><h1>Service maintenance</h1></body></html>", content_type=HTML)
    raise ValueError(f"kind: {kind!r} is not an injected answer; allowed: error, throttle, non_json")


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value accepts ``gzip`` (not with ``q=0``).

    :param accept_encoding: the request's header, or None.
    """
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip().lower().removeprefix("q=")
            try:
                return not params or float(q) > 0
            except ValueError:
                return False
    return False


def gzip_body(body: bytes) -> bytes:
    """``body`` compressed for ``Content-Encoding: gzip`` (no file name, no timestamp: reproducible).

    :param body: the body's bytes.
    """
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def chunks(body: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    """``body`` framed for ``Transfer-Encoding: chunked``: one frame per ``size`` bytes, then the last one.

    :param body: the body's bytes.
    :param size: bytes per chunk.
    """
    frames = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return [*frames, b"0\r\n\r\n"]
