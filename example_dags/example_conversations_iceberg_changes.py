"""Hourly change sync into the Iceberg table of ``example_conversations_iceberg``: one snapshot per run.

Each run reads the conversations updated in its data interval and rewrites the ``created_at`` windows
they fall in, or were in (back-dating), in one snapshot: readers see the table before the run or
after it. Same ``table``, ``iceberg_conn_id`` and ``window_size`` as the daily export.
``max_active_runs=1``: runs follow each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_changes_to_iceberg import (
    ConversationsChangesToIcebergOperator,
)
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

with DAG(
    dag_id="example_conversations_iceberg_changes",
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "iceberg", "example"],
) as dag:
    # [START howto_operator_conversations_changes_to_iceberg]
    sync_changes = ConversationsChangesToIcebergOperator(
        task_id="sync_changes",
        conversations_conn_id="conversations_default",
        iceberg_conn_id="iceberg_default",
        table="lake.conversations",
        window_size=timedelta(hours=1),  # the table's window size
    )
    # [END howto_operator_conversations_changes_to_iceberg]
