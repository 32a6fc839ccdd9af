"""Weekly reconcile: re-export every window of the last N days, so deletions show in the lake.

No API field or webhook announces a deleted conversation: it leaves the lake only when its window is
rewritten. The change sync rewrites the windows that changes touch; this DAG rewrites all windows of the
last ``params.days`` days (default 30) once a week, through the same exactly-once protocol. A window
another task is rewriting at that moment is waited for (its lease), never half-written.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG, Param  # airflow.sdk on 3.x, older paths on 2.11

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

with DAG(
    dag_id="example_conversations_reconcile",
    schedule=CronDataIntervalTimetable("@weekly", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    params={"days": Param(30, type="integer", minimum=1, description="days re-exported, ending at the run's end")},
    tags=["conversations", "example"],
) as dag:
    # [START howto_operator_conversations_reconcile]
    reconcile = ConversationsToS3Operator(
        task_id="reconcile_last_days",
        s3_bucket="{{ var.value.get('conversations_bucket', 'conversations-lake') }}",
        s3_prefix="raw/conversations",
        # Whole UTC days ending at the run's end: every window aligned, the same keys the export writes.
        created_at_gte="{{ (data_interval_end - macros.timedelta(days=params.days)).strftime('%Y-%m-%dT00:00:00Z') }}",
        created_at_lt="{{ data_interval_end.strftime('%Y-%m-%dT00:00:00Z') }}",
        window_size=timedelta(days=1),  # the table's window size
        compression="gzip",
    )
    # [END howto_operator_conversations_reconcile]
