"""Daily snapshot expiry for the Iceberg table of ``example_conversations_iceberg``.

Every export group and every hourly sync is a snapshot (about 27 a day with the siblings' settings).
This keeps a week of them for time travel. Expiry changes metadata only; remove orphan files and
compact old days with an engine that rewrites (see the Iceberg docs page).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_iceberg_maintenance import (
    ConversationsIcebergMaintenanceOperator,
)

with DAG(
    dag_id="example_conversations_iceberg_maintenance",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["conversations", "iceberg", "example"],
) as dag:
    # [START howto_operator_conversations_iceberg_maintenance]
    expire_snapshots = ConversationsIcebergMaintenanceOperator(
        task_id="expire_snapshots",
        iceberg_conn_id="iceberg_default",
        table="lake.conversations",
        expire_older_than=timedelta(days=7),  # longer than any export task runs
        retain_last=24,
    )
    # [END howto_operator_conversations_iceberg_maintenance]
