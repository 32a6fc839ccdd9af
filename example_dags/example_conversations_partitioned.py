"""Asset partitions (Airflow 3.2 and later): one run per UTC day, keyed ``YYYY-MM-DD``, exporting that day.

A run of ``CronPartitionTimetable`` has a ``partition_key`` and no data interval: the operator exports
the key's UTC day (a daily key maps one to one onto the table's ``date=`` partitions; other keys are
refused, naming the key). ``run_offset=-1`` keys the run at midnight with the day that just ended, and
``key_format="%Y-%m-%d"`` makes the key a day. The table's asset event carries the partition key, so a
DAG on ``PartitionedAssetTimetable`` downstream runs once per exported day.

This table (one-day windows, gzip JSONL) has its own prefix; the data-interval daily example writes
``raw/conversations``. On Airflow before 3.2 this file defines no DAG.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.version_compat import AIRFLOW_V_3_2_PLUS, Asset

if AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import CronPartitionTimetable

    # [START howto_partitioned_conversations_to_s3]
    PARTITIONED_TABLE = Asset("s3://conversations-lake/raw/conversations_partitioned")

    with DAG(
        dag_id="example_conversations_partitioned",
        schedule=CronPartitionTimetable("@daily", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
        start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
        tags=["conversations", "example"],
    ) as dag:
        export_partition = ConversationsToS3Operator(
            task_id="export_partition",
            s3_bucket="conversations-lake",
            s3_prefix="raw/conversations_partitioned",
            compression="gzip",
            outlets=[PARTITIONED_TABLE],
        )
    # [END howto_partitioned_conversations_to_s3]
