"""Asset partitions (Airflow 3.2 and later): the range of a partitioned run, from its ``partition_key``.

A run of a DAG on ``CronPartitionTimetable`` (or a run created for a partition) has a
``partition_key`` and ``partition_date`` in its context and no data interval. The table's ``date=``
partitions are UTC days, so a daily key maps one to one onto a range:

* ``YYYY-MM-DD`` is that UTC day, ``[YYYY-MM-DDT00:00:00Z, next day)``;
* any other key is refused, naming it: a key such as ``2025-01-01T00:00:00`` (the timetable's default
  ``key_format``) does not say whether it stands for an hour or a day, and a composite key
  (``region|date``) is not a time at all. Pass the range explicitly for those runs, e.g. templated from
  ``partition_date``.

When the run also has a ``partition_date``, it must be the key's UTC midnight: a timetable in another
time zone labels days that are not UTC days, and is refused rather than exported a few hours off.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.timestamps import format_timestamp

#: The partition keys that map onto a range: one UTC day.
DAILY_KEY = re.compile(r"\d{4}-\d{2}-\d{2}")

#: How a DAG gets daily keys (shown in the errors).
DAILY_TIMETABLE = "CronPartitionTimetable('@daily', timezone='UTC', run_offset=-1, key_format='%Y-%m-%d')"


def run_partition(context: Any) -> tuple[str | None, datetime | None]:
    """The run's ``(partition_key, partition_date)``; ``(None, None)`` for a run without a partition.

    Airflow 3.3 puts both in the context; 3.2 has the key on ``dag_run`` only (and no date).

    :param context: the task context (or ``None``).
    """
    if context is None:
        return None, None
    key = context.get("partition_key") or getattr(context.get("dag_run"), "partition_key", None)
    return (str(key), context.get("partition_date")) if key else (None, None)


def partition_range(partition_key: Any, partition_date: datetime | None, *, prefix: str) -> tuple[datetime, datetime]:
    """Return the ``[gte, lt)`` range of a daily partition key: that UTC day.

    :param partition_key: the run's ``partition_key``.
    :param partition_date: the run's ``partition_date`` (``None`` when the run has none).
    :param prefix: the range's argument names without ``_gte``/``_lt``, for messages.
    :raises ConversationsFilterError: a key that is not ``YYYY-MM-DD``, or a ``partition_date`` that is
        not the key's UTC midnight.
    """
    key = str(partition_key)
    start = _utc_day(key)
    if start is None:
        raise ConversationsFilterError(
            f"partition_key {key!r}: only a daily key 'YYYY-MM-DD' (one UTC day, as {DAILY_TIMETABLE} makes) "
            f"maps to a {prefix} range. For other partitions pass {prefix}_gte and {prefix}_lt (ISO-8601 with "
            "offset, e.g. templated from partition_date)."
        )
    if partition_date is not None and partition_date != start:
        raise ConversationsFilterError(
            f"partition_key {key!r}: the run's partition_date is {format_timestamp(partition_date)}, not the UTC "
            f"day's start {format_timestamp(start)} (a timetable in another time zone, or keys that are not UTC "
            f"days). Use {DAILY_TIMETABLE}, or pass {prefix}_gte and {prefix}_lt."
        )
    return start, start + timedelta(days=1)


def _utc_day(key: str) -> datetime | None:
    if not DAILY_KEY.fullmatch(key):
        return None
    try:
        return datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    except ValueError:  # 2025-02-30
        return None
