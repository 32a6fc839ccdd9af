"""Turn the API's raw answers into pages or typed errors. Pure: shared by every transport."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_conversations.api.codec import decode
from airflow_provider_conversations.api.headers import header, int_header, retry_after_seconds, server_time
from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsResponseError

_STATUS_HINTS = {
    401: "the API rejected the token (401 Unauthorized): check the connection's password",
    403: "the token is not allowed to read conversations (403 Forbidden): check its scopes",
    404: "the endpoint was not found (404): check the connection's host (API base URL)",
    422: "the API rejected a parameter value (422 Unprocessable Entity)",
    429: "rate limited by the API (429 Too Many Requests)",
}


@dataclass(frozen=True)
class Page:
    """One page of ``GET /v2/conversations``.

    :param records: the conversations, exactly as the API returned them.
    :param paging: ``metadata.paging`` (empty when the API sent a bare list).
    :param cost: ``x-ratelimit-endpoint-cost`` of this request.
    :param remaining: ``x-ratelimit-remaining-minute`` after this request.
    :param request_id: ``x-request-id``.
    """

    records: list[dict[str, Any]]
    paging: dict[str, Any] = field(default_factory=dict)
    cost: int | None = None
    remaining: int | None = None
    request_id: str | None = None

    @property
    def has_next(self) -> bool | None:
        """Whether the API announced a next page; ``None`` when it did not say."""
        if "next_page" not in self.paging:
            return None
        return self.paging["next_page"] is not None

    @property
    def total_count(self) -> int | None:
        """``total_count``, present only with ``include_paging_counts=true``."""
        value = self.paging.get("total_count")
        return int(value) if isinstance(value, (int, float, str)) and str(value).isdigit() else None


def _redact(text: str | None, secret: str | None) -> str | None:
    return text.replace(secret, "***") if text and secret else text


def _api_message(body: bytes) -> str | None:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:200].decode("utf-8", "replace").strip()
        return text or None
    if isinstance(payload, dict):
        for key in ("message", "error", "errors", "detail"):
            if payload.get(key):
                value = payload[key]
                return value if isinstance(value, str) else json.dumps(value)[:500]
    return None


def error_for_status(
    status: int, headers: Mapping[str, str], body: bytes, *, secret: str | None = None
) -> ConversationsAPIError:
    """Build the typed error for a non-2xx answer (``secret`` is blanked out of the API's message)."""
    if 300 <= status < 400:
        where = header(headers, "location") or "?"
        hint = (
            f"the API redirected ({status}) to {where.split('?')[0]}; redirects are not followed so the "
            "token never leaves the configured host: set the connection's host to the final URL"
        )
    else:
        hint = _STATUS_HINTS.get(status) or (
            f"the API failed ({status})" if status >= 500 else f"the API refused the request ({status})"
        )
    return ConversationsAPIError(
        hint,
        status=status,
        api_message=_redact(_api_message(body), secret) if not 300 <= status < 400 else None,
        request_id=header(headers, "x-request-id"),
        retry_after=retry_after_seconds(headers) if status == 429 or status >= 500 else None,
        server_time=server_time(headers),
    )


def parse_page(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None = None,
    kind: str = "conversations",
    required: tuple[str, ...] = ("id", "created_at"),
) -> Page:
    """Parse an answer into a :class:`Page`, or raise :class:`ConversationsAPIError`.

    :param status: HTTP status.
    :param headers: response headers.
    :param body: raw response body.
    :param secret: the token, blanked out of anything the API's body puts into an error.
    :param kind: what the ``data`` list holds, for the error message (e.g. ``sentences``).
    :param required: the keys every object of ``data`` must have (a sentence has no ``created_at``).
    """
    if not 200 <= status < 300:
        raise error_for_status(status, headers, body, secret=secret)
    request_id = header(headers, "x-request-id")
    try:
        payload = decode(body)
    except ValueError:  # UnicodeDecodeError is one
        snippet = _redact(body[:120].decode("utf-8", "replace"), secret)
        raise ConversationsResponseError(
            f"the API answered {status} with a body that is not JSON: {snippet!r}", status=status, request_id=request_id
        ) from None
    paging: dict[str, Any] = {}
    if isinstance(payload, list):  # the reference's example: the data list alone
        data = payload
    elif isinstance(payload, dict) and isinstance(payload.get("data"), list):
        data = payload["data"]
        metadata = payload.get("metadata") or {}
        if isinstance(metadata, dict) and isinstance(metadata.get("paging"), dict):
            paging = metadata["paging"]
    else:
        raise ConversationsResponseError(
            f"the API answered {status} with JSON of an unexpected shape (no 'data' list): "
            f"{_redact(str(payload)[:120], secret)!r}",
            status=status,
            request_id=request_id,
        )
    if any(not isinstance(r, dict) or any(key not in r for key in required) for r in data):
        raise ConversationsResponseError(
            f"the API's 'data' list holds something other than {kind} "
            f"(objects with {' and '.join(repr(key) for key in required)})",
            status=status,
            request_id=request_id,
        )
    return Page(
        records=data,
        paging=paging,
        cost=int_header(headers, "x-ratelimit-endpoint-cost"),
        remaining=int_header(headers, "x-ratelimit-remaining-minute"),
        request_id=request_id,
    )


def total_count(page: Page) -> int:
    """``total_count`` of a page fetched with paging counts, or a clear error when the API left it out."""
    if page.total_count is None:
        raise ConversationsResponseError(
            "the API did not return metadata.paging.total_count although include_paging_counts=true was sent",
            request_id=page.request_id,
        )
    return page.total_count
