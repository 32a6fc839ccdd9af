"""Hook for the Conversations API: connection -> session, filters, keyset paging, retries, pacing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

import requests
import tenacity

from airflow_provider_conversations.api.codec import decode
from airflow_provider_conversations.api.connection import ENDPOINT_PATH, ConnectionSettings, settings_from_connection
from airflow_provider_conversations.api.endpoints import CONVERSATIONS, TRANSCRIPTIONS, ListEndpoint
from airflow_provider_conversations.api.filters import ConversationFilters, count_params, paging_params, validate_range
from airflow_provider_conversations.api.form import CONN_TYPE, UI_FIELD_BEHAVIOUR, form_widgets
from airflow_provider_conversations.api.ratelimit import RateLimitPacer
from airflow_provider_conversations.api.retry import RetryPolicy
from airflow_provider_conversations.api.stats import RequestStats
from airflow_provider_conversations.api.transcriptions import TranscriptionFilters
from airflow_provider_conversations.api.wire import Page, error_for_status, parse_page, total_count
from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsResponseError
from airflow_provider_conversations.reading.driver import read_walk
from airflow_provider_conversations.reading.ranges import RangeFilters
from airflow_provider_conversations.reading.sentences import SentenceRead, read_sentences
from airflow_provider_conversations.reading.walk import PageRequest, RangePage, RangeWalk, range_bounds
from airflow_provider_conversations.version_compat import BaseHook, mask_secret

__all__ = ["ConversationsHook", "FiltersArg", "RequestStats"]

FiltersArg = ConversationFilters | Mapping[str, Any] | None


class ConversationsHook(BaseHook):
    """Read conversations from ``GET /v2/conversations`` of the Conversations (Salesloft v2) API.

    The connection (of type ``conversations``; any other type is refused before any request) has the
    API base URL as its host (empty: ``https://api.salesloft.com``) and the API key or OAuth access
    token as its password. Requests go only to that host, through the connection's proxy and TLS
    settings; they are retried on 429, 5xx, timeouts and lost connections and paced on the rate-limit
    headers, so the team's budget is used but rarely exceeded.

    :param conversations_conn_id: the Airflow connection id.
    :param retry_policy: overrides the policy built from the connection's ``max_retries``/``backoff_base``.
    :param pacer: a shared :class:`RateLimitPacer` (e.g. one per worker process); built from the
        connection's budget settings when omitted.
    """

    conn_name_attr = "conversations_conn_id"
    default_conn_name = "conversations_default"
    conn_type = CONN_TYPE
    hook_name = "Conversations"

    def __init__(
        self,
        conversations_conn_id: str = default_conn_name,
        *,
        retry_policy: RetryPolicy | None = None,
        pacer: RateLimitPacer | None = None,
    ) -> None:
        super().__init__()
        self.conversations_conn_id = conversations_conn_id
        self._retry_policy = retry_policy
        self._pacer = pacer
        #: What this hook's requests did (see :class:`RequestStats`).
        self.stats = RequestStats()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(conversations_conn_id={self.conversations_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Return custom UI field behaviour (Airflow 3.0/3.1; 3.2+ reads ``get_provider_info``)."""
        return dict(UI_FIELD_BEHAVIOUR)

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the extra fields of the connection form (Airflow 3.0/3.1 only; needs wtforms)."""
        return form_widgets()

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The checked connection settings (the token is registered with the secrets masker)."""
        return settings_from_connection(self.get_connection(self.conversations_conn_id), mask=mask_secret)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy in force."""
        return self._retry_policy or RetryPolicy.from_settings(self.settings)

    @cached_property
    def pacer(self) -> RateLimitPacer:
        """The rate-limit pacer in force."""
        # Other tasks of the team (e.g. a mapped backfill) have requests in flight that the last answer's
        # remaining budget does not show yet: leave a margin of a few requests' worth in every window.
        return self._pacer or RateLimitPacer(
            window_seconds=self.settings.rate_limit_window_seconds,
            budget_per_minute=self.settings.budget_per_minute,
            budget_share=self.settings.budget_share,
            reserve=2 * self.settings.max_concurrency,
        )

    def get_conn(self) -> requests.Session:
        """Return the keep-alive :class:`requests.Session` carrying the bearer token."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        settings = self.settings
        session = requests.Session()
        session.headers.update(settings.headers)
        # One connection per concurrent window (the session is shared by the operator's threads).
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(10, settings.max_concurrency))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        # Proxy, CA bundle and client certificate as the connection and the environment set them, resolved
        # once (the trigger applies the same settings); requests no longer reads the environment or ~/.netrc.
        settings.network.configure(session)
        if settings.network.verify is False:
            self.log.warning(
                "TLS certificate verification is off for %s (the connection's extra verify)", settings.base_url
            )
        return session

    @staticmethod
    def _sleep(seconds: float, stop: threading.Event | None) -> None:
        if stop is None:
            time.sleep(seconds)
        else:
            stop.wait(seconds)

    def _get(
        self,
        params: list[tuple[str, str]] | tuple[tuple[str, str], ...],
        *,
        path: str = ENDPOINT_PATH,
        policy: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        **parse_args: Any,
    ) -> Page:
        """Send one request to an API path with pacing and retries; return the parsed page.

        :param path: the path below the base URL (default ``/v2/conversations``).
        :param stop: when set (another request of the same read failed), give up before the next attempt.
        :param parse_args: ``records`` and ``required`` of :func:`~.api.wire.parse_page`.
        """
        token = self.settings.token

        def parse(response: requests.Response) -> Page:
            return parse_page(response.status_code, response.headers, response.content, secret=token, **parse_args)

        return self._request(self.settings.url(path), params, parse, policy=policy, stop=stop)

    def _request(
        self,
        url: str,
        params: list[tuple[str, str]] | tuple[tuple[str, str], ...],
        parse: Callable[[requests.Response], Any],
        *,
        policy: RetryPolicy | None = None,
        stop: threading.Event | None = None,
    ) -> Any:
        """Send one GET, paced, under the retry policy's loop; return what ``parse`` makes of the answer."""
        policy = policy or self.retry_policy

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.stats.add("retries")
            error = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            self.log.warning(
                "Request failed (%s); retry %d/%d in %.1fs", error, state.attempt_number, policy.max_retries, delay
            )

        retrying = tenacity.Retrying(
            **policy.retry_args(abandon=stop.is_set if stop is not None else None),
            sleep=lambda seconds: self._sleep(seconds, stop),
            before_sleep=before_sleep,
        )
        return retrying(self._attempt, url, params, parse, stop)

    def _attempt(
        self,
        url: str,
        params: list[tuple[str, str]] | tuple[tuple[str, str], ...],
        parse: Callable[[requests.Response], Any],
        stop: threading.Event | None,
    ) -> Any:
        """One paced attempt: wait for the budget, send, observe the rate-limit headers, parse."""
        abandoned = ConversationsAPIError("request abandoned: another request of the same read failed")
        if stop is not None and stop.is_set():
            raise abandoned
        pause, ticket = self.pacer.acquire()
        if pause:
            self.log.info("Rate-limit budget spent for this minute; waiting %.1fs", pause)
            self._sleep(pause, stop)
            if stop is not None and stop.is_set():
                self.pacer.release(ticket)
                raise abandoned
        settings, session = self.settings, self.get_conn()
        self.stats.add("requests")
        try:
            response = session.get(url, params=params, timeout=settings.timeout, allow_redirects=False)
        except requests.Timeout:
            self.pacer.release(ticket)
            raise ConversationsAPIError(f"no answer from {url} within {settings.timeout}s") from None
        except requests.RequestException as err:
            self.pacer.release(ticket)
            raise ConversationsAPIError(f"could not reach {url}: {type(err).__name__}") from None
        self.pacer.observe(response.headers, ticket, status=response.status_code)
        try:
            result = parse(response)
        except ConversationsAPIError as err:
            if err.status == 429:
                self.stats.add("throttled")
            raise
        cost = getattr(result, "cost", None) if isinstance(result, Page) else None
        self.stats.add("cost", cost if cost is not None else 1)
        return result

    def fetch_json(self, url: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a URL the API handed back (such as a record's ``_href``), paced and retried; return its JSON.

        The token goes only to the connection's own host: a URL on any other host (or scheme or port)
        is refused before any request.

        :param url: an absolute URL on the connection's base URL, or an absolute path on it.
        :param params: query parameters.
        :raises ConversationsConnectionError: the URL is not on the connection's host.
        """
        own = self.settings.own_url(url)

        def parse(response: requests.Response) -> Any:
            if not 200 <= response.status_code < 300:
                raise error_for_status(
                    response.status_code, response.headers, response.content, secret=self.settings.token
                )
            try:
                return decode(response.content)
            except ValueError:
                raise ConversationsResponseError(
                    f"the API answered {response.status_code} with a body that is not JSON",
                    status=response.status_code,
                ) from None

        return self._request(own, tuple((params or {}).items()), parse)

    def fetch_page(
        self,
        filters: FiltersArg = None,
        *,
        sort_by: str = "created_at",
        sort_direction: str = "DESC",
        per_page: int = 25,
        page: int = 1,
        include_paging_counts: bool = False,
        retry_policy: RetryPolicy | None = None,
    ) -> Page:
        """Fetch one page of conversations: records as returned, plus paging metadata.

        :param filters: a :class:`ConversationFilters` or a dict of its field names.
        :param sort_by: ``created_at``, ``updated_at`` or ``duration``.
        :param sort_direction: ``ASC`` or ``DESC``.
        :param per_page: 1..100.
        :param page: 1-based page number (pages past 100 cost more: prefer :meth:`read_pages`).
        :param include_paging_counts: ask for ``total_count`` and ``total_pages``.
        :param retry_policy: overrides the hook's retry policy for this call.
        """
        params = ConversationFilters.from_mapping(filters).to_params() + paging_params(
            sort_by=sort_by,
            sort_direction=sort_direction,
            per_page=per_page,
            page=page,
            include_paging_counts=include_paging_counts,
        )
        return self._get(params, policy=retry_policy)

    def read_pages(
        self,
        filters: FiltersArg = None,
        *,
        created_at_gte: datetime | str | None = None,
        created_at_lt: datetime | str | None = None,
        updated_at_gte: datetime | str | None = None,
        updated_at_lt: datetime | str | None = None,
        per_page: int = 100,
        max_concurrency: int | None = None,
    ) -> Iterator[RangePage]:
        """Read every conversation created (or updated) in a range, page by page, in order.

        Give one pair of bounds: ``created_at_gte``/``created_at_lt`` (the export's read) or
        ``updated_at_gte``/``updated_at_lt`` (change capture); the read is sorted by that key.
        Each :class:`~airflow_provider_conversations.reading.walk.RangePage` holds the API's answer and the
        records it adds: each record exactly once, in key order, exactly as the API returned it
        (``.records``; ``.timed`` pairs each with its parsed key). Every request costs 1 point, and up
        to ``max_concurrency`` requests are in flight at once (see
        :mod:`~airflow_provider_conversations.reading.walk` for how numbered pages are checked, so that records
        leaving the range meanwhile make no survivor skipped). Arguments are checked before any request.

        :param filters: further filters (no bounds on the range's key), as for :meth:`count_conversations`.
        :param created_at_gte: inclusive lower bound (aware datetime or ISO-8601 string).
        :param created_at_lt: exclusive upper bound.
        :param updated_at_gte: inclusive lower bound of an ``updated_at`` read (instead of ``created_at``).
        :param updated_at_lt: exclusive upper bound of an ``updated_at`` read.
        :param per_page: records per request, 1..100.
        :param max_concurrency: requests in flight at once; default the connection's ``max_concurrency``.
        """
        filters = ConversationFilters.from_mapping(filters)
        yield from self._read_range(
            CONVERSATIONS,
            filters,
            (created_at_gte, created_at_lt),
            (updated_at_gte, updated_at_lt),
            per_page,
            max_concurrency,
        )

    def read_transcriptions(
        self,
        filters: TranscriptionFilters | Mapping[str, Any] | None = None,
        *,
        created_at_gte: datetime | str | None = None,
        created_at_lt: datetime | str | None = None,
        updated_at_gte: datetime | str | None = None,
        updated_at_lt: datetime | str | None = None,
        per_page: int = 100,
        max_concurrency: int | None = None,
    ) -> Iterator[RangePage]:
        """Read every transcription created (or updated) in a range from ``GET /v2/transcriptions``, in order.

        The same read as :meth:`read_pages` (each record once, in key order, every page checked, one
        point per 100 records), on the transcriptions list.

        :param filters: a :class:`~.api.transcriptions.TranscriptionFilters` or a dict of its field
            names (``ids``, ``language_code``; no bounds on the range's key).
        :param created_at_gte: as for :meth:`read_pages`, and so are ``created_at_lt``, ``updated_at_gte``,
            ``updated_at_lt``, ``per_page`` and ``max_concurrency``.
        """
        bounds = ((created_at_gte, created_at_lt), (updated_at_gte, updated_at_lt))
        flt = TranscriptionFilters.from_mapping(filters)
        yield from self._read_range(TRANSCRIPTIONS, flt, *bounds, per_page, max_concurrency)

    def read_sentences(self, transcription_id: str, *, conversation_id: str | None = None) -> SentenceRead:
        """Read every sentence of one transcription, in the API's order, each page checked against the counts.

        Each row is the sentence as returned plus ``transcription_id``, ``conversation_id`` and
        ``sentence_index`` (see :mod:`~airflow_provider_conversations.reading.sentences`). One point per
        100 sentences (as ``x-ratelimit-endpoint-cost`` says); a transcription without sentences costs one request.

        :param transcription_id: the transcription's id.
        :param conversation_id: the ``conversation_id`` of every row; default each sentence's ``conversation.id``.
        :raises ConversationsNotFoundError: the API has no such transcription (404).
        """

        def get(path: str, params: list[tuple[str, str]]) -> Page:
            return self._get(params, path=path, records="sentences", required=("id",))

        return read_sentences(get, transcription_id, conversation_id=conversation_id)

    def _read_range(
        self,
        endpoint: ListEndpoint,
        filters: RangeFilters,
        created_at: tuple[datetime | str | None, datetime | str | None],
        updated_at: tuple[datetime | str | None, datetime | str | None],
        per_page: int,
        max_concurrency: int | None,
    ) -> Iterator[RangePage]:
        key, start, end = range_bounds(created_at, updated_at)
        walk = RangeWalk(start, end, filters, per_page, key=key, endpoint=endpoint)
        concurrency = max(1, max_concurrency or self.settings.max_concurrency)

        def fetch(request: PageRequest, stop: threading.Event | None) -> Page:
            return self._get(request.params, path=request.path, stop=stop, records=f"{endpoint.record}s")

        yield from read_walk(walk, fetch, concurrency=concurrency, log=self.log)
        self._log_walk(walk)

    def _log_walk(self, walk: RangeWalk) -> None:
        if walk.rejected or walk.mode == "keyset":
            self.log.info(
                "Range read on %s: %d chunk(s), %d page(s) thrown away by the checks (records changed while "
                "paging), finished in %s mode%s",
                walk.key,
                walk.chunks_started,
                walk.rejected,
                walk.mode,
                f" ({walk.fallback_reason})" if walk.fallback_reason else "",
            )

    def count_conversations(
        self,
        filters: FiltersArg = None,
        *,
        created_at_gte: datetime | str | None = None,
        created_at_lt: datetime | str | None = None,
    ) -> int:
        """Count matching conversations with one cheap request (``include_paging_counts``).

        :param filters: filters; ``created_at_gte``/``created_at_lt`` are added to them when given.
        :param created_at_gte: inclusive lower bound.
        :param created_at_lt: exclusive upper bound.
        """
        flt = ConversationFilters.from_mapping(filters)
        if created_at_gte is not None and created_at_lt is not None:
            validate_range(created_at_gte, created_at_lt)
        if created_at_gte is not None or created_at_lt is not None:
            flt = flt.merged(created_at_gte=created_at_gte, created_at_lt=created_at_lt)
        return total_count(self._get(count_params(flt)))

    def test_connection(self) -> tuple[bool, str]:
        """Check the URL and token with one cheap request (the UI's Test button)."""
        try:
            # One quick retry at most: the UI's Test button must answer fast.
            page = self.fetch_page(per_page=1, retry_policy=RetryPolicy(max_retries=1, backoff_base=0.5))
        except Exception as err:
            return False, str(err)
        budget = f"; rate-limit budget left this minute: {page.remaining}" if page.remaining is not None else ""
        return True, f"Connection successfully tested: {self.settings.endpoint} answered{budget}"
