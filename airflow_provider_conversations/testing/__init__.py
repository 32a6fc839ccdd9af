"""A local fake of the Conversations API (``/v2/conversations``, ``/v2/transcriptions``) for tests and demos.

:class:`FakeConversationsAPI` is a real HTTP server on loopback (stdlib only, no Airflow import)
that behaves like the vendor's endpoint: bearer auth, filters, sorting, page-number paging with
the ``metadata`` envelope, the per-minute cost budget with deep-page costs, and injectable faults.

Usage::

    import requests
    from airflow_provider_conversations.testing import FakeConversationsAPI, Faults

    with FakeConversationsAPI(1000, token="t", seed=0) as api:
        r = requests.get(
            f"{api.url}/v2/conversations",
            params={"created_at[gte]": "2025-01-02T00:00:00.000000Z", "sort_by": "created_at",
                    "sort_direction": "ASC", "per_page": 100},
            headers={"Authorization": "Bearer t"},
            timeout=5,
        )
        body = r.json()  # {"metadata": {"filtering", "sorting", "paging"}, "data": [...]}
        api.faults.error_rate = 0.2  # knobs can change at runtime
        print(api.stats.requests, api.stats.total_cost, api.request_log[-1].query)

In pytest: ``pytest_plugins = ["airflow_provider_conversations.testing.pytest_plugin"]`` gives the
fixtures ``conversations_api`` (500 records, seed 0, token ``test-token``) and
``conversations_api_factory(**kwargs)``. From a shell::

    python -m airflow_provider_conversations.testing serve --port 8089 --records 5000 --token TOKEN

Wire contract (what a client must know):

* ``GET /v2/conversations``, ``GET /v2/transcriptions`` and ``GET /v2/transcriptions/{id}``,
  ``/{id}/sentences``, ``/{id}/artifact`` (see below); anything else is a 404 JSON error. ``Authorization: Bearer <token>``
  (scheme case-insensitive) or 401 ``{"error": "Unauthorized", "message": ...}``.
* Scalar filters: ``title``, ``title[_starts_with]``, ``created_at[lt|lte|gt|gte]``,
  ``updated_at[lt|lte|gt|gte]`` (ISO-8601, microsecond precision, no offset means UTC),
  ``duration[lt|lte|gt|gte]`` (integer ms), ``language_code``, ``platform``, ``media_type``,
  ``is_api`` (``true``/``false``). Repeated scalars: the last one wins.
* List filters: ``owner_ids``, ``user_guids``, ``ids``, ``account_ids``, ``person_ids`` as repeated
  ``name[]=a&name[]=b`` or ``name=a,b`` (both forms may be mixed; values are unioned).
* ``sort_by`` (``created_at``/``updated_at``/``duration``, default ``created_at``), ``sort_direction``
  (``ASC``/``DESC`` any case, default ``DESC``; ``id`` breaks ties in the same direction), ``page``
  (>= 1), ``per_page`` (1..100, default 25), ``include_paging_counts`` (``true``/``false``).
* An invalid value is a 422 naming the parameter and the allowed values; an unknown name is ignored
  (and recorded in ``stats.unknown_params``) unless ``strict_params=True`` (then 400).
* Budget: ``rate_limit_per_minute`` cost per token per window of ``minute_seconds``; by default windows
  aligned on multiples of ``minute_seconds`` of ``time.time()``, or, with ``window_rule`` (see
  :data:`WINDOW_RULES`), a window opened by the first request after the last one expired, or a
  sliding window; cost per page from :data:`COST_TABLE`.
  Headers ``x-ratelimit-endpoint-cost`` and ``x-ratelimit-remaining-minute`` on every authenticated
  answer (not on 401, 302, injected 5xx or injected HTML). A 422/400 costs 1; a 404 costs 0. Over budget: 429, costs
  nothing, ``Retry-After`` = seconds to the end of the window: an integer (ceil) when
  ``minute_seconds >= 60``, else a decimal with 3 decimals (e.g. ``"0.237"``); no ``Retry-After``
  when ``retry_after=False`` (like the real API).
* Every answer has ``Date``, a unique ``x-request-id`` and (except injected HTML) a JSON body,
  UTF-8 with non-ASCII text as is. Connections are HTTP/1.1 keep-alive. With ``gzip=True`` a request
  that sends ``Accept-Encoding: gzip`` gets ``Content-Encoding: gzip``; with ``chunked=True`` bodies
  go out with ``Transfer-Encoding: chunked`` (16 KiB chunks) instead of ``Content-Length``.
* :class:`Faults` (``api.faults``, mutable at runtime; draws seeded by ``seed``): injected 5xx,
  429 (``Retry-After: throttle_retry_after``, ``x-ratelimit-remaining-minute: 0``), dropped
  connections and HTML 200s cost no budget; a slow answer is a normal answer (normal cost) sent
  ``slow_seconds`` late; ``boundary_quirk_rate`` prepends the row just before a ``created_at``
  lower bound (or an ``updated_at`` one, sorted by ``updated_at``); ``delete_per_request``
  deletes records after each 200; ``redirect_to`` answers 302 (before the auth check). Counted in ``api.stats.faults``.
* Transcriptions: the list takes ``created_at[...]``, ``updated_at[...]``, ``ids``, ``language_code``,
  ``sort_by`` (``created_at``/``updated_at``), ``sort_direction`` and the paging names, in the same
  envelope, budget, faults and boundary quirk as conversations. ``/{id}`` answers
  ``{"data": transcription}``, ``/{id}/artifact`` ``{"data": "<signed URL>"}``, ``/{id}/sentences``
  the sentences in the API's order, paged (``per_page``, ``page``, ``include_paging_counts``). An
  unknown id is a 404 ``{"error": "Not Found", "message": ...}`` that costs 1. Changes through
  ``api.transcripts`` (:class:`TranscriptStore`): ``retranscribe``, ``insert``, ``update``,
  ``delete``, ``set_sentences``.
* Changes: ``update_record(id, fields, updated_at=...)``, ``insert_records(records, updated_at=...)``,
  ``delete_records(ids)``, and ``after_request(n, change)`` to apply ``change(api)`` once ``n`` data
  requests have been answered (while a run is in progress).
"""

