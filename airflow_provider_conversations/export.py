"""Export one window: API -> local JSONL parts -> S3, committed by a manifest written last.

The protocol (documented in ``docs/layout.rst``):

1. Fetch the whole window into local part files (a temp dir; memory stays bounded). Nothing in S3 is
   touched until the window is fully read, so a failure while paging leaves the previous state.
2. Delete the window's manifest: from here on the window reads as incomplete.
3. Upload the parts under their deterministic keys (overwriting), multipart for large parts.
4. Delete the window's data objects that this attempt did not write (stale parts of an earlier one).
5. Write the manifest. The window is complete, and readers may trust exactly the parts it lists.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.filters import ConversationFilters, format_timestamp
from airflow_provider_conversations.jsonl import JsonlPartWriter, LocalPart, ties_sorted_by_id
from airflow_provider_conversations.layout import PartitionLayout
from airflow_provider_conversations.windows import Window

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_conversations.hooks.conversations import ConversationsHook

MANIFEST_VERSION = 1


@dataclass
class WindowResult:
    """What one window's export did (goes to XCom through :meth:`summary`)."""

    window: Window
    records: int = 0
    pages: int = 0
    keys: list[str] = field(default_factory=list)
    manifest_key: str = ""
    deleted_stale: int = 0
    seconds: float = 0.0
    remaining_budget: int | None = None

    def summary(self) -> dict[str, Any]:
        """A small JSON-safe dict: bounds, counts and keys, never records."""
        return {
            "created_at_gte": format_timestamp(self.window.start),
            "created_at_lt": format_timestamp(self.window.end),
            "records": self.records,
            "pages": self.pages,
            "keys": self.keys,
            "manifest": self.manifest_key,
        }


def manifest_bytes(
    window: Window, layout: PartitionLayout, parts: list[LocalPart], filters: ConversationFilters
) -> bytes:
    """The window's manifest: deterministic for the same records (no wall-clock time in it)."""
    body = {
        "manifest_version": MANIFEST_VERSION,
        "complete": True,
        "created_at_gte": format_timestamp(window.start),
        "created_at_lt": format_timestamp(window.end),
        "record_count": sum(p.records for p in parts),
        "compression": layout.compression,
        "filters": filters.as_dict(),
        "parts": [
            {"key": layout.part_key(window, n), "records": p.records, "bytes": p.size, "md5": p.md5}
            for n, p in enumerate(parts)
        ],
    }
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode("utf-8")


def publish_window(
    s3: S3Hook, bucket: str, layout: PartitionLayout, window: Window, parts: list[LocalPart], manifest: bytes
) -> tuple[list[str], int]:
    """Steps 2-5 of the protocol; return the data keys written and the number of stale keys deleted."""
    manifest_key = layout.manifest_key(window)
    s3.delete_objects(bucket, [manifest_key])
    keys = [layout.part_key(window, n) for n in range(len(parts))]
    for part, key in zip(parts, keys, strict=True):
        s3.load_file(part.path, key=key, bucket_name=bucket, replace=True)
    existing = s3.list_keys(bucket_name=bucket, prefix=layout.part_prefix(window)) or []
    stale = sorted(set(existing) - set(keys))
    if stale:
        s3.delete_objects(bucket, stale)
    s3.load_bytes(manifest, key=manifest_key, bucket_name=bucket, replace=True)
    return keys, len(stale)


def export_window(
    hook: ConversationsHook,
    s3: S3Hook,
    bucket: str,
    layout: PartitionLayout,
    window: Window,
    *,
    filters: ConversationFilters,
    per_page: int = 100,
    max_records_per_file: int = 100_000,
    tmp_dir: str | Path | None = None,
) -> WindowResult:
    """Export one window (all five steps) and return what was done."""
    started = time.monotonic()
    result = WindowResult(window, manifest_key=layout.manifest_key(window))
    with tempfile.TemporaryDirectory(prefix="conversations-", dir=tmp_dir) as tmp:
        writer = JsonlPartWriter(Path(tmp), compression=layout.compression, max_records=max_records_per_file)

        def records() -> Any:
            for page, fresh in hook.iter_pages(window.start, window.end, filters, per_page=per_page):
                result.pages += 1
                result.remaining_budget = page.remaining
                yield from fresh

        for record in ties_sorted_by_id(records()):
            writer.write(record)
        parts = writer.close()
        result.records = sum(p.records for p in parts)
        manifest = manifest_bytes(window, layout, parts, filters)
        result.keys, result.deleted_stale = publish_window(s3, bucket, layout, window, parts, manifest)
    result.seconds = time.monotonic() - started
    return result
