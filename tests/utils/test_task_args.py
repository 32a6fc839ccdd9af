"""task_args: what the operator and the sensor share: templates left for later, filters, the range."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.utils.task_args import check_filters, is_template, resolve_range

UTC = timezone.utc
D1, D2 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ ds }}", True),
        ("{% if x %}a{% endif %}", True),
        ({"platform": "{{ params.p }}"}, True),
        (["2025-01-01T00:00:00Z", "{{ ds }}"], True),
        ("2025-01-01T00:00:00Z", False),
        ({"platform": "zoom"}, False),
        (None, False),
    ],
)
def test_templates_are_recognised_wherever_they_hide(value, expected):
    assert is_template(value) is expected


def test_filters_are_checked_and_may_not_hold_the_range():
    assert check_filters({"platform": "zoom"}).platform == "zoom"
    with pytest.raises(ConversationsFilterError) as exc:
        check_filters({"created_at_gte": "2025-01-01T00:00:00Z", "created_at_lt": "2025-01-02T00:00:00Z"})
    assert str(exc.value) == (
        "filters: created_at_lt, created_at_gte cannot be a filter here; pass created_at_gte/created_at_lt instead"
    )


def test_range_defaults_to_the_data_interval_and_explicit_bounds_win():
    context = {"data_interval_start": D1, "data_interval_end": D2}
    assert resolve_range(None, None, context) == (D1, D2)
    assert resolve_range("2025-01-01T12:00:00Z", None, context) == (datetime(2025, 1, 1, 12, tzinfo=UTC), D2)


@pytest.mark.parametrize(
    "context", [None, {}, {"data_interval_start": D1, "data_interval_end": D1}], ids=["none", "empty", "point"]
)
def test_a_run_without_data_interval_needs_explicit_bounds(context):
    with pytest.raises(ConversationsFilterError, match="created_at_gte and created_at_lt: not given and this run"):
        resolve_range(None, None, context)
