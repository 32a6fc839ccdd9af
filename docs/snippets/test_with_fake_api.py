"""Test code that uses ConversationsHook against the fake API, over real HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from airflow_provider_conversations.hooks.conversations import ConversationsHook

UTC = timezone.utc


def use_fake(monkeypatch, api, **extra) -> None:
    """Point the conversations_default connection at a fake API (plain http to loopback is allowed)."""
    conn = {"conn_type": "conversations", "host": api.url, "password": api.token, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_CONVERSATIONS_DEFAULT", json.dumps(conn))


def test_reads_every_conversation_of_a_day_once(conversations_api, monkeypatch):
    use_fake(monkeypatch, conversations_api)
    day, next_day = datetime(2025, 1, 2, tzinfo=UTC), datetime(2025, 1, 3, tzinfo=UTC)

    pages = ConversationsHook().read_pages(created_at_gte=day, created_at_lt=next_day)
    ids = [c["id"] for page in pages for c in page.records]

    assert len(ids) == len(set(ids))
    assert set(ids) == conversations_api.ids_in_range(day, next_day)


def test_survives_server_errors_and_a_tight_budget(conversations_api_factory, monkeypatch):
    # 1-second rate-limit windows of 20 points, no Retry-After (like the real API), 10 % of 5xx.
    api = conversations_api_factory(
        2000, seed=1, minute_seconds=1.0, rate_limit_per_minute=20, retry_after=False
    )
    api.faults.error_rate = 0.1
    use_fake(monkeypatch, api, rate_limit_window_seconds=1, budget_per_minute=20, backoff_base=0.01)
    hook = ConversationsHook()

    pages = hook.read_pages(created_at_gte="2025-01-01T00:00:00Z", created_at_lt="2025-01-08T00:00:00Z")
    count = sum(len(page.records) for page in pages)

    assert count == 2000
    assert hook.stats.retries >= api.stats.faults["error"] > 0
