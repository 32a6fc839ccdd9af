"""Consumer: runs when the producer has updated the conversations table, and reads exactly the committed windows.

The producer is ``example_conversations_asset_producer.py``. Each asset event lists the manifests of the
windows the producer committed; a manifest lists exactly the data objects of its window (with their
record counts and MD5s), so the consumer reads those and never globs the prefix (which may show a window
being rewritten).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from airflow.providers.common.compat.sdk import DAG, get_current_context, task

from airflow_provider_conversations.utils.assets import committed_manifests
from airflow_provider_conversations.version_compat import Asset

# The same URI as the producer's outlet: assets match by URI.
CONVERSATIONS_TABLE = Asset("s3://conversations-lake/raw/conversations_parquet")

with DAG(
    dag_id="example_conversations_asset_consumer",
    schedule=[CONVERSATIONS_TABLE],
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["conversations", "example"],
) as dag:
    # [START howto_asset_consumer_committed_windows]
    @task
    def committed_parts() -> list[str]:
        """The data objects of every window committed by the events that triggered this run."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        context = get_current_context()
        # Airflow 3 names it triggering_asset_events, 2.11 triggering_dataset_events.
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
        s3 = S3Hook(aws_conn_id="aws_default")
        parts: list[str] = []
        for manifest_key in committed_manifests(events):
            manifest = json.loads(s3.read_key(manifest_key, bucket_name="conversations-lake"))
            parts += [part["key"] for part in manifest["parts"]]  # exactly these, no listing
        return parts

    # [END howto_asset_consumer_committed_windows]

    committed_parts()
