"""Every hour: the conversations updated in the hour, then the transcriptions updated in the hour.

Keeps the tables of ``example_conversations_transcripts`` current. A reprocessed transcript costs its
own sentences only: the other transcriptions of its day keep their committed sentences, and a deleted
transcription leaves both tables. ``max_active_runs=1``: runs follow each other.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.operators.transcript_changes_to_s3 import ConversationsTranscriptChangesToS3Operator
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

BUCKET = "{{ var.value.get('conversations_bucket', 'conversations-lake') }}"

with DAG(
    dag_id="example_conversations_transcript_changes",
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "transcripts", "example"],
) as dag:
    conversation_changes = ConversationsChangesToS3Operator(
        task_id="sync_conversations",
        s3_bucket=BUCKET,
        s3_prefix="raw/conversations",
        window_size=timedelta(days=1),
        compression="gzip",
    )
    # [START howto_operator_transcript_changes_to_s3]
    transcript_changes = ConversationsTranscriptChangesToS3Operator(
        task_id="sync_transcripts",
        s3_bucket=BUCKET,
        s3_prefix="raw/transcripts",
        window_size=timedelta(days=1),
        compression="gzip",
    )
    # [END howto_operator_transcript_changes_to_s3]
    conversation_changes >> transcript_changes
