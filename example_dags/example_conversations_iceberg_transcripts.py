"""Transcripts in Apache Iceberg: every day the transcriptions created the day before and their sentences,
then the transcripts that changed (reprocessed, new, deleted) during it.

Two tables in the catalog of ``iceberg_default``: ``lake.sentences`` (one row per sentence, partitioned by
the day of its transcription's ``created_at``) and ``lake.transcriptions``. The export commits each window
in one snapshot per table; the change sync rewrites the windows of the transcriptions updated in the
interval in one snapshot per table, sentences first, re-reading only the changed transcriptions'
sentences. The tables are created on the first run. Needs the ``[iceberg]`` extra.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.transcript_changes_to_iceberg import (
    ConversationsTranscriptChangesToIcebergOperator,
)
from airflow_provider_conversations.operators.transcripts_to_iceberg import ConversationsTranscriptsToIcebergOperator
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

TABLES = {"sentences_table": "lake.sentences", "transcriptions_table": "lake.transcriptions"}

with DAG(
    dag_id="example_conversations_iceberg_transcripts",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "transcripts", "iceberg", "example"],
) as dag:
    # [START howto_operator_transcripts_to_iceberg]
    export_transcripts = ConversationsTranscriptsToIcebergOperator(
        task_id="export_transcripts",
        iceberg_conn_id="iceberg_default",
        **TABLES,
        window_size=timedelta(days=1),
        max_points=20_000,  # about half an hour of a 600-point-per-minute budget
    )
    # [END howto_operator_transcripts_to_iceberg]
    # [START howto_operator_transcript_changes_to_iceberg]
    sync_transcripts = ConversationsTranscriptChangesToIcebergOperator(
        task_id="sync_transcripts",
        iceberg_conn_id="iceberg_default",
        **TABLES,
        window_size=timedelta(days=1),  # the tables' window size
    )
    # [END howto_operator_transcript_changes_to_iceberg]
    export_transcripts >> sync_transcripts
