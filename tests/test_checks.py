"""checks: integer arguments, one way for filters, paging values and task arguments."""

from __future__ import annotations

import pytest

from airflow_provider_conversations.checks import check_int, check_positive
from airflow_provider_conversations.exceptions import ConversationsArgumentError, ConversationsFilterError


@pytest.mark.parametrize(
    ("kwargs", "value", "expected"),
    [({"minimum": 1, "maximum": 100}, 100, 100), ({"minimum": 0}, 0, 0), ({"minimum": 0, "strings": True}, " 42 ", 42)],
)
def test_integers_in_range_pass(kwargs, value, expected):
    assert check_int(value, "n", **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (0, {"minimum": 1, "maximum": 100}, "per_page: 0 is out of range; allowed: [1, 100]"),
        (101, {"minimum": 1, "maximum": 100}, "per_page: 101 is out of range; allowed: [1, 100]"),
        (-1, {"minimum": 0}, "per_page: -1 is out of range; allowed: >= 0"),
        ("5", {"minimum": 1}, "per_page: expected an integer >= 1, got '5'"),  # strings only when asked
        ("x", {"minimum": 1, "strings": True}, "per_page: expected an integer >= 1, got 'x'"),
        (True, {"minimum": 0}, "per_page: expected an integer >= 0, got True"),
        (2.0, {"minimum": 0}, "per_page: expected an integer >= 0, got 2.0"),
    ],
)
def test_other_values_are_refused_naming_the_field_and_the_range(value, kwargs, message):
    with pytest.raises(ConversationsFilterError) as exc:
        check_int(value, "per_page", **kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize("value", [0, -3, True, "2", 1.0, None])
def test_positive_counts_have_one_message(value):
    with pytest.raises(ConversationsArgumentError) as exc:
        check_positive(value, "min_count")
    assert str(exc.value) == f"min_count: expected an integer >= 1, got {value!r}"
    assert isinstance(exc.value, ValueError)


def test_positive_counts_pass_through():
    assert check_positive(1, "min_count") == 1 and check_positive(10**6, "max_records_per_file") == 10**6
