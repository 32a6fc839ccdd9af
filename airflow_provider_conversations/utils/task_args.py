"""Arguments shared by the operator and the sensor: the range (or the data interval, or the partition) and the filters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from airflow_provider_conversations.api.filters import ConversationFilters, validate_range
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.reading.ranges import check_no_range_filters
from airflow_provider_conversations.utils.partitions import partition_range, run_partition


def is_template(value: Any) -> bool:
    """Whether a literal still holds Jinja (it is checked after rendering instead)."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_template(v) for v in value)
    return False


def check_filters(filters: Any) -> ConversationFilters:
    """Validate a task's ``filters``: the hook's filters minus the ``created_at`` bounds."""
    return check_no_range_filters(
        ConversationFilters.from_mapping(filters),
        why="cannot be a filter here; pass created_at_gte/created_at_lt instead",
    )


def resolve_range(
    created_at_gte: datetime | str | None,
    created_at_lt: datetime | str | None,
    context: Any,
    *,
    prefix: str = "created_at",
) -> tuple[datetime, datetime]:
    """Return ``[gte, lt)`` from the arguments, each defaulting to the run's data interval.

    A run without a data interval but with a ``partition_key`` (Airflow 3.2's asset partitions)
    defaults to its partition's range instead (:func:`~.partitions.partition_range`: a daily key is
    that UTC day; other keys are refused).

    :param created_at_gte: explicit start, or ``None`` for ``data_interval_start``.
    :param created_at_lt: explicit end, or ``None`` for ``data_interval_end``.
    :param context: the task context (``None`` when checking literals at construction).
    :param prefix: the arguments' names without ``_gte``/``_lt``, for messages (``updated_at`` for the
        change sync).
    """
    if created_at_gte is None or created_at_lt is None:
        get = context.get if context is not None else (lambda _key: None)
        interval_start, interval_end = get("data_interval_start"), get("data_interval_end")
        no_interval = interval_start is None or interval_end is None or interval_start == interval_end
        partition_key, partition_date = run_partition(context)
        if no_interval and partition_key:
            interval_start, interval_end = partition_range(partition_key, partition_date, prefix=prefix)
        elif no_interval:
            missing = " and ".join(
                n for n, v in ((f"{prefix}_gte", created_at_gte), (f"{prefix}_lt", created_at_lt)) if v is None
            )
            raise ConversationsFilterError(
                f"{missing}: not given and this run has no data interval (a manual run, or a schedule whose runs "
                "are points in time: Airflow 3's default for cron strings and timedeltas is CronTriggerTimetable/"
                f"DeltaTriggerTimetable). Pass {prefix}_gte and {prefix}_lt (ISO-8601 with offset, e.g. "
                "'2025-01-01T00:00:00Z'), or give the DAG schedule=CronDataIntervalTimetable('@daily', timezone='UTC')."
            )
        created_at_gte = interval_start if created_at_gte is None else created_at_gte
        created_at_lt = interval_end if created_at_lt is None else created_at_lt
    return validate_range(created_at_gte, created_at_lt, prefix=prefix)
