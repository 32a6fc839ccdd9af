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
from airflow_provider_conversations.version_compat import AirflowException, AirflowFailException


@pytest.mark.parametrize("error", [ConversationsFilterError, ConversationsConnectionError])
def test_bad_arguments_share_one_base_that_is_a_value_error_and_fails_without_retries(error):
    assert issubclass(error, ConversationsArgumentError) and issubclass(error, ValueError)
    assert issubclass(error, AirflowFailException)
    assert not issubclass(error, ConversationsAPIError)


def test_an_argument_error_is_caught_as_a_value_error_and_as_airflows_fail_exception():
    for catch in (ValueError, AirflowFailException, AirflowException):
        with pytest.raises(catch, match="platform: 'skype'"):
            raise ConversationsFilterError("platform: 'skype' is not allowed")


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


def test_the_hooks_exception_table_lists_every_exception_with_its_bases_and_whether_it_fails_once():
    import inspect
    import re
    from pathlib import Path

    from airflow_provider_conversations import exceptions

    text = (Path(__file__).resolve().parents[1] / "docs" / "hook.rst").read_text()
    table = text[text.index("Fails once") : text.index("CONVERSATIONS_RETRY_POLICY")]
    rows = re.findall(r"\* - ``(\w+)``\n\s+- (.+)\n\s+- (yes|no)\n", table)
    classes = {
        name: cls
        for name, cls in inspect.getmembers(exceptions, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == exceptions.__name__
    }
    assert sorted(name for name, _bases, _once in rows) == sorted(classes)
    for name, bases, once in rows:
        cls = classes[name]
        listed = re.findall(r"``(\w+)``|:class:`(\w+)`", bases)
        assert [a or b for a, b in listed] == [base.__name__ for base in cls.__bases__], name
        assert issubclass(cls, AirflowFailException) is (once == "yes"), name
