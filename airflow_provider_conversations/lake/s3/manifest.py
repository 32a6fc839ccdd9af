"""A window's manifest: the committed version's parts, and when the read that produced them began."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError
from airflow_provider_conversations.lake.destination import WindowParts
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.schema import schema_description
from airflow_provider_conversations.timestamps import format_timestamp, parse_timestamp

MANIFEST_VERSION = 1


def manifest_bytes(parts: WindowParts, layout: PartitionLayout, filters: dict[str, Any]) -> bytes:
    """The window's manifest. For the same records and the same read start, the same bytes.

    A Parquet window's manifest also records ``file_format`` and the files' ``schema``.

    :param parts: the window's version: its parts, their keys (``parts.staged``) and its read start.
    :param layout: the table's key names.
    :param filters: the filters of the read, by field name (``ConversationFilters.as_dict()``).
    """
    body: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "complete": True,
        "created_at_gte": format_timestamp(parts.window.start),
        "created_at_lt": format_timestamp(parts.window.end),
        "read_started_at": format_timestamp(parts.read_started),
        "record_count": parts.records,
        "compression": layout.compression,
        "filters": filters,
        "parts": [
            {"key": key, "records": p.records, "bytes": p.size, "md5": p.md5}
            for key, p in zip(parts.staged, parts.parts, strict=True)
        ],
    }
    if layout.file_format != "jsonl":
        body["file_format"] = layout.file_format
        body["schema"] = schema_description(layout.file_format, layout.schema)
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class CommittedVersion:
    """What a window's manifest says about its committed version.

    :param key: the manifest's key.
    :param read_started: when its read began (``None`` in a manifest without it: any read replaces it).
    :param parts: its data objects' keys.
    """

    key: str
    read_started: datetime | None
    parts: frozenset[str]


def parse_manifest(key: str, raw: bytes) -> CommittedVersion:
    """Read a manifest's read start and part keys.

    :param key: the manifest's key, for messages.
    :param raw: its bytes.
    :raises ConversationsDestinationError: not a manifest this package wrote.
    """
    try:
        body = json.loads(raw)
        started = body.get("read_started_at")
        return CommittedVersion(
            key,
            parse_timestamp(started, "read_started_at") if started else None,
            frozenset(str(p["key"]) for p in body["parts"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ConversationsDestinationError(
            f"{key}: not a readable manifest ({type(err).__name__}); delete it to let the window be rewritten"
        ) from None
