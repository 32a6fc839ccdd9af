"""Daily export into an Apache Iceberg table: each day's conversations, committed in snapshots of whole windows.

Its sibling ``example_conversations_iceberg_changes`` keeps the same table current every hour, and
``example_conversations_iceberg_maintenance`` expires old snapshots. The three share ``table``,
``iceberg_conn_id`` and ``window_size``. The ``iceberg_default`` connection holds the catalog (see the
Iceberg docs page: SQLite for a laptop, Glue, REST or SQL on Postgres in production); the table is
created on the first run. Needs the ``[iceberg]`` extra.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

with DAG(
    dag_id="example_conversations_iceberg",
    # Each run covers the previous day [start, end) of created_at (a data-interval timetable).
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "iceberg", "example"],
) as dag:
    # [START howto_operator_conversations_to_iceberg]
    export_conversations = ConversationsToIcebergOperator(
        task_id="export_conversations",
        conversations_conn_id="conversations_default",
        iceberg_conn_id="iceberg_default",
        table="lake.conversations",
        window_size=timedelta(hours=1),  # the hourly change sync rewrites single hours
        commit_group_size=8,  # windows per snapshot: three snapshots a day
    )
    # [END howto_operator_conversations_to_iceberg]
