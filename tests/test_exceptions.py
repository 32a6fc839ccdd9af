"""exceptions: bad arguments (ValueError) apart from I/O outcomes (AirflowException); attributes, not text."""

from __future__ import annotations

import pytest

from airflow_provider_conversations.exceptions import (
    ConversationsAPIError,
    ConversationsArgumentError,
    ConversationsConnectionError,
    ConversationsDestinationError,
    ConversationsFilterError,
    ConversationsResponseError,
)
from airflow_provider_conversations.version_compat import AirflowException


@pytest.mark.parametrize("error", [ConversationsFilterError, ConversationsConnectionError])
def test_bad_arguments_share_one_base_that_is_a_value_error(error):
    assert issubclass(error, ConversationsArgumentError) and issubclass(error, ValueError)
    assert not issubclass(error, AirflowException)


@pytest.mark.parametrize("error", [ConversationsAPIError, ConversationsResponseError, ConversationsDestinationError])
def test_io_outcomes_are_airflow_exceptions_not_argument_errors(error):
    assert issubclass(error, AirflowException) and not issubclass(error, ValueError)


def test_api_error_carries_its_attributes_and_names_them_in_its_message():
    err = ConversationsAPIError(
        "the API failed (503)", status=503, api_message="down", request_id="r-1", retry_after=2.0, server_time=10.0
    )
    assert (err.status, err.api_message, err.request_id, err.retry_after, err.server_time) == (
        503,
        "down",
        "r-1",
        2.0,
        10.0,
    )
    assert str(err) == "the API failed (503); status=503; api_message='down'; request_id=r-1"


def test_api_error_without_a_response_says_only_what_happened():
    err = ConversationsAPIError("no answer within 30s")
    assert err.status is None and str(err) == "no answer within 30s"
