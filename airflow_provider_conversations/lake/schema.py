"""The fields and types of each table's records: conversations, and the transcripts' sentences and transcriptions.

The one source of column names and types. A :class:`TableSchema` (:data:`CONVERSATIONS_SCHEMA`,
:data:`SENTENCES_SCHEMA`, :data:`TRANSCRIPTIONS_SCHEMA`) holds a record's fields; its
:attr:`~TableSchema.columns` (those fields, then :data:`EXTRA_JSON`) feed the Parquet schema
(:func:`.parquet.arrow_schema`), the schema recorded in manifests and the OpenLineage schema facet
(:mod:`~airflow_provider_conversations.utils.lineage`). A typed table of another kind (Iceberg) derives
its schema from the columns the same way: one column per entry, in this order, every column nullable,
each :attr:`~SchemaField.kind` mapped to the table's type. Pure: no pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The kinds of column, and the Arrow type each becomes in Parquet: ``"string"`` UTF-8 text,
#: ``"integer"`` a signed 64-bit integer, ``"number"`` a 64-bit float, ``"boolean"``, ``"timestamp"`` a UTC instant with
#: microseconds, ``"reference"`` a struct of :data:`REFERENCE_KEYS` (strings), ``"json"`` a JSON text.
ARROW_TYPES: dict[str, str] = {
    "string": "string",
    "integer": "int64",
    "number": "double",
    "boolean": "bool",
    "timestamp": "timestamp[us, tz=UTC]",
    "reference": "struct<id: string, _href: string>",
    "json": "string",
}

#: The keys of a reference object (``account``, ``person``, ...), in the reference's order.
REFERENCE_KEYS: tuple[str, ...] = ("id", "_href")

#: The Parquet column holding, as a JSON object, every field of a record that has no column of its own
#: or whose value does not fit its column's type (the column is null then).
EXTRA_JSON = "extra_json"


@dataclass(frozen=True)
class SchemaField:
    """One field of a record.

    :param name: the field name, as the API spells it.
    :param kind: one of the keys of :data:`ARROW_TYPES`.
    :param description: what the reference says it is.
    """

    name: str
    kind: str
    description: str

    @property
    def arrow_type(self) -> str:
        """The field's Arrow type, as pyarrow prints it."""
        return ARROW_TYPES[self.kind]


def _ref(name: str, what: str) -> SchemaField:
    return SchemaField(name, "reference", f"Reference to the {what}: id and _href")


#: Every field of the reference's response schema, in its order.
CONVERSATION_FIELDS: tuple[SchemaField, ...] = (
    SchemaField("id", "string", "UUID of the Conversation"),
    SchemaField("duration", "integer", "Duration of the Conversation in milliseconds"),
    SchemaField("is_api", "boolean", "Whether the Conversation was generated through the API"),
    SchemaField("platform", "string", "Source of the Conversation (zoom, ms_teams, ...)"),
    SchemaField("media_type", "string", "audio or video"),
    SchemaField("organization_id", "string", "ID of the Organization"),
    SchemaField("title", "string", "Title of the Conversation"),
    SchemaField("owner_id", "string", "ID of the owner"),
    SchemaField("user_guid", "string", "ID of the user"),
    SchemaField("started_recording_at", "integer", "Start of the recording, epoch milliseconds"),
    SchemaField("event_end_date", "timestamp", "When the Conversation ended"),
    SchemaField("event_start_date", "timestamp", "When the Conversation started"),
    SchemaField("language_code", "string", "BCP-47 language code of the transcription"),
    SchemaField("created_at", "timestamp", "When the Conversation was created"),
    SchemaField("updated_at", "timestamp", "When the Conversation was last updated"),
    SchemaField("call_id", "string", "Id of the call data record"),
    _ref("account", "Account"),
    _ref("person", "People"),
    _ref("recording", "Recording artifact"),
    _ref("transcription", "transcription"),
    _ref("transcription_sentences", "transcription sentences"),
    _ref("transcription_artifact", "transcription artifact"),
)


#: The column of a typed table that keeps, as a JSON object, the fields without a column of their own.
EXTRA_JSON_COLUMN = SchemaField(
    EXTRA_JSON, "json", "The record's fields without a column, or whose value does not fit its column, as a JSON object"
)

