"""Keep the transcripts in the lake equal to the API: rewrite the windows that updated transcriptions touched."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_conversations.operators.steps import ChangedWindows
from airflow_provider_conversations.operators.transcripts import TranscriptsS3Destination

__all__ = ["ConversationsTranscriptChangesToS3Operator"]


class ConversationsTranscriptChangesToS3Operator(TranscriptsS3Destination, ChangedWindows):  # type: ignore[misc]
    """Rewrite the ``created_at`` windows of the transcriptions updated in ``[updated_at_gte, updated_at_lt)``.

    It reads the transcriptions updated in the range (and ``lookback`` before it), collects the windows
    their ``created_at`` falls in, and for each of those lists the window's transcriptions again (so a
    deleted transcription leaves both tables, and a new one enters). A transcription whose ``updated_at``
    equals its committed row's keeps its sentence rows from the window's committed parts (read through
    the manifest, no API request); only the others' sentences are read from the API. Shares the table
    arguments of :class:`~.transcripts_to_s3.ConversationsTranscriptsToS3Operator`.

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the two tables. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param aws_conn_id: the AWS connection used by ``S3Hook``. (templated)
    :param updated_at_gte: inclusive start of the ``updated_at`` range; default the data interval's start.
        (templated)
    :param updated_at_lt: exclusive end; default the data interval's end. (templated)
    :param lookback: how much before ``updated_at_gte`` is read again (default 15 minutes).
    :param window_size: the tables' window size.
    :param filters: the tables' filters (``ids``, ``language_code``). (templated)
    :param per_page: transcriptions per list request, 1..100.
    :param max_records_per_file: rows per data object, at most.
    :param compression: the tables' compression.
    :param max_concurrency: API requests in flight at once.
    :param file_format: ``"jsonl"`` or ``"parquet"``: the tables' format.
    :param s3_extra_args: upload arguments.
    :param tmp_dir: directory for the local part files.
    :param max_points: the most rate-limit points the task spends; the windows it did not reach are
        reported in XCom (``budget.windows_left``): clear the task to finish them (unchanged
        transcriptions then cost nothing).
    """

    template_fields: Sequence[str] = (
        *TranscriptsS3Destination.s3_template_fields,
        "filters",
        "updated_at_gte",
        "updated_at_lt",
    )
    ui_color = "#d9f0d9"
    keep_unchanged_sentences = True
