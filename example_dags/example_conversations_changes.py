"""Incremental change sync: every hour, re-export the windows that the hour's updated conversations fall in.

It keeps the table of the daily export and the backfill (``example_conversations_daily``,
``example_conversations_backfill``) current: the same ``s3_prefix``, one-day ``window_size`` and
``compression``. Each run reads the conversations updated in its data interval (one point per 100 of
them) and rewrites only the ``created_at`` days they belong to, so the lake holds every conversation
in its newest version within the hour. ``max_active_runs=1``: runs follow each other, and a
conversation updated while a run reads moves into the next run's interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

with DAG(
    dag_id="example_conversations_changes",
    # Each run covers the previous hour [start, end) of updated_at (a data-interval timetable).
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "example"],
) as dag:
    # [START howto_operator_conversations_changes_to_s3]
    sync_changes = ConversationsChangesToS3Operator(
        task_id="sync_changes",
        conversations_conn_id="conversations_default",
        aws_conn_id="aws_default",
        s3_bucket="{{ var.value.get('conversations_bucket', 'conversations-lake') }}",
        s3_prefix="raw/conversations",
        window_size=timedelta(days=1),  # the table's window size (a different one is refused)
        compression="gzip",
    )
    # [END howto_operator_conversations_changes_to_s3]
