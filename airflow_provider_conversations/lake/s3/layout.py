"""Where a window's objects live in S3. Pure: key names only.

``{prefix}/date=YYYY-MM-DD/part-{HHMMSS}-{HHMMSS}-{NNNNN}-{hash}.jsonl[.gz]`` (or ``.parquet``) hold the
data; ``{prefix}/date=YYYY-MM-DD/_manifest-{HHMMSS}-{HHMMSS}.json`` lists the committed version's parts.
A part's name comes from its window, its number and its content (``hash``: the first 16 hex digits of
its MD5), so a rerun over unchanged records writes the same keys, and a new version never overwrites
a part the committed version lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.formats import check_compression, check_file_format, extension
from airflow_provider_conversations.lake.schema import CONVERSATIONS_SCHEMA, TableSchema
from airflow_provider_conversations.lake.settings import check_s3_prefix
from airflow_provider_conversations.lake.windows import Window

__all__ = ["HASH_DIGITS", "PartitionLayout", "check_compression"]

#: Hex digits of a part's MD5 in its key: enough that two versions of a window never share a key by chance.
HASH_DIGITS = 16


def _clock(ts: datetime, day_start: datetime) -> str:
    elapsed = ts - day_start
    hours, rest = divmod(int(elapsed.total_seconds()), 3600)
    token = f"{hours:02d}{rest // 60:02d}{rest % 60:02d}"
    return f"{token}{ts.microsecond:06d}" if ts.microsecond else token


@dataclass(frozen=True)
class PartitionLayout:
    """Key names of the partitions under ``prefix``.

    :param prefix: the table's key prefix (no leading or trailing ``/``; empty for the bucket root).
    :param compression: ``None`` or ``"gzip"`` for JSONL; ``None``, ``"snappy"``, ``"gzip"`` or
        ``"zstd"`` for Parquet.
    :param file_format: ``"jsonl"`` or ``"parquet"``.
    :param schema: the records the table holds (conversations by default).
    """

    prefix: str
    compression: str | None = None
    file_format: str = "jsonl"
    schema: TableSchema = CONVERSATIONS_SCHEMA

    def __post_init__(self) -> None:
        object.__setattr__(self, "prefix", check_s3_prefix(self.prefix))
        object.__setattr__(self, "file_format", check_file_format(self.file_format))
        object.__setattr__(self, "compression", check_compression(self.compression, self.file_format))

    @property
    def extension(self) -> str:
        """``.jsonl``, ``.jsonl.gz`` or ``.parquet``: the only names our data objects end in."""
        return extension(self.file_format, self.compression)

    def partition(self, window: Window) -> str:
        """The ``date=YYYY-MM-DD`` folder of the window (its UTC date)."""
        folder = f"date={window.start:%Y-%m-%d}"
        return f"{self.prefix}/{folder}" if self.prefix else folder

    def window_token(self, window: Window) -> str:
        """``HHMMSS-HHMMSS`` of the window inside its day (``240000`` for midnight at the end)."""
        day_start = window.start.replace(hour=0, minute=0, second=0, microsecond=0)
        if window.end > day_start + timedelta(days=1):
            raise ConversationsFilterError(f"window {window.start} - {window.end} crosses a UTC midnight")
        return f"{_clock(window.start, day_start)}-{_clock(window.end, day_start)}"

    def part_prefix(self, window: Window) -> str:
        """The prefix shared by the window's data objects, and by no other window's."""
        return f"{self.partition(window)}/part-{self.window_token(window)}-"

    def part_key(self, window: Window, number: int, md5: str) -> str:
        """Key of data part ``number`` (0-based) of the window, whose content has the MD5 ``md5`` (hex)."""
        return f"{self.part_prefix(window)}{number:05d}-{md5[:HASH_DIGITS]}{self.extension}"

    def table_key(self) -> str:
        """Key of the table's shape marker (window size, format, filters), written by the first task."""
        return f"{self.prefix}/_table.json" if self.prefix else "_table.json"

    def manifest_key(self, window: Window) -> str:
        """Key of the window's manifest, written last."""
        return f"{self.partition(window)}/_manifest-{self.window_token(window)}.json"
