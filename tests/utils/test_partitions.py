"""A partitioned run's range: a daily key is its UTC day; any other key is refused, naming it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.utils.partitions import partition_range
from airflow_provider_conversations.utils.task_args import resolve_range

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)


def partitioned(key: str, date: datetime | None = None, **more: object) -> dict[str, object]:
    """The context of a partitioned run (Airflow 3.2+): a key, maybe a date, no data interval."""
    return {
        "partition_key": key,
        "partition_date": date,
        "data_interval_start": None,
        "data_interval_end": None,
        **more,
    }


def test_a_daily_key_is_its_utc_day():
    assert partition_range("2025-01-03", DAY, prefix="created_at") == (DAY, DAY + timedelta(days=1))
    assert partition_range("2025-01-03", None, prefix="created_at") == (DAY, DAY + timedelta(days=1))


@pytest.mark.parametrize(
    "key",
    [
        "2025-01-03T00:00:00",  # CronPartitionTimetable's default key_format: an hour or a day?
        "2025-01-03T05",
        "2025-01",
        "2025-02-30",
        "us|2025-01-03",
        "20250103",
    ],
)
def test_other_keys_are_refused_naming_the_key_and_what_is_supported(key: str):
    with pytest.raises(ConversationsFilterError) as err:
        partition_range(key, None, prefix="created_at")
    message = str(err.value)
    assert repr(key) in message and "'YYYY-MM-DD'" in message and "created_at_gte and created_at_lt" in message


def test_a_partition_date_that_is_not_the_keys_utc_midnight_is_refused():
    berlin_midnight = DAY - timedelta(hours=1)  # 2025-01-03 00:00 in Europe/Berlin, the day's key there
    with pytest.raises(ConversationsFilterError, match=r"partition_key '2025-01-03': the run's partition_date is "):
        partition_range("2025-01-03", berlin_midnight, prefix="created_at")


def test_a_partitioned_run_without_data_interval_exports_its_day():
    assert resolve_range(None, None, partitioned("2025-01-03", DAY)) == (DAY, DAY + timedelta(days=1))


def test_airflow_3_2_has_the_key_on_the_dag_run_only():
    context = {"dag_run": SimpleNamespace(partition_key="2025-01-03"), "data_interval_start": None}
    assert resolve_range(None, None, context) == (DAY, DAY + timedelta(days=1))


def test_the_change_sync_reads_the_partitions_day_of_updates():
    with pytest.raises(ConversationsFilterError, match="updated_at_gte and updated_at_lt"):
        resolve_range(None, None, partitioned("2025-01-03T00:00:00"), prefix="updated_at")
    assert resolve_range(None, None, partitioned("2025-01-03"), prefix="updated_at")[0] == DAY


def test_explicit_bounds_and_a_data_interval_come_before_the_partition():
    start = DAY + timedelta(hours=6)
    assert resolve_range(start, None, partitioned("2025-01-03")) == (start, DAY + timedelta(days=1))
    interval = {"data_interval_start": DAY - timedelta(days=1), "data_interval_end": DAY}
    assert resolve_range(None, None, partitioned("not-a-day", **interval)) == (DAY - timedelta(days=1), DAY)


def test_a_run_with_neither_interval_nor_partition_is_still_refused():
    with pytest.raises(ConversationsFilterError, match="no data interval"):
        resolve_range(None, None, {"data_interval_start": DAY, "data_interval_end": DAY, "partition_key": None})
