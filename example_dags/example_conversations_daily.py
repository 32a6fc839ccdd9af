"""Daily incremental export: wait for the interval's conversations, then land them in S3.

Connections: ``conversations_default`` (the API) and ``aws_default`` (S3). The bucket comes from the
Airflow Variable ``conversations_bucket`` (default ``conversations-lake``). The table
``raw/conversations`` (one-day windows, gzip JSONL, no filters) is shared with the backfill, the
change sync and the reconcile examples: every DAG writing one table uses its window size, format,
compression and filters.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.sensors.conversations import ConversationsSensor
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

with DAG(
    dag_id="example_conversations_daily",
    # A data-interval timetable: each run covers [previous midnight, midnight) UTC. (Airflow 3's
    # default for "@daily" is CronTriggerTimetable, whose runs are points in time with no interval.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "example"],
) as dag:
    # [START howto_sensor_conversations]
    # Recordings are processed late: wait until the interval has conversations (one cheap request a
    # poke). deferrable=True frees the worker slot while waiting (needs a running triggerer).
    wait_for_conversations = ConversationsSensor(
        task_id="wait_for_conversations",
        conversations_conn_id="conversations_default",
        min_count=1,
        poke_interval=timedelta(minutes=10),
        timeout=timedelta(hours=6),
        deferrable=True,
    )
    # [END howto_sensor_conversations]

    # [START howto_operator_conversations_to_s3]
    export_conversations = ConversationsToS3Operator(
        task_id="export_conversations",
        conversations_conn_id="conversations_default",
        aws_conn_id="aws_default",
        s3_bucket="{{ var.value.get('conversations_bucket', 'conversations-lake') }}",
        s3_prefix="raw/conversations",
        window_size=timedelta(days=1),  # the table's window size (the default): one window per UTC day
        compression="gzip",
    )
    # [END howto_operator_conversations_to_s3]

    wait_for_conversations >> export_conversations
