"""Keep the lake equal to the API: re-export the ``created_at`` windows that conversations updated in a range touched."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_conversations.operators.s3 import S3Destination
from airflow_provider_conversations.operators.steps import ChangedWindows, check_change_filters

__all__ = ["ConversationsChangesToS3Operator", "check_change_filters"]


class ConversationsChangesToS3Operator(ChangedWindows, S3Destination):
    """Re-export to S3 every ``created_at`` window that a conversation updated in ``[updated_at_gte, updated_at_lt)`` falls in.

    It shares the table arguments of :class:`ConversationsToS3Operator` (``s3_bucket``, ``s3_prefix``,
    ``window_size``, ``filters``, ``file_format``, ...), and takes ``updated_at_gte``/``updated_at_lt``
    instead of the ``created_at`` bounds. It reads the conversations updated in the range, and
    ``lookback`` before it (sorted by ``updated_at``, one point per 100 conversations), collects the
    UTC-aligned windows of ``window_size`` their ``created_at`` falls in, and re-exports each of those
    windows in full through the same commit as the export; adjacent windows are read with one read of
    their range. Afterwards every touched window equals the API's content for it (changed conversations
    in their newest version, conversations created or back-dated into it present, conversations deleted
    from it gone); windows that no change touched are not rewritten, and a window the export committed
    from a later read is kept. A conversation deleted, or back-dated out of a window, leaves that window
    when it is next rewritten (see "Keeping the lake current" in the docs).

    ``changed`` in XCom counts distinct conversations updated in the interval.

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the table. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param aws_conn_id: the AWS connection used by ``S3Hook``. (templated)
    :param updated_at_gte: inclusive start of the ``updated_at`` range: aware datetime or ISO-8601 string
        with offset; default the data interval's start. (templated)
    :param updated_at_lt: exclusive end; default the data interval's end. (templated)
    :param lookback: how much before ``updated_at_gte`` is read again (default 15 minutes).
    :param window_size: the table's window size.
    :param filters: the table's filters; may bound neither ``created_at`` nor ``updated_at``. (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data object, at most.
    :param compression: the table's compression.
    :param max_concurrency: API requests in flight at once within the task.
    :param file_format: the table's format.
    :param s3_extra_args: upload arguments (see :class:`ConversationsToS3Operator`).
    :param tmp_dir: directory for the local part files.
    """

    template_fields: Sequence[str] = (*S3Destination.s3_template_fields, "filters", "updated_at_gte", "updated_at_lt")
    ui_color = "#d7ecfb"