from __future__ import annotations

from .budget import WINDOW_RULES
from .faults import FAULT_KINDS, Faults
from .observe import ChargeEvent, ConnectionEvent, RequestLogEntry, Stats
from .query import COST_TABLE, KNOWN_PARAMS, QueryError, QueryResult, answer_query, request_cost
from .records import (
    LANGUAGE_CODES,
    MEDIA_TYPES,
    PLATFORMS,
    format_timestamp,
    generate_conversations,
    make_conversation,
    parse_timestamp,
)
from .server import ENDPOINT, TRANSCRIPTIONS_ENDPOINT, FakeConversationsAPI
from .transcript_records import SPECIAL_SIZES, SentencePlan, generate_transcriptions, make_transcription
from .transcript_store import TranscriptStore

__all__ = [
    "COST_TABLE",
    "ENDPOINT",
    "FAULT_KINDS",
    "KNOWN_PARAMS",
    "LANGUAGE_CODES",
    "MEDIA_TYPES",
    "PLATFORMS",
    "SPECIAL_SIZES",
    "TRANSCRIPTIONS_ENDPOINT",
    "WINDOW_RULES",
    "ChargeEvent",
    "ConnectionEvent",
    "FakeConversationsAPI",
    "Faults",
    "QueryError",
    "QueryResult",
    "RequestLogEntry",
    "SentencePlan",
    "Stats",
    "TranscriptStore",
    "answer_query",
    "format_timestamp",
    "generate_conversations",
    "generate_transcriptions",
    "make_conversation",
    "make_transcription",
    "parse_timestamp",
    "request_cost",
]
