"""Write records as Parquet parts on local disk: one fixed typed schema, bounded memory, deterministic bytes.

Needs pyarrow (the ``[parquet]`` extra); :func:`airflow_provider_conversations.lake.formats.require_pyarrow`
checks for it before any I/O.

Every file of a table has the same schema (:func:`arrow_schema`, built from the table's
:class:`~.schema.TableSchema`; conversations by default), whatever is null in it. Nothing the API returned is lost, and no value stops a part from being written:

* a field with a column whose value fits the column's type exactly goes into that column
  (timestamps as UTC instants with microseconds; integers as int64; numbers as doubles, integers
  among them too when a double holds them exactly; references as structs);
* every other field goes into the ``extra_json`` column, a JSON object of those fields as the API
  returned them; the field's own column is null then. That is a field the API added after this
  schema, or a value that does not fit: a float ``duration`` or one beyond int64, a reference with
  more keys, a timestamp with nanoseconds or outside years 1 to 9999 UTC, a string with a lone
  surrogate (which Parquet's UTF-8 cannot hold). Each value that does not fit is logged at WARNING
  with the record's id and the field (:class:`MisfitLog`).

``extra_json`` is standard JSON written by :func:`~airflow_provider_conversations.api.codec.encode`:
numbers as the API wrote them (``1e400`` stays ``1e400``, never ``Infinity``), the tokens ``NaN`` and
``Infinity`` that JSON lacks as strings (``"NaN"``), a lone surrogate as its ``\\udXXX`` escape.

A reader rebuilds a record as: every column but ``extra_json``, then the fields of ``extra_json``
over them (:func:`from_row`). (A field the API left out altogether reads back as null.)
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.api.codec import decode, encode
from airflow_provider_conversations.lake.parts import HashingFile, LocalPart, PartWriter
from airflow_provider_conversations.lake.schema import CONVERSATIONS_SCHEMA, EXTRA_JSON, REFERENCE_KEYS, TableSchema
from airflow_provider_conversations.timestamps import parse_api_timestamp

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

# ISO-8601 with a time and an offset, at most microseconds: what a timestamp column holds without loss.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})")
_INT64 = (-(2**63), 2**63 - 1)
_MISSING = object()

#: Called with a record's key (:meth:`~.schema.TableSchema.row_key`) and a field name when the field's
#: value does not fit its column.
OnMisfit = Callable[[Any, str], None]


def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a column of ``kind`` (see :data:`~.schema.ARROW_TYPES`).

    :param kind: a key of :data:`~.schema.ARROW_TYPES`.
    """
    import pyarrow as pa

    if kind == "reference":
        return pa.struct([pa.field(key, pa.string()) for key in REFERENCE_KEYS])
    types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "json": pa.string(),
    }
    return types[kind]


def arrow_schema(schema: TableSchema = CONVERSATIONS_SCHEMA) -> pa.Schema:
    """The schema of every Parquet part of a table: a field per column of ``schema``, in its order.

    The record's fields carry their description as field metadata (``b"description"``); ``extra_json``
    carries none.

    :param schema: the table's records (:attr:`~.schema.TableSchema.columns`).
    """
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(c.name, arrow_type(c.kind), metadata=None if c.kind == "json" else {"description": c.description})
            for c in schema.columns
        ]
    )


