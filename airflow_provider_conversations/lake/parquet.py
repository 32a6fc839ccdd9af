"""Write records as Parquet parts on local disk: one fixed typed schema, bounded memory, deterministic bytes.

Needs pyarrow (the ``[parquet]`` extra); :func:`airflow_provider_conversations.lake.formats.require_pyarrow`
checks for it before any I/O.

Every file has the same schema (:func:`arrow_schema`, built from :data:`~.schema.CONVERSATION_FIELDS`),
whatever is null in it. Nothing the API returned is lost:

* a field with a column whose value fits the column's type exactly goes into that column
  (timestamps as UTC instants with microseconds; integers as int64; references as structs);
* every other field (one the API added after this schema, or a value that does not fit, such as
  a float ``duration`` or a reference with more keys) goes into the ``extra_json`` column, a JSON
  object of those fields as the API returned them; the field's own column is null then.

A reader rebuilds a record as: every column but ``extra_json``, then the fields of ``extra_json``
over them. (A field the API left out altogether reads back as null.)
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.lake.jsonl import LocalPart
from airflow_provider_conversations.lake.schema import CONVERSATION_FIELDS, EXTRA_JSON, REFERENCE_KEYS
from airflow_provider_conversations.timestamps import parse_api_timestamp

if TYPE_CHECKING:
    import pyarrow as pa

# ISO-8601 with a time and an offset, at most microseconds: what a timestamp column holds without loss.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})")
_INT64 = (-(2**63), 2**63 - 1)
_MISSING = object()


def arrow_schema() -> pa.Schema:
    """The schema of every Parquet part: the reference's fields, then ``extra_json``."""
    import pyarrow as pa

    reference = pa.struct([pa.field(key, pa.string()) for key in REFERENCE_KEYS])
    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "reference": reference,
    }
    fields = [pa.field(f.name, types[f.kind], metadata={"description": f.description}) for f in CONVERSATION_FIELDS]
    return pa.schema([*fields, pa.field(EXTRA_JSON, pa.string())])


def _convert(kind: str, value: Any) -> Any:
    """``value`` as its column holds it, or ``_MISSING`` if the column cannot hold it without loss."""
    if kind == "string":
        return value if type(value) is str else _MISSING
    if kind == "integer":
        return value if type(value) is int and _INT64[0] <= value <= _INT64[1] else _MISSING
    if kind == "boolean":
        return value if type(value) is bool else _MISSING
    if kind == "timestamp":
        if type(value) is not str or not _TIMESTAMP.fullmatch(value):
            return _MISSING
        try:
            return parse_api_timestamp(value, "timestamp")
        except ValueError:  # e.g. February 30th
            return _MISSING
    # a reference: exactly its keys, each a string or null
    fits = type(value) is dict and len(value) == len(REFERENCE_KEYS) and set(value) == set(REFERENCE_KEYS)
    return value if fits and all(v is None or type(v) is str for v in value.values()) else _MISSING


_KINDS = {f.name: f.kind for f in CONVERSATION_FIELDS}


def to_row(record: dict[str, Any]) -> dict[str, Any]:
    """Split one record into its typed columns and ``extra_json`` (see the module docstring).

    :param record: the record, exactly as the API returned it.
    :return: a dict with every column of :func:`arrow_schema`.
    """
    row: dict[str, Any] = dict.fromkeys(_KINDS)
    extra: dict[str, Any] = {}
    for name, value in record.items():
        kind = _KINDS.get(name)
        if kind is None:
            extra[name] = value
        elif value is not None:
            converted = _convert(kind, value)
            if converted is _MISSING:
                extra[name] = value
            else:
                row[name] = converted
    row[EXTRA_JSON] = json.dumps(extra, ensure_ascii=False, separators=(",", ":")) if extra else None
    return row


class ParquetPartWriter:
    """Write records into Parquet parts of at most ``max_records`` records, ``BATCH_ROWS`` rows at a time.

    Rows are converted and written in batches (one row group each), so memory holds one batch, not the
    part. The same records give the same bytes (pyarrow writes no time or path into the file).

    :param directory: where part files are created.
    :param compression: ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"`` (Parquet's column codec).
    :param max_records: records per part, at most.
    """

    #: Rows per row group: a row group is written as soon as it is full.
    BATCH_ROWS = 10_000

    def __init__(self, directory: Path, *, compression: str | None, max_records: int) -> None:
        self.directory, self.compression, self.max_records = directory, compression, max_records
        self.parts: list[LocalPart] = []
        self._schema = arrow_schema()
        self._writer: Any = None
        self._path: Path | None = None
        self._rows: list[dict[str, Any]] = []
        self._count = 0

    def _open(self) -> None:
        import pyarrow.parquet as pq

        self._path = self.directory / f"part-{len(self.parts):05d}.parquet"
        self._writer = pq.ParquetWriter(self._path, self._schema, compression=self.compression or "none")
        self._count = 0

    def _flush(self) -> None:
        if self._rows:
            import pyarrow as pa

            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows.clear()

    def _close(self) -> None:
        if self._writer is None:
            return
        self._flush()
        self._writer.close()
        self._writer = None
        assert self._path is not None
        md5, size = hashlib.md5(usedforsecurity=False), 0
        with open(self._path, "rb") as f:
            while block := f.read(1 << 20):
                md5.update(block)
                size += len(block)
        self.parts.append(LocalPart(self._path, self._count, size, md5.hexdigest()))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (exactly as the API returned it)."""
        if self._writer is None:
            self._open()
        self._rows.append(to_row(record))
        self._count += 1
        if len(self._rows) >= self.BATCH_ROWS:
            self._flush()
        if self._count >= self.max_records:
            self._close()

    def close(self) -> list[LocalPart]:
        """Finish the open part and return every part (none when no record was written)."""
        self._close()
        return self.parts
