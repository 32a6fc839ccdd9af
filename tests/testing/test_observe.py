"""Observers of the fake API: one event per budget charge and per connection opened or closed."""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from airflow_provider_conversations.testing import ChargeEvent, ConnectionEvent, FakeConversationsAPI

AUTH = {"Authorization": "Bearer test-token"}
Factory = Callable[..., FakeConversationsAPI]


class Recorder:
    """Keeps every event (observers are called on the server's threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[ChargeEvent | ConnectionEvent] = []

    def __call__(self, event: ChargeEvent | ConnectionEvent) -> None:
        with self.lock:
            self.events.append(event)

    def of(self, kind: type) -> list:
        with self.lock:
            return [e for e in self.events if isinstance(e, kind)]


def test_each_charge_is_observed_with_its_cost_and_outcome(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(10, rate_limit_per_minute=3, minute_seconds=3600)
    recorder = Recorder()
    api.add_observer(recorder)
    with requests.Session() as session:
        statuses = [session.get(f"{api.url}/v2/conversations", headers=AUTH, timeout=5).status_code for _ in range(4)]
        session.get(f"{api.url}/v2/people", headers=AUTH, timeout=5)  # a 404 is not charged
        session.get(f"{api.url}/v2/conversations", timeout=5)  # nor is a 401
    assert statuses == [200, 200, 200, 429]
    charges = recorder.of(ChargeEvent)
    assert [(c.cost, c.allowed, c.remaining) for c in charges] == [
        (1, True, 2),
        (1, True, 1),
        (1, True, 0),
        (1, False, 0),
    ]
    assert [c.time for c in charges] == [entry.time for entry in api.request_log[:4]]
    assert sum(c.cost for c in charges if c.allowed) == api.stats.total_cost == 3


def test_connections_are_observed_and_counted(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(10)
    recorder = Recorder()
    api.add_observer(recorder)
    sessions = [requests.Session() for _ in range(3)]
    for session in sessions:
        assert session.get(f"{api.url}/v2/conversations", headers=AUTH, timeout=5).status_code == 200
    assert api.open_connections == 3
    opened = recorder.of(ConnectionEvent)
    assert [(e.opened, e.open_connections) for e in opened] == [(True, 1), (True, 2), (True, 3)]
    for session in sessions:
        session.close()
    api.stop()  # joins the handler threads: every close has been observed
    assert [e.opened for e in recorder.of(ConnectionEvent)].count(False) == 3
    assert api.open_connections == 0


def test_a_removed_observer_hears_nothing_more(conversations_api_factory: Factory) -> None:
    api = conversations_api_factory(10)
    recorder = Recorder()
    api.add_observer(recorder)
    api.remove_observer(recorder)
    assert requests.get(f"{api.url}/v2/conversations", headers=AUTH, timeout=5).status_code == 200
    assert recorder.events == []
