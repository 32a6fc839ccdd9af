"""Backfill a long range with dynamic task mapping: one mapped task per UTC day.

Trigger it with params ``start`` and ``end`` (ISO-8601, UTC). A year is 365 mapped tasks, which stays
under ``[core] max_map_length`` and lets a Celery or Kubernetes executor spread the days over workers.
It writes the daily example's table (``raw/conversations``, one-day windows, gzip JSONL), and each
task writes exactly the objects a daily run of that day would.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG, Param, task  # airflow.sdk on 3.x, older paths on 2.11

from airflow_provider_conversations.lake.windows import split_range
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator

with DAG(
    dag_id="example_conversations_backfill",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    params={
        "start": Param("2025-01-01T00:00:00Z", type="string", description="inclusive start, ISO-8601 UTC"),
        "end": Param("2025-01-08T00:00:00Z", type="string", description="exclusive end, ISO-8601 UTC"),
    },
    tags=["conversations", "example"],
) as dag:
    # [START howto_operator_conversations_to_s3_mapped]
    @task
    def day_ranges(params: dict) -> list[dict[str, str]]:
        """One ``{created_at_gte, created_at_lt}`` per UTC day of the requested range."""
        return split_range(params["start"], params["end"], chunk_size=timedelta(days=1))

    ConversationsToS3Operator.partial(
        task_id="export_day",
        s3_bucket="{{ var.value.get('conversations_bucket', 'conversations-lake') }}",
        s3_prefix="raw/conversations",
        window_size=timedelta(days=1),  # the table's window size
        compression="gzip",
        max_active_tis_per_dag=4,
    ).expand_kwargs(day_ranges())
    # [END howto_operator_conversations_to_s3_mapped]
