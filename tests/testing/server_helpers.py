"""Shared by the fake API's real-HTTP tests: its token and plain ``requests`` calls to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from airflow_provider_conversations.testing import FakeConversationsAPI

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
Factory = Callable[..., FakeConversationsAPI]
Record = dict[str, Any]


def get(api: FakeConversationsAPI, params: Any = None, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    kwargs.setdefault("timeout", 5)
    return requests.get(f"{api.url}/v2/conversations", params=params, **kwargs)


def fetch_all(api: FakeConversationsAPI, params: dict[str, Any]) -> list[Record]:
    out: list[Record] = []
    page = 1
    while page is not None:
        r = get(api, {**params, "per_page": 100, "page": page})
        assert r.status_code == 200, r.text
        out.extend(r.json()["data"])
        page = r.json()["metadata"]["paging"]["next_page"]
    return out
