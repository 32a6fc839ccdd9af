"""Deferrable wait for conversations: poll the count asynchronously (aiohttp) until enough match."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import tenacity
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_conversations.api.connection import ConnectionSettings, settings_from_connection
from airflow_provider_conversations.api.filters import ConversationFilters, count_params
from airflow_provider_conversations.api.retry import RetryPolicy
from airflow_provider_conversations.api.wire import parse_page, total_count
from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsArgumentError,
    ConversationsAuthError,
    ConversationsConnectionError,
)
from airflow_provider_conversations.version_compat import get_async_connection, get_async_extra_dejson

#: Every status a :class:`ConversationsTrigger` event may carry; the sensor validates against it.
EVENT_STATUSES = ("success", "timeout", "error")

#: ``error`` of an ``error`` event: what failed, so the sensor fails the task without retries where
#: retrying cannot help (``connection``, ``argument``, ``auth``).
ERROR_KINDS = ("connection", "argument", "auth", "api", "other")


async def _connection_settings(conn_id: str) -> ConnectionSettings:
    """Read the connection without blocking the event loop (and without masking: not allowed here).

    Airflow 3 refuses a synchronous connection look-up inside a trigger; the async getter picks what
    the installed version allows (its own async look-up, or the synchronous one in a worker thread).
    """
    conn = await get_async_connection(conn_id)
    return settings_from_connection(conn, extra=await get_async_extra_dejson(conn))


async def _count_once(
    session: aiohttp.ClientSession, settings: ConnectionSettings, params: list[tuple[str, str]]
) -> int:
    """One counting request, through the connection's proxy and TLS settings; redirects are not followed."""
    try:
        async with session.get(
            settings.endpoint,
            params=params,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=settings.timeout),
            **settings.network.aiohttp_kwargs(settings.endpoint, settings.headers),
        ) as response:
            page = parse_page(response.status, response.headers, await response.read(), secret=settings.token)
    except (asyncio.TimeoutError, aiohttp.ClientError) as err:
        raise ConversationsAPIError(f"could not reach {settings.endpoint}: {type(err).__name__}") from None
    return total_count(page)


async def fetch_count(
    session: aiohttp.ClientSession, settings: ConnectionSettings, policy: RetryPolicy, filters: ConversationFilters
) -> int:
    """Count matching conversations with one request, retried under ``policy`` in the sync hook's loop.

    :param session: a session without the environment's settings (``trust_env=False``).
    :param settings: the checked connection settings.
    :param policy: the retry policy.
    :param filters: the filters, range included.
    """
    retrying = tenacity.AsyncRetrying(**policy.retry_args(), sleep=asyncio.sleep)
    return await retrying(_count_once, session, settings, count_params(filters))


def _error_kind(err: BaseException) -> str:
    if isinstance(err, ConversationsConnectionError):
        return "connection"
    if isinstance(err, ConversationsArgumentError):
        return "argument"
    if isinstance(err, ConversationsAPIError):
        return "auth" if isinstance(err, ConversationsAuthError) or err.status in (401, 403) else "api"
    return "other"


class ConversationsTrigger(BaseTrigger):
    """Poll until at least ``min_count`` conversations match ``filters``, or the deadline passes.

    Yields one event: ``{"status": "success", "count": n}``, ``{"status": "timeout", "count": n}`` or
    ``{"status": "error", "message": ..., "status_code": ..., "error": kind}`` (``kind`` one of
    :data:`ERROR_KINDS`). Repeating it is harmless. Requests go through the connection's proxy and
    TLS settings (the environment's proxy when the connection sets none), as the sync hook's do.

    :param conversations_conn_id: the ``conversations`` connection.
    :param filters: :class:`ConversationFilters` as JSON-safe values (``ConversationFilters.as_dict()``).
    :param min_count: how many matches are enough.
    :param poke_interval: seconds between polls.
    :param deadline: epoch seconds after which a ``timeout`` event ends the wait (``None``: no deadline).
    :param max_consecutive_failures: polls that may fail in a row (each after its own retries) before
        an ``error`` event.
    """

    def __init__(
        self,
        conversations_conn_id: str,
        filters: dict[str, Any],
        min_count: int = 1,
        poke_interval: float = 60.0,
        deadline: float | None = None,
        max_consecutive_failures: int = 3,
    ) -> None:
        super().__init__()
        self.conversations_conn_id = conversations_conn_id
        self.filters = filters
        self.min_count = min_count
        self.poke_interval = poke_interval
        self.deadline = deadline
        self.max_consecutive_failures = max_consecutive_failures

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and JSON-safe kwargs (no token: the trigger reads the connection itself)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conversations_conn_id": self.conversations_conn_id,
                "filters": self.filters,
                "min_count": self.min_count,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
                "max_consecutive_failures": self.max_consecutive_failures,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the count until done; yield exactly one event."""
        try:
            filters = ConversationFilters.from_mapping(self.filters)
            settings = await _connection_settings(self.conversations_conn_id)
        except Exception as err:
            # Bad filters, a missing or broken connection, a secrets backend down: end with an error event the
            # sensor turns into a clear task failure, instead of crashing the trigger.
            message = f"{type(err).__name__}: {err}" if not isinstance(err, ValueError) else str(err)
            yield TriggerEvent({"status": "error", "message": message, "status_code": None, "error": _error_kind(err)})
            return
        policy = RetryPolicy.from_settings(settings)
        if settings.network.verify is False:
            self.log.warning(
                "TLS certificate verification is off for %s (the connection's extra verify)", settings.base_url
            )
        failures, count = 0, 0
        # trust_env=False: the proxy comes from the settings (which read the environment once), never ~/.netrc.
        # The headers go with each request (see NetworkSettings.aiohttp_kwargs), not with the session.
        async with aiohttp.ClientSession(trust_env=False) as session:
            while True:
                try:
                    count = await fetch_count(session, settings, policy, filters)
                    failures = 0
                except ConversationsAPIError as err:
                    failures += 1
                    if not policy.is_retryable(err) or failures >= self.max_consecutive_failures:
                        yield TriggerEvent(
                            {
                                "status": "error",
                                "message": str(err),
                                "status_code": err.status,
                                "error": _error_kind(err),
                            }
                        )
                        return
                    self.log.warning("Counting conversations failed (%s); polling again", err)
                else:
                    self.log.info("%d conversation(s) match; waiting for %d", count, self.min_count)
                    if count >= self.min_count:
                        yield TriggerEvent({"status": "success", "count": count})
                        return
                if self.deadline is not None and time.time() >= self.deadline:
                    yield TriggerEvent({"status": "timeout", "count": count})
                    return
                sleep = self.poke_interval
                if self.deadline is not None:
                    sleep = max(0.0, min(sleep, self.deadline - time.time()))
                await asyncio.sleep(sleep)