def _utf8(text: str) -> bool:
    """Whether UTF-8 can carry ``text`` (it has no lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# One converter per kind of column: the value as the column holds it, or _MISSING if the column
# cannot hold it without loss.


def _string(value: Any) -> Any:
    return value if type(value) is str and (value.isascii() or _utf8(value)) else _MISSING


def _integer(value: Any) -> Any:
    return value if type(value) is int and _INT64[0] <= value <= _INT64[1] else _MISSING


_DOUBLE_INT = 2**53  # integers a double holds exactly


def _number(value: Any) -> Any:
    # a float as decoded (a JsonNumber is a number no float holds exactly), or an integer a double holds
    if type(value) is float:
        return value
    return float(value) if type(value) is int and -_DOUBLE_INT <= value <= _DOUBLE_INT else _MISSING


def _boolean(value: Any) -> Any:
    return value if type(value) is bool else _MISSING


def _timestamp(value: Any) -> Any:
    if type(value) is not str:
        return _MISSING
    # The API's own form (2025-02-13T22:11:57.792000Z) is microseconds by its shape; others are checked.
    api_form = len(value) == 27 and value[10] == "T" and value[19] == "." and value[26] == "Z"
    if not api_form and not _TIMESTAMP.fullmatch(value):
        return _MISSING
    try:
        return parse_api_timestamp(value, "timestamp")
    except ValueError:  # February 30th; year 0; beyond 9999-12-31 once in UTC
        return _MISSING


_REFERENCE_KEYS = frozenset(REFERENCE_KEYS)


def _reference(value: Any) -> Any:
    # exactly the reference's keys, each a string or null
    if type(value) is not dict or value.keys() != _REFERENCE_KEYS:
        return _MISSING
    for v in value.values():
        if v is not None and _string(v) is _MISSING:
            return _MISSING
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": _boolean,
    "timestamp": _timestamp,
    "reference": _reference,
}


@cache
def _converters(schema: TableSchema) -> dict[str, Callable[[Any], Any]]:
    return {f.name: _CONVERTERS[f.kind] for f in schema.fields}


def _misfit_warner(schema: TableSchema) -> OnMisfit:
    kinds = {f.name: f.kind for f in schema.fields}

    def warn(record_key: Any, field: str) -> None:
        log.warning(
            "%s %r: the value of %s does not fit its column (%s); the column is null and extra_json "
            "keeps the value as the API sent it",
            schema.name.capitalize(),
            record_key,
            field,
            kinds[field],
        )

    return warn


def to_row(
    record: dict[str, Any], on_misfit: OnMisfit | None = None, schema: TableSchema = CONVERSATIONS_SCHEMA
) -> dict[str, Any]:
    """Split one record into its typed columns and ``extra_json`` (see the module docstring).

    :param record: the record, exactly as the API returned it.
    :param on_misfit: called with the record's key and the field's name for each value that does not fit
        its column; by default each is logged at WARNING.
    :param schema: the table's records.
    :return: a dict with every column of :func:`arrow_schema`, ready for ``pyarrow.Table.from_pylist``.
    """
    fields = _converters(schema)
    row: dict[str, Any] = dict.fromkeys(fields)
    extra: dict[str, Any] = {}
    for name, value in record.items():
        convert = fields.get(name)
        if convert is None:
            extra[name] = value
        elif value is not None:
            converted = convert(value)
            if converted is _MISSING:
                extra[name] = value
                (on_misfit or _misfit_warner(schema))(schema.row_key(record), name)
            else:
                row[name] = converted
    row[EXTRA_JSON] = encode(extra).decode("utf-8") if extra else None
    return row


def from_row(row: dict[str, Any]) -> dict[str, Any]:
    """Rebuild a record from a row read back from a part: its columns, then the fields of ``extra_json`` over them.

    Timestamps come back in the API's form (``2025-02-13T22:11:57.792000Z``); writing the record again
    with :func:`to_row` gives the same row.

    :param row: a row as ``pyarrow.Table.to_pylist`` gives it.
    """
    record = {
        name: value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(value, datetime) else value
        for name, value in row.items()
        if name != EXTRA_JSON
    }
    extra = row.get(EXTRA_JSON)
    if extra:
        record.update(decode(extra.encode("utf-8")))
    return record


class MisfitLog:
    """Log the values that do not fit their column: the first ``limit`` one WARNING each, then a count.

    Pass it as ``on_misfit`` to :func:`to_row`; :meth:`summary` logs what was not logged one by one.

    :param limit: values logged one by one.
    :param schema: the table's records (named in the log lines).
    """

    def __init__(self, limit: int = 20, schema: TableSchema = CONVERSATIONS_SCHEMA) -> None:
        self.limit = limit
        self.fields: Counter[str] = Counter()
        self._warn = _misfit_warner(schema)

    def __call__(self, record_key: Any, field: str) -> None:
        """Count a value that did not fit; log it if it is among the first ``limit``."""
        self.fields[field] += 1
        if self.fields.total() <= self.limit:
            self._warn(record_key, field)

    def summary(self) -> None:
        """Log, at WARNING, how many values beyond the first ``limit`` did not fit, per field."""
        total = self.fields.total()
        if total > self.limit:
            per_field = ", ".join(f"{name}: {count}" for name, count in sorted(self.fields.items()))
            log.warning(
                "%d more values did not fit their columns and were kept in extra_json (%d in all; %s)",
                total - self.limit,
                total,
                per_field,
            )


class ParquetPartWriter(PartWriter):
    """Write records into Parquet parts of at most ``max_records`` records, ``BATCH_ROWS`` rows at a time.

    Rows are converted and written in batches (one row group each), so memory holds one batch, not the
    part. The same records give the same bytes (pyarrow writes no time or path into the file).

    :param directory: where part files are created.
    :param compression: ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"`` (Parquet's column codec).
    :param max_records: records per part, at most.
    :param schema: the table's records (conversations by default).
    """

    #: Rows per row group: a row group is written as soon as it is full.
    BATCH_ROWS = 10_000
    SUFFIX = ".parquet"

    def __init__(self, directory: Path, *, schema: TableSchema = CONVERSATIONS_SCHEMA, **options: Any) -> None:
        super().__init__(directory, **options)
        self.table_schema = schema
        self.schema = arrow_schema(schema)
        self.misfits = MisfitLog(schema=schema)
        self._writer: Any = None
        self._rows: list[dict[str, Any]] = []

    def close(self) -> list[LocalPart]:
        """Finish the open part, log the count of values that did not fit, and return every part."""
        parts = super().close()
        self.misfits.summary()
        return parts

    def _start(self, out: HashingFile) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(out, self.schema, compression=self.compression or "none")

    def _add(self, record: dict[str, Any]) -> None:
        self._rows.append(to_row(record, self.misfits, self.table_schema))
        if len(self._rows) >= self.BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            import pyarrow as pa

            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows.clear()

    def _finish(self) -> None:
        self._flush()
        self._writer.close()
        self._writer = None
