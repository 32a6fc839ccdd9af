"""Expire old snapshots of the conversations' Iceberg table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.utils.task_args import is_template
from airflow_provider_conversations.version_compat import BaseOperator

if TYPE_CHECKING:
    from airflow_provider_conversations.version_compat import Context

__all__ = ["ConversationsIcebergMaintenanceOperator"]


class ConversationsIcebergMaintenanceOperator(BaseOperator):
    """Expire the snapshots of an Iceberg table committed more than ``expire_older_than`` ago.

    The newest ``retain_last`` snapshots, the current one and every branch or tag head are kept.
    Expiry changes metadata only: data files only expired snapshots referenced stay in storage until
    an orphan-file cleanup (see the Iceberg docs page). Keep ``expire_older_than`` longer than the
    longest export task: a window's read start is recorded in the snapshot that committed it, and an
    export whose read began before the oldest snapshot kept is no longer recognised as older.

    XCom: ``table``, ``expired`` (snapshot ids), ``retained``, ``snapshot_id`` (the current one).

    :param table: ``"namespace.table"``. (templated)
    :param iceberg_conn_id: the ``iceberg`` connection of the catalog. (templated)
    :param expire_older_than: snapshots older than this may go (default 7 days; at least 1 hour).
    :param retain_last: the newest snapshots always kept (default 1).
    """

    template_fields: Sequence[str] = ("table", "iceberg_conn_id")
    ui_color = "#e6f2e6"

    def __init__(
        self,
        *,
        table: str,
        iceberg_conn_id: str = "iceberg_default",
        expire_older_than: timedelta = timedelta(days=7),
        retain_last: int = 1,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_conversations.lake.iceberg.catalog import parse_table_name
        from airflow_provider_conversations.lake.iceberg.maintenance import check_expiry

        super().__init__(**kwargs)
        self.table = table
        self.iceberg_conn_id = iceberg_conn_id
        self.expire_older_than, self.retain_last = check_expiry(expire_older_than, retain_last)
        if not is_template(table):
            parse_table_name(table)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_conversations.lake.iceberg.catalog import load_catalog, parse_table_name
        from airflow_provider_conversations.lake.iceberg.maintenance import expire_snapshots

        namespace, name = parse_table_name(self.table)
        catalog = load_catalog(self.iceberg_conn_id)
        identifier = f"{namespace}.{name}"
        cutoff = datetime.now(timezone.utc) - self.expire_older_than
        result = expire_snapshots(catalog, identifier, cutoff=cutoff, retain_last=self.retain_last)
        self.log.info(
            "Iceberg table %s: expired %d snapshot(s) committed before %s, %d kept; current snapshot %s",
            identifier,
            len(result.expired),
            cutoff.isoformat(),
            result.retained,
            result.current_snapshot_id,
        )
        return {
            "table": identifier,
            "expired": result.expired,
            "retained": result.retained,
            "snapshot_id": result.current_snapshot_id,
        }
