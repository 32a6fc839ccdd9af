"""Pytest fixtures for :class:`~airflow_provider_conversations.testing.FakeConversationsAPI`.

Enable them in a ``conftest.py``::

    pytest_plugins = ["airflow_provider_conversations.testing.pytest_plugin"]

``conversations_api`` is a started fake with 500 records (seed 0, token ``test-token``);
``conversations_api_factory(**kwargs)`` starts a fake with any constructor arguments. Every fake is
stopped at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import FakeConversationsAPI

__all__ = ["conversations_api", "conversations_api_factory"]


@pytest.fixture
def conversations_api_factory() -> Iterator[Callable[..., FakeConversationsAPI]]:
    """A function taking :class:`FakeConversationsAPI` constructor arguments and returning a started fake."""
    made: list[FakeConversationsAPI] = []

    def factory(*args: Any, **kwargs: Any) -> FakeConversationsAPI:
        api = FakeConversationsAPI(*args, **kwargs)
        made.append(api)
        return api.start()

    yield factory
    for api in reversed(made):
        api.stop()


@pytest.fixture
def conversations_api(
    conversations_api_factory: Callable[..., FakeConversationsAPI],
) -> FakeConversationsAPI:
    """A started fake with 500 records (seed 0), accepting ``Authorization: Bearer test-token``."""
    return conversations_api_factory(500, seed=0)
