"""Producer: export each UTC day as Parquet and update the table's Asset with what was committed.

The consumer is ``example_conversations_asset_consumer.py``. The asset URI is the table's location,
``s3://<bucket>/<prefix>``: the operator adds ``records``, ``windows``, ``manifests`` and the range to the
event of the outlet with that URI. (Outlets are not templated, so the bucket is a literal here.)
A table holds one format: this Parquet table has its own prefix, next to the JSONL table
``raw/conversations`` of the daily example.
"""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.version_compat import Asset, CronDataIntervalTimetable

# [START howto_asset_conversations_table]
CONVERSATIONS_TABLE = Asset("s3://conversations-lake/raw/conversations_parquet")
# [END howto_asset_conversations_table]

with DAG(
    dag_id="example_conversations_asset_producer",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["conversations", "example"],
) as dag:
    # [START howto_operator_conversations_to_s3_asset]
    export_conversations = ConversationsToS3Operator(
        task_id="export_conversations",
        s3_bucket="conversations-lake",
        s3_prefix="raw/conversations_parquet",
        file_format="parquet",
        compression="zstd",
        s3_extra_args={"ServerSideEncryption": "aws:kms"},
        outlets=[CONVERSATIONS_TABLE],
    )
    # [END howto_operator_conversations_to_s3_asset]
