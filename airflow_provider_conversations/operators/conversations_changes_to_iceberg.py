"""Keep the Iceberg table equal to the API: rewrite the windows that changes touched, in one snapshot."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_conversations.operators.conversations_to_iceberg import IcebergTableDestination
from airflow_provider_conversations.operators.steps import ChangedWindows

__all__ = ["ConversationsChangesToIcebergOperator"]


class ConversationsChangesToIcebergOperator(ChangedWindows, IcebergTableDestination):
    """Rewrite in an Iceberg table every ``created_at`` window that a conversation updated in
    ``[updated_at_gte, updated_at_lt)`` falls in, or was in, all in one snapshot.

    It takes the arguments of :class:`ConversationsChangesToS3Operator` that apply (``updated_at_gte``,
    ``updated_at_lt``, ``lookback``, ``window_size``, ``filters``, paging) and the table arguments of
    :class:`ConversationsToIcebergOperator`. It reads the conversations updated in the range and
    ``lookback`` before it, collects the UTC-aligned windows of ``window_size`` their ``created_at`` falls
    in, adds the windows where the table holds any of them now (a conversation back-dated out of its
    window leaves it in the same snapshot), and reads each of those windows again in full; adjacent
    windows are read with one read of their range. The data files upload during the reads; at the end
    one ``overwrite`` snapshot replaces every window whole, so a reader sees the table before the sync
    or after it, never in between, and no snapshot holds an id twice. A window whose committed version
    was read after this task's read began is kept (logged, counted as ``skipped_older_read``). A task
    that fails before its end commits nothing and leaves only unreferenced files.

    ``changed`` in XCom counts distinct conversations updated in the interval; ``snapshot_id`` is the
    snapshot the sync made (``None`` when nothing changed).

    :param table: ``"namespace.table"`` (created with its namespace when absent). (templated)
    :param iceberg_conn_id: the ``iceberg`` connection of the catalog. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param updated_at_gte: inclusive start of the ``updated_at`` range: aware datetime or ISO-8601 string
        with offset; default the data interval's start. (templated)
    :param updated_at_lt: exclusive end; default the data interval's end. (templated)
    :param lookback: how much before ``updated_at_gte`` is read again (default 15 minutes).
    :param window_size: the table's window size (the export's).
    :param filters: the table's filters; may bound neither ``created_at`` nor ``updated_at``. (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data file, at most.
    :param compression: the data files' Parquet codec (default ``"zstd"``).
    :param max_concurrency: API requests in flight at once within the task.
    :param tmp_dir: directory for the local part files.
    """

    template_fields: Sequence[str] = (
        "table",
        "iceberg_conn_id",
        "conversations_conn_id",
        "filters",
        "updated_at_gte",
        "updated_at_lt",
    )
    single_snapshot = True
