"""What the fake ``GET /v2/conversations`` sends back: an :class:`Answer` and how its body is written.

The dispatcher (:mod:`.server`) decides the status, headers and payload; the HTTP handler writes
the answer with :func:`encode_body`. How a body is shaped on the wire belongs here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = ["HTML", "JSON", "Answer", "encode_body", "error_body", "retry_after_value"]

#: ``Content-Type`` of JSON answers.
JSON = "application/json; charset=utf-8"
#: ``Content-Type`` of HTML answers (injected faults).
HTML = "text/html; charset=utf-8"


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

    :param payload: the payload.
    """
    return payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()


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
