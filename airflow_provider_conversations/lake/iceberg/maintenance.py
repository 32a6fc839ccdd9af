"""Snapshot expiry for the conversations table: every group commit is a snapshot, and hourly syncs make many.

Expiry only drops snapshots from the table's metadata (pyiceberg's ``expire_snapshots``); the data
and manifest files only they referenced stay in storage until an orphan-file cleanup removes them
(Spark's ``remove_orphan_files``, with an age limit: a running export may be about to commit a file
it just uploaded under the same content-derived name).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

log = logging.getLogger(__name__)


@dataclass
class ExpiryResult:
    """What one expiry did.

    :param expired: the snapshot ids removed from the table's metadata.
    :param retained: snapshots left.
    :param current_snapshot_id: the table's current snapshot (never expired).
    """

    expired: list[int]
    retained: int
    current_snapshot_id: int | None


def check_expiry(expire_older_than: object, retain_last: object) -> tuple[timedelta, int]:
    """Validate the expiry arguments (before any I/O).

    :param expire_older_than: snapshots committed longer ago than this may be expired: a ``timedelta`` of
        at least one hour (the read-order rule reads its records from the snapshots kept).
    :param retain_last: the newest snapshots always kept, at least 1.
    :raises ConversationsFilterError: naming the argument and what it accepts.
    """
    if not isinstance(expire_older_than, timedelta) or expire_older_than < timedelta(hours=1):
        raise ConversationsFilterError(
            f"expire_older_than: expected a timedelta of at least 1 hour, got {expire_older_than!r}"
        )
    if isinstance(retain_last, bool) or not isinstance(retain_last, int) or retain_last < 1:
        raise ConversationsFilterError(f"retain_last: expected an int of at least 1, got {retain_last!r}")
    return expire_older_than, retain_last


def expirable(table: Table, cutoff: datetime, retain_last: int) -> list[int]:
    """The snapshots committed before ``cutoff``, except the newest ``retain_last`` and every branch or tag head.

    :param table: the table, as loaded.
    :param cutoff: aware datetime.
    :param retain_last: the newest snapshots always kept.
    """
    snapshots = sorted(table.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0))
    keep = {s.snapshot_id for s in snapshots[-retain_last:]}
    keep |= {ref.snapshot_id for ref in table.metadata.refs.values()}  # branch and tag heads: main's is current
    cutoff_ms = int(cutoff.timestamp() * 1000)
    return [s.snapshot_id for s in snapshots if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep]


def expire_snapshots(
    catalog: Catalog, identifier: str, *, cutoff: datetime, retain_last: int = 1, attempts: int = 5
) -> ExpiryResult:
    """Remove the table's snapshots committed before ``cutoff`` (keeping the newest ``retain_last``).

    A commit of another writer meanwhile makes the attempt conflict; it is redone on the new head.

    :param catalog: the catalog.
    :param identifier: ``"namespace.table"``.
    :param cutoff: aware datetime: older snapshots may go.
    :param retain_last: the newest snapshots always kept (at least 1).
    :param attempts: attempts when other writers commit meanwhile.
    :raises ConversationsIcebergError: the table does not exist, or the expiry kept conflicting.
    """
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError

    for attempt in range(1, attempts + 1):
        try:
            table = catalog.load_table(identifier)
        except NoSuchTableError:
            raise ConversationsIcebergError(f"table: Iceberg table {identifier} does not exist") from None
        expired = expirable(table, cutoff, retain_last)
        if expired:
            try:
                table.maintenance.expire_snapshots().by_ids(expired).commit()
            except CommitFailedException as err:
                if attempt == attempts:
                    raise ConversationsIcebergError(
                        f"table {identifier}: the snapshot expiry still conflicted after {attempt} attempts ({err})"
                    ) from err
                log.info("Expiry on %s conflicted with another writer; attempt %d", identifier, attempt + 1)
                continue
            table = catalog.load_table(identifier)
        current = table.current_snapshot()
        return ExpiryResult(expired, len(table.snapshots()), current.snapshot_id if current else None)
    raise AssertionError("unreachable")
