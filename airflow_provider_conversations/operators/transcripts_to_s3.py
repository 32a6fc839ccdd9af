"""Transfer the transcripts (transcriptions and their sentences) of a ``created_at`` range to S3, window by window."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_conversations.operators.steps import CreatedAtRange
from airflow_provider_conversations.operators.transcripts import TranscriptsS3Destination

__all__ = ["ConversationsTranscriptsToS3Operator"]


class ConversationsTranscriptsToS3Operator(TranscriptsS3Destination, CreatedAtRange):
    """Copy the transcriptions created in ``[created_at_gte, created_at_lt)`` and all their sentences to S3.

    The range (by default the run's data interval) is cut into UTC windows of ``window_size``, as for
    :class:`~.conversations_to_s3.ConversationsToS3Operator`. Each window's transcriptions are listed
    (one point per 100) and each one's sentences read whole (one point per 100 sentences, a
    transcription without sentences one request), several transcriptions at once. The window is then
    committed in two tables of the S3 layout: ``{s3_prefix}/sentences`` (one row per sentence, the
    API's fields plus ``transcription_id``, ``conversation_id``, ``sentence_index``) and
    ``{s3_prefix}/transcriptions`` (one row per transcription), each with the manifests, leases and
    shape marker of the conversations table. A window is only committed whole: an unknown
    transcription (404) or a sentence read that stays short fails the task before the window's commit.

    XCom adds ``sentences``, ``transcripts`` (transcriptions listed, read, kept) and ``budget``
    (``max_points``, ``points`` spent, ``stopped``, ``windows_left``).

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the two tables. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param aws_conn_id: the AWS connection used by ``S3Hook``. (templated)
    :param created_at_gte: inclusive start of the transcriptions' ``created_at``; default the data
        interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param window_size: window length, whole seconds dividing one day (default one day).
    :param filters: ``ids`` and ``language_code`` of ``GET /v2/transcriptions``. (templated)
    :param per_page: transcriptions per list request, 1..100.
    :param max_records_per_file: rows per data object, at most.
    :param compression: JSONL: ``None`` (``.jsonl``) or ``"gzip"`` (``.jsonl.gz``); Parquet: ``None``,
        ``"snappy"``, ``"gzip"`` or ``"zstd"``.
    :param max_concurrency: API requests in flight at once (default the connection's).
    :param file_format: ``"jsonl"`` or ``"parquet"`` (typed columns, see the transcripts docs).
    :param s3_extra_args: upload arguments (see :class:`~.conversations_to_s3.ConversationsToS3Operator`).
    :param tmp_dir: directory for the local part files.
    :param max_points: the most rate-limit points the task spends: it stops at the first window boundary
        where it has spent them and skips the windows both tables already hold, so the next run resumes.
    """

    template_fields: Sequence[str] = (
        *TranscriptsS3Destination.s3_template_fields,
        "created_at_gte",
        "created_at_lt",
        "filters",
    )
    ui_color = "#eaf6ea"
