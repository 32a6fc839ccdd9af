"""Daily incremental export: each run lands the conversations created in its data interval.

Connections: ``conversations_default`` (the API) and ``aws_default`` (S3). The bucket comes from the
Airflow Variable ``conversations_bucket`` (default ``conversations-lake``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator

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
    # [START howto_operator_conversations_to_s3]
    export_conversations = ConversationsToS3Operator(
        task_id="export_conversations",
        conversations_conn_id="conversations_default",
        aws_conn_id="aws_default",
        s3_bucket="{{ var.value.get('conversations_bucket', 'conversations-lake') }}",
        s3_prefix="raw/conversations",
        window_size=timedelta(hours=1),
        compression="gzip",
    )
    # [END howto_operator_conversations_to_s3]
