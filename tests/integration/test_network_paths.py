"""The sync hook and the async trigger take the same way to the API: the same proxy, the same bypass.

Real HTTP: the fake API on loopback, and a recording proxy in front of it (``tests/recording_proxy.py``).
"""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_conversations.exceptions import ConversationsAPIError
from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.testing import generate_conversations
from airflow_provider_conversations.triggers.conversations import ConversationsTrigger
from tests.conftest import TOKEN
from tests.recording_proxy import RecordingProxy, refused_url

UTC = timezone.utc
DAY, NEXT = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)
RANGE = {"created_at_gte": "2025-01-02T00:00:00.000000Z", "created_at_lt": "2025-01-03T00:00:00.000000Z"}


@pytest.fixture
def api(conversations_api_factory, monkeypatch):
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    return conversations_api_factory(records=generate_conversations(7, seed=3, start=DAY, end=NEXT), token=TOKEN)


@pytest.fixture
def proxy():
    with RecordingProxy() as running:
        yield running


def trigger_event() -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async for event in ConversationsTrigger("conversations_default", RANGE, min_count=1, poke_interval=0.05).run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def both_transports() -> tuple[int, dict[str, Any]]:
    """The hook's count (a fresh hook: settings are read once per hook) and the trigger's first event."""
    return ConversationsHook().count_conversations(**RANGE), trigger_event()


def test_both_transports_go_through_the_environments_proxy(api, proxy, set_conn, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    set_conn(api.url, backoff_base=0.01)
    count, event = both_transports()
    assert count == 7 and event == {"status": "success", "count": 7}
    assert [(method, target.split("?")[0]) for method, target, _auth in proxy.seen] == [
        ("GET", f"{api.url}/v2/conversations")
    ] * 2
    assert api.stats.requests == 2


def test_the_connections_proxy_wins_and_both_transports_send_its_credentials(api, proxy, set_conn, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", refused_url())  # not used: the connection names its own proxy
    host = proxy.url.removeprefix("http://")
    set_conn(api.url, backoff_base=0.01, proxy=f"http://agent:px%40ss@{host}")
    count, event = both_transports()
    assert count == 7 and event["status"] == "success"
    expected = "Basic " + base64.b64encode(b"agent:px@ss").decode()
    assert [auth for _method, _target, auth in proxy.seen] == [expected, expected]


def test_no_proxy_sends_both_transports_straight_to_the_api(api, proxy, set_conn, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    set_conn(api.url, backoff_base=0.01)
    count, event = both_transports()
    assert count == 7 and event["status"] == "success"
    assert proxy.seen == [] and api.stats.requests == 2


def test_under_a_refusing_proxy_neither_transport_reaches_the_api(api, set_conn, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", refused_url())
    set_conn(api.url, backoff_base=0.01, max_retries=1)
    with pytest.raises(ConversationsAPIError, match="could not reach"):
        ConversationsHook().count_conversations(**RANGE)
    event = trigger_event()
    assert event["status"] == "error" and "could not reach" in event["message"] and event["error"] == "api"
    assert api.stats.requests == 0


@pytest.mark.parametrize("credentials", ["", "agent:pw@"])
def test_https_goes_through_a_connect_tunnel_that_never_carries_the_token(
    api, proxy, set_conn, monkeypatch, credentials
):
    monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", f"http://{credentials}"))
    set_conn(f"https://127.0.0.1:{api.port}", max_retries=0)
    with pytest.raises(ConversationsAPIError, match="could not reach"):  # the fake speaks no TLS
        ConversationsHook().count_conversations(**RANGE)
    event = trigger_event()
    assert event["status"] == "error" and "could not reach" in event["message"]
    # One try by the hook, then one per poll until the trigger gives up after its consecutive failures.
    assert [(method, target) for method, target, _auth in proxy.seen] == [("CONNECT", f"127.0.0.1:{api.port}")] * 4
    # The proxy sees its own credentials, if any, and never the API token (aiohttp would copy a session's
    # Authorization header into the CONNECT's Proxy-Authorization).
    expected = "Basic " + base64.b64encode(b"agent:pw").decode() if credentials else None
    assert {auth for _method, _target, auth in proxy.seen} == {expected}
