"""Transfer conversations of a ``created_at`` range into an Apache Iceberg table, groups of windows per snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.checks import check_positive
from airflow_provider_conversations.lake.formats import check_compression
from airflow_provider_conversations.operators.base import BaseConversationsExportOperator
from airflow_provider_conversations.operators.steps import CreatedAtRange
from airflow_provider_conversations.utils.assets import add_table_event_extra
from airflow_provider_conversations.utils.task_args import is_template

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_conversations.api.filters import ConversationFilters
    from airflow_provider_conversations.lake.destination import Destination, WindowResult
    from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
    from airflow_provider_conversations.utils.lineage import IcebergTableRef
    from airflow_provider_conversations.version_compat import Context

__all__ = ["ConversationsToIcebergOperator", "IcebergTableDestination", "iceberg_table_ref"]


def iceberg_table_ref(destination: IcebergDestination, *, after_run: bool) -> IcebergTableRef:
    """What lineage names an Iceberg table by (its catalog reached), with its snapshot once the task ran.

    :param destination: the table.
    :param after_run: whether the task has committed (the snapshot id goes into the lineage).
    """
    from airflow_provider_conversations.lake.iceberg.catalog import catalog_kind, lineage_properties
    from airflow_provider_conversations.utils.lineage import IcebergTableRef

    return IcebergTableRef(
        location=destination.table.location(),
        identifier=destination.identifier,
        catalog_name=destination.catalog.name,
        catalog_type=catalog_kind(destination.catalog),
        properties=lineage_properties(destination.catalog, destination.namespace, destination.name),
        snapshot_id=destination.snapshot_id if after_run else None,
    )


class IcebergTableDestination(BaseConversationsExportOperator):
    """Commit the windows into the Iceberg table ``table`` of the catalog of ``iceberg_conn_id``.

    :param table: ``"namespace.table"`` (created with its namespace when absent). (templated)
    :param iceberg_conn_id: an ``iceberg`` connection (the official Iceberg provider's): its extra holds
        the pyiceberg catalog properties (``type``: sql, glue, rest, ...; ``uri``, ``warehouse``, ``s3.*``).
        (templated)
    :param compression: the data files' Parquet codec: ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"``.
    :param commit_group_size: windows committed in one snapshot, at most.
    """

    destination_template_fields: Sequence[str] = ("table", "iceberg_conn_id")
    ui_color = "#e6f2e6"
    #: Commit all the task's windows in one snapshot at its end (a change sync), not group by group.
    single_snapshot: bool = False

    def __init__(
        self,
        *,
        table: str,
        iceberg_conn_id: str = "iceberg_default",
        compression: str | None = "zstd",
        commit_group_size: int = 8,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_conversations.lake.iceberg.catalog import parse_table_name

        super().__init__(**kwargs)
        self.table = table
        self.iceberg_conn_id = iceberg_conn_id
        self.file_format = "parquet"
        self.compression = check_compression(compression, "parquet")
        self.commit_group_size = check_positive(commit_group_size, "commit_group_size")
        self._destination: IcebergDestination | None = None
        if not is_template(table):
            parse_table_name(table)

    def open_destination(self, context: Context, filters: ConversationFilters) -> Destination:
        from airflow_provider_conversations.lake.iceberg.catalog import load_catalog, parse_table_name
        from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination

        namespace, name = parse_table_name(self.table)
        catalog = load_catalog(self.iceberg_conn_id)
        self._destination = IcebergDestination(
            catalog, namespace, name, compression=self.compression, single_snapshot=self.single_snapshot
        )
        return self._destination

    def destination_report(self, destination: Destination) -> dict[str, Any]:
        iceberg = self._iceberg(destination)
        commits = iceberg.commits
        return {
            "table": iceberg.identifier,
            "location": iceberg.table.location(),
            "snapshot_id": iceberg.snapshot_id,
            "commits": len([c for c in commits if c.snapshot_id is not None]),
            "commit_seconds": round(sum(c.seconds for c in commits), 3),
        }

    def _log_window(self, result: WindowResult) -> None:
        if not self.single_snapshot:  # otherwise logged once the snapshot holds it
            super()._log_window(result)

    def publish_event(self, context: Context, destination: Destination, extra: dict[str, Any]) -> None:
        iceberg = self._iceberg(destination)
        for result in iceberg.deferred_results:
            super()._log_window(result)
        self.log.info(
            "Iceberg table %s: snapshot %s after %d commit(s)",
            iceberg.identifier,
            iceberg.snapshot_id,
            len(iceberg.commits),
        )
        extra = {**extra, "table": iceberg.identifier, "snapshot_id": iceberg.snapshot_id}
        add_table_event_extra(context, self.outlets, iceberg.table.location().rstrip("/"), extra)

    def destination_lineage(self, records: int | None, size: int | None) -> OperatorLineage | None:
        from airflow_provider_conversations.hooks.conversations import ConversationsHook
        from airflow_provider_conversations.lake.iceberg.table import lineage_columns
        from airflow_provider_conversations.utils.lineage import iceberg_lineage

        destination = self._destination
        if destination is None or destination._table is None:
            return None  # the table's location is known once the catalog was reached
        return iceberg_lineage(
            api_base_url=ConversationsHook(self.conversations_conn_id).settings.base_url,
            table=iceberg_table_ref(destination, after_run=records is not None),
            columns=lineage_columns(),
            records=records,
            size=size,
        )

    @staticmethod
    def _iceberg(destination: Destination) -> IcebergDestination:
        from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination

        assert isinstance(destination, IcebergDestination)
        return destination


class ConversationsToIcebergOperator(CreatedAtRange, IcebergTableDestination):
    """Copy conversations created in ``[created_at_gte, created_at_lt)`` into an Iceberg table, window by window.

    The range (by default the run's data interval) is cut into UTC-aligned windows of ``window_size``
    and read once, in ``created_at`` order. Each window's records go into Parquet data files of at most
    ``max_records_per_file`` records, uploaded under the table's data location while the read goes on;
    every ``commit_group_size`` windows are committed in one snapshot that replaces each window whole
    (its old rows deleted, its new files added: metadata only). A window committed from a later read is
    kept. The table (partitioned by ``day(created_at)``, sorted by ``created_at, id``) is created when
    absent; an incompatible one fails the task before any API request. Needs the ``[iceberg]`` extra.

    :param table: ``"namespace.table"``. (templated)
    :param iceberg_conn_id: the ``iceberg`` connection of the catalog. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param created_at_gte: inclusive start: aware datetime or ISO-8601 string with offset; default the
        data interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param window_size: window length, whole seconds dividing one day (default one day).
    :param filters: further filters of the hook (no ``created_at`` bounds). (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data file, at most.
    :param compression: the data files' Parquet codec (default ``"zstd"``).
    :param commit_group_size: windows per snapshot, at most (default 8).
    :param max_concurrency: API requests in flight at once (default the connection's).
    :param tmp_dir: directory for the local part files (default the system's temp dir).
    """

    template_fields: Sequence[str] = (
        "table",
        "iceberg_conn_id",
        "conversations_conn_id",
        "created_at_gte",
        "created_at_lt",
        "filters",
    )
