"""The data file formats (JSONL, Parquet): their names, compressions, extensions and part writers.

Every writer is a :class:`~.parts.PartWriter` (one lifecycle: parts rolled at ``max_records``, hashed
while written); a format only encodes records.

pyarrow is needed for Parquet only, and imported only when a Parquet part is written
(:func:`require_pyarrow` checks for it before any I/O).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.jsonl import JsonlPartWriter
from airflow_provider_conversations.lake.parts import LocalPart, PartWriter
from airflow_provider_conversations.lake.schema import CONVERSATIONS_SCHEMA, TableSchema

__all__ = [
    "COMPRESSIONS",
    "FILE_FORMATS",
    "LocalPart",
    "PartWriter",
    "check_compression",
    "check_file_format",
    "extension",
    "new_part_writer",
    "require_pyarrow",
]

FILE_FORMATS: tuple[str, ...] = ("jsonl", "parquet")

#: Allowed ``compression`` per format: gzip around the whole JSONL file, or Parquet's own column codecs.
COMPRESSIONS: dict[str, tuple[str | None, ...]] = {
    "jsonl": (None, "gzip"),
    "parquet": (None, "snappy", "gzip", "zstd"),
}


def check_file_format(file_format: object) -> str:
    """Return ``file_format`` if it is ``"jsonl"`` or ``"parquet"``, else raise a clear error.

    :param file_format: the value to check.
    :raises ConversationsFilterError: naming the value and the allowed ones.
    """
    if file_format not in FILE_FORMATS:
        allowed = ", ".join(repr(f) for f in FILE_FORMATS)
        raise ConversationsFilterError(f"file_format: {file_format!r} is not supported; allowed: {allowed}")
    return str(file_format)


def check_compression(compression: object, file_format: str = "jsonl") -> str | None:
    """Return ``compression`` if ``file_format`` allows it (``"none"`` means ``None``), else raise a clear error.

    :param compression: the value to check.
    :param file_format: ``"jsonl"`` or ``"parquet"``.
    :raises ConversationsFilterError: naming the value and what the format allows.
    """
    if compression in ("", "none", "None"):
        return None
    allowed = COMPRESSIONS[check_file_format(file_format)]
    if compression not in allowed:
        names = ", ".join(repr(c) if c else "None" for c in allowed)
        where = "" if file_format == "jsonl" else f" with file_format={file_format!r}"
        raise ConversationsFilterError(f"compression: {compression!r} is not supported{where}; allowed: {names}")
    return compression


def extension(file_format: str, compression: str | None) -> str:
    """The extension of the data objects: ``.jsonl``, ``.jsonl.gz`` or ``.parquet`` (codecs are inside)."""
    if file_format == "parquet":
        return ".parquet"
    return ".jsonl.gz" if compression == "gzip" else ".jsonl"


def require_pyarrow(file_format: str) -> None:
    """Raise a clear error if ``file_format`` needs pyarrow and it is not installed.

    :param file_format: ``"jsonl"`` or ``"parquet"``.
    :raises ConversationsFilterError: ``file_format='parquet'`` without pyarrow.
    """
    if file_format != "parquet":
        return
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ConversationsFilterError(
            "file_format: 'parquet' needs pyarrow, which is not installed; "
            "install it with: pip install 'airflow-provider-conversations[parquet]'"
        ) from None


def new_part_writer(
    directory: Path,
    *,
    file_format: str,
    compression: str | None,
    max_records: int,
    on_part: Callable[[LocalPart], None] | None = None,
    schema: TableSchema = CONVERSATIONS_SCHEMA,
) -> PartWriter:
    """A writer of local part files of ``file_format``.

    :param directory: where part files are created.
    :param file_format: ``"jsonl"`` or ``"parquet"``.
    :param compression: one of :data:`COMPRESSIONS` of the format.
    :param max_records: records per part, at most.
    :param on_part: called with each part as soon as it is finished.
    :param schema: the records (the columns of a typed format).
    """
    if file_format == "parquet":
        from airflow_provider_conversations.lake.parquet import ParquetPartWriter

        return ParquetPartWriter(
            directory, compression=compression, max_records=max_records, on_part=on_part, schema=schema
        )
    return JsonlPartWriter(directory, compression=compression, max_records=max_records, on_part=on_part)
