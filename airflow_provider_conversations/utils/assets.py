"""Asset events of the export: tell consumers which windows were committed (``outlet_events[asset].extra``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def table_asset_uri(bucket: str, prefix: str) -> str:
    """The URI of the table's Asset: ``s3://<bucket>/<prefix>``.

    :param bucket: destination bucket.
    :param prefix: the table's key prefix (``s3://<bucket>/`` for the bucket root).
    """
    return f"s3://{bucket}/{prefix.strip('/')}"


def _same_uri(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def add_table_event_extra(context: Mapping[str, Any], outlets: Iterable[Any], uri: str, extra: dict[str, Any]) -> int:
    """Put ``extra`` on the event of every outlet of the task whose URI is the table's.

    Outlets of other URIs, and aliases, are left alone; without ``outlet_events`` in the context
    (a task run outside Airflow) nothing happens. When ``extra`` holds a ``partition_key`` (a
    partitioned run, Airflow 3.2 and later), the event is also marked with that partition.

    :param context: the task's context.
    :param outlets: the task's ``outlets``.
    :param uri: the table's asset URI (:func:`table_asset_uri`).
    :param extra: JSON-serialisable metadata of the export.
    :return: how many outlet events got ``extra``.
    """
    events = context.get("outlet_events")
    if events is None:
        return 0
    matched = 0
    for outlet in outlets:
        outlet_uri = getattr(outlet, "uri", None)
        if isinstance(outlet_uri, str) and _same_uri(outlet_uri, uri):
            event = events[outlet]
            event.extra.update(extra)
            if extra.get("partition_key") and hasattr(event, "add_partitions"):
                event.add_partitions(str(extra["partition_key"]))
            matched += 1
    return matched


def committed_manifests(triggering_events: Mapping[Any, Iterable[Any]]) -> list[str]:
    """The manifest keys carried by the asset events that triggered a consumer's run, in order, each once.

    Each manifest commits one window and lists exactly the data objects of that window; read those,
    not a listing or glob of the prefix.

    :param triggering_events: the context's ``triggering_asset_events`` (Airflow 3) or
        ``triggering_dataset_events`` (Airflow 2.11): events per asset.
    """
    keys: dict[str, None] = {}
    for events in triggering_events.values():
        for event in events:
            for key in (getattr(event, "extra", None) or {}).get("manifests", []):
                keys[key] = None
    return list(keys)
