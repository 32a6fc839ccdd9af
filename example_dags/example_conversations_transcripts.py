"""Transcripts in the lake: every day the conversations, then their transcripts.

The DAG writes the conversations table of ``example_conversations_daily`` (same bucket, prefix,
window size and compression) and then the transcripts tables under ``raw/transcripts``
(``sentences`` and ``transcriptions``); ``example_conversations_transcript_changes`` keeps both
current every hour. ``max_points`` keeps one transcripts task from using more than its share of the team's
budget; a task that stops early reports the windows left in XCom.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG  # airflow.sdk on 3.x, airflow.models on 2.11

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.operators.transcripts_to_s3 import ConversationsTranscriptsToS3Operator
from airflow_provider_conversations.version_compat import CronDataIntervalTimetable

BUCKET = "{{ var.value.get('conversations_bucket', 'conversations-lake') }}"

with DAG(
    dag_id="example_conversations_transcripts",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["conversations", "transcripts", "example"],
) as dag:
    conversations = ConversationsToS3Operator(
        task_id="export_conversations",
        s3_bucket=BUCKET,
        s3_prefix="raw/conversations",
        window_size=timedelta(days=1),
        compression="gzip",
    )
    # [START howto_operator_transcripts_to_s3]
    transcripts = ConversationsTranscriptsToS3Operator(
        task_id="export_transcripts",
        s3_bucket=BUCKET,
        s3_prefix="raw/transcripts",  # two tables: raw/transcripts/sentences and raw/transcripts/transcriptions
        window_size=timedelta(days=1),
        compression="gzip",
        max_points=20_000,  # about half an hour of a 600-point-per-minute budget
    )
    # [END howto_operator_transcripts_to_s3]
    conversations >> transcripts
