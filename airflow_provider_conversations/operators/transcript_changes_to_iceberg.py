"""Keep the transcripts in Iceberg equal to the API: rewrite the touched windows, in one snapshot per table."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_conversations.operators.steps import ChangedWindows
from airflow_provider_conversations.operators.transcripts_to_iceberg import TranscriptsIcebergDestination

__all__ = ["ConversationsTranscriptChangesToIcebergOperator"]


class ConversationsTranscriptChangesToIcebergOperator(TranscriptsIcebergDestination, ChangedWindows):  # type: ignore[misc]
    """Rewrite the ``created_at`` windows of the transcriptions updated in ``[updated_at_gte, updated_at_lt)``.

    The Iceberg twin of :class:`~.transcript_changes_to_s3.ConversationsTranscriptChangesToS3Operator`:
    it reads the transcriptions updated in the range (and ``lookback`` before it), lists each window
    their ``created_at`` falls in again (so a deleted transcription leaves both tables, and a new one
    enters), and reads from the API only the sentences of the transcriptions whose ``updated_at``
    differs from their committed row's; the others keep their sentence rows, read back from the
    table's current snapshot. The data files upload during the reads; at the end every touched window
    is committed in one snapshot of ``sentences_table``, then one of ``transcriptions_table``, so a
    reader sees each table before the sync or after it, and a transcription row always comes with
    sentences read at least as recently. A task that fails before its end commits nothing.

    :param sentences_table: ``"namespace.table"`` of the sentences. (templated)
    :param transcriptions_table: ``"namespace.table"`` of the transcriptions. (templated)
    :param iceberg_conn_id: the ``iceberg`` connection of the catalog. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param updated_at_gte: inclusive start of the ``updated_at`` range; default the data interval's start.
        (templated)
    :param updated_at_lt: exclusive end; default the data interval's end. (templated)
    :param lookback: how much before ``updated_at_gte`` is read again (default 15 minutes).
    :param window_size: the tables' window size (the export's).
    :param filters: the tables' filters (``ids``, ``language_code``). (templated)
    :param per_page: transcriptions per list request, 1..100.
    :param max_records_per_file: rows per data file, at most.
    :param compression: the data files' Parquet codec (default ``"zstd"``).
    :param max_concurrency: API requests in flight at once.
    :param tmp_dir: directory for the local part files.
    :param max_points: the most rate-limit points the task spends; the windows it did not reach are
        reported in XCom (``budget.windows_left``): clear the task to finish them.
    """

    template_fields: Sequence[str] = (
        *TranscriptsIcebergDestination.iceberg_template_fields,
        "filters",
        "updated_at_gte",
        "updated_at_lt",
    )
    single_snapshot = True
    keep_unchanged_sentences = True
