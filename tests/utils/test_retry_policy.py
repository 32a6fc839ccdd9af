"""retry_policy: what fails a task at once, what is retried (and after how long), what is left to the task."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsAuthError,
    ConversationsConnectionError,
    ConversationsDestinationError,
    ConversationsFilterError,
    ConversationsResponseError,
    ConversationsWindowBusyError,
)
from airflow_provider_conversations.utils.retry_policy import CONVERSATIONS_RETRY_POLICY, decide
from airflow_provider_conversations.version_compat import get_base_airflow_version_tuple

HAS_POLICIES = get_base_airflow_version_tuple() >= (3, 3, 0)


@pytest.mark.parametrize(
    ("error", "action", "delay"),
    [
        (ConversationsConnectionError("connection 'x' is of type 'aws'"), "fail", None),
        (ConversationsFilterError("platform: 'skype' is not allowed"), "fail", None),
        (ConversationsAuthError("401", status=401), "fail", None),
        (ConversationsAPIError("403", status=403), "fail", None),
        (ConversationsAPIError("404", status=404), "fail", None),
        (ConversationsAPIError("422", status=422), "fail", None),
        (ConversationsAPIError("302", status=302), "fail", None),
        (ConversationsAPIError("429", status=429, retry_after=42.0), "retry", timedelta(seconds=42)),
        (ConversationsAPIError("503", status=503), "retry", None),
        (ConversationsAPIError("no answer"), "retry", None),
        (ConversationsResponseError("html", status=200), "retry", None),
        (ConversationsWindowBusyError("busy", window="w", owner="o"), "retry", None),
        (ConversationsDestinationError("no bucket"), "default", None),
        (KeyError("x"), "default", None),
    ],
)
def test_decide_classifies_the_providers_errors(error, action, delay):
    got_action, got_delay, reason = decide(error)
    assert (got_action, got_delay) == (action, delay)
    assert (reason is None) == (action == "default")


def test_no_policy_before_airflow_3_3():
    assert (CONVERSATIONS_RETRY_POLICY is None) is not HAS_POLICIES


def test_the_policy_gives_airflow_its_decisions_and_an_operator_takes_it():
    if not HAS_POLICIES:  # retry policies arrived in Airflow 3.3: nothing to hand Airflow before
        assert CONVERSATIONS_RETRY_POLICY is None
        return
    from airflow.sdk import BaseOperator, RetryAction, RetryPolicy

    assert isinstance(CONVERSATIONS_RETRY_POLICY, RetryPolicy)
    fail = CONVERSATIONS_RETRY_POLICY.evaluate(ConversationsAPIError("404", status=404), 1, 3)
    assert fail.action is RetryAction.FAIL and "404" in (fail.reason or "")
    retry = CONVERSATIONS_RETRY_POLICY.evaluate(ConversationsAPIError("429", status=429, retry_after=5), 1, 3)
    assert retry.action is RetryAction.RETRY and retry.retry_delay == timedelta(seconds=5)
    assert CONVERSATIONS_RETRY_POLICY.evaluate(KeyError("x"), 1, 3).action is RetryAction.DEFAULT
    rebuilt = type(CONVERSATIONS_RETRY_POLICY).deserialize(CONVERSATIONS_RETRY_POLICY.serialize())
    assert type(rebuilt) is type(CONVERSATIONS_RETRY_POLICY)
    task = BaseOperator(task_id="t", retries=3, retry_policy=CONVERSATIONS_RETRY_POLICY)
    assert task.has_retry_policy