#: The fields of a transcription (``GET /v2/transcriptions``), in the API's order.
TRANSCRIPTION_FIELDS: tuple[SchemaField, ...] = (
    SchemaField("id", "string", "ID of the transcription"),
    SchemaField("language_code", "string", "BCP-47 language code of the transcription"),
    SchemaField("created_at", "timestamp", "When the transcription was created"),
    SchemaField("updated_at", "timestamp", "When the transcription was last updated (moves when it is reprocessed)"),
    _ref("conversation", "Conversation"),
    _ref("transcription_sentences", "transcription's sentences"),
    _ref("transcription_artifact", "transcription artifact"),
)

#: The fields of a sentence row: the sentence as ``/v2/transcriptions/{id}/sentences`` returns it, then the
#: three keys the hook adds (:data:`~airflow_provider_conversations.reading.sentences.ADDED_KEYS`), then the
#: transcription's ``created_at``, which the export adds: the row's window and partition.
SENTENCE_FIELDS: tuple[SchemaField, ...] = (
    SchemaField("id", "string", "ID of the transcription (the same on every sentence of it)"),
    SchemaField("start_time", "number", "When the sentence starts in the recording"),
    SchemaField("end_time", "number", "When the sentence ends in the recording"),
    SchemaField("order_number", "integer", "The sentence's order number (missing in older data)"),
    SchemaField("recording_attendee_id", "string", "ID of the attendee who said it"),
    SchemaField("text", "string", "What was said"),
    _ref("conversation", "Conversation"),
    SchemaField("transcription_id", "string", "ID of the transcription (added by the export)"),
    SchemaField("conversation_id", "string", "ID of the transcription's conversation (added by the export)"),
    SchemaField(
        "sentence_index", "integer", "0-based position in the API's order; with transcription_id the row's key"
    ),
    SchemaField(
        "transcription_created_at",
        "timestamp",
        "The transcription's created_at: the row's window (added by the export)",
    ),
)


@dataclass(frozen=True)
class TableSchema:
    """The record fields of one kind of table, and the fields that name a record in log lines.

    :param name: what one row is, for log lines (``"conversation"``, ``"sentence"``, ...).
    :param fields: the record's fields, in order.
    :param key: the fields that identify a row (a typed table sorts its rows by them within a window).
    :param window_field: the timestamp field the table is windowed and partitioned by.
    """

    name: str
    fields: tuple[SchemaField, ...]
    key: tuple[str, ...] = ("id",)
    window_field: str = "created_at"

    @property
    def columns(self) -> tuple[SchemaField, ...]:
        """The columns of a typed table (Parquet parts), in order: every field, then ``extra_json``."""
        return (*self.fields, EXTRA_JSON_COLUMN)

    def row_key(self, record: dict[str, Any]) -> Any:
        """What names ``record`` in a log line: its :attr:`key` value (a tuple of them for several fields).

        :param record: a record of this table.
        """
        values = tuple(record.get(name) for name in self.key)
        return values[0] if len(values) == 1 else values


#: The conversations table.
CONVERSATIONS_SCHEMA = TableSchema("conversation", CONVERSATION_FIELDS)
#: The transcripts' transcriptions table.
TRANSCRIPTIONS_SCHEMA = TableSchema("transcription", TRANSCRIPTION_FIELDS)
#: The transcripts' sentences table (a row is named by its transcription and position).
SENTENCES_SCHEMA = TableSchema(
    "sentence", SENTENCE_FIELDS, key=("transcription_id", "sentence_index"), window_field="transcription_created_at"
)

#: The columns of a conversations table in Parquet, in order: every field of the record, then ``extra_json``.
TABLE_COLUMNS: tuple[SchemaField, ...] = CONVERSATIONS_SCHEMA.columns


def schema_description(file_format: str, schema: TableSchema = CONVERSATIONS_SCHEMA) -> list[dict[str, Any]]:
    """The columns of the data objects of ``file_format``, as ``{"name", "type", "description"}`` dicts.

    Parquet gets the Arrow types and the :data:`EXTRA_JSON` column. JSONL holds each record as the
    API returned it, so its types are the JSON ones (timestamps are ISO-8601 strings there).

    :param file_format: ``"jsonl"`` or ``"parquet"``.
    :param schema: the table's records.
    """
    if file_format == "parquet":
        return [{"name": f.name, "type": f.arrow_type, "description": f.description} for f in schema.columns]
    json_types = {
        "string": "string",
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "timestamp": "string",
    }
    return [
        {"name": f.name, "type": json_types.get(f.kind, "object"), "description": f.description} for f in schema.fields
    ]
