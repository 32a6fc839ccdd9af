from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from airflow_provider_conversations.api.connection import ConnectionSettings
from airflow_provider_conversations.api.retry import RetryPolicy
from airflow_provider_conversations.exceptions import ConversationsAPIError, ConversationsResponseError


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (None, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (422, False),
        (302, False),
    ],
)
def test_only_transient_errors_are_retried(status, retryable):
    policy = RetryPolicy(max_retries=3)
    assert policy.is_retryable(ConversationsAPIError("x", status=status)) is retryable
    assert (policy.wait_seconds(1, ConversationsAPIError("x", status=status)) is not None) is retryable


def test_unreadable_2xx_body_is_retried_and_other_exceptions_are_not():
    policy = RetryPolicy()
    assert policy.is_retryable(ConversationsResponseError("html", status=200))
    assert not policy.is_retryable(KeyError("x"))


def test_backoff_doubles_is_capped_and_jittered_and_gives_up_after_max():
    policy = RetryPolicy(max_retries=4, backoff_base=1.0, backoff_max=3.0, jitter=0.5, rng=random.Random(1))
    err = ConversationsAPIError("x", status=503)
    waits = [policy.wait_seconds(n, err) for n in (1, 2, 3, 4, 5)]
    assert waits[-1] is None
    for wait, base in zip(waits[:4], (1.0, 2.0, 3.0, 3.0)):
        assert wait is not None and base <= wait <= base * 1.5


def test_retry_after_wins_over_backoff():
    policy = RetryPolicy(backoff_base=100.0, jitter=0.0)
    assert policy.wait_seconds(1, ConversationsAPIError("x", status=429, retry_after=2.5)) == 2.5


def test_429_without_retry_after_waits_for_the_next_window():
    clock = datetime(2026, 11, 26, 10, 0, 45, tzinfo=timezone.utc).timestamp()
    err = ConversationsAPIError("x", status=429, server_time=clock)
    assert RetryPolicy(jitter=0.0).wait_seconds(1, err) == 15.0  # located by the server's Date header
    assert RetryPolicy(jitter=0.0, rate_limit_window=0.5).wait_seconds(1, err) == 0.5  # too short for Date


def test_from_settings_takes_the_connections_retries_backoff_and_window():
    settings = ConnectionSettings(
        "https://api.example.com", "t", max_retries=7, backoff_base=0.2, rate_limit_window_seconds=5
    )
    policy = RetryPolicy.from_settings(settings)
    assert (policy.max_retries, policy.backoff_base, policy.rate_limit_window) == (7, 0.2, 5.0)
    assert (policy.backoff_max, policy.jitter) == (RetryPolicy.backoff_max, RetryPolicy.jitter)  # the rest: defaults
