"""The conversation record's fields and types, from the API reference (``GET /v2/conversations``).

The one source of column names and types: :data:`CONVERSATION_FIELDS` (the record's fields) and
:data:`TABLE_COLUMNS` (a typed table's columns: those fields, then :data:`EXTRA_JSON`) feed the Parquet
schema (:func:`.parquet.arrow_schema`), the schema recorded in manifests and the OpenLineage schema
facet (:mod:`~airflow_provider_conversations.utils.lineage`). A typed table of another kind (Iceberg)
derives its schema from :data:`TABLE_COLUMNS` the same way: one column per entry, in this order, every
column nullable, each :attr:`~SchemaField.kind` mapped to the table's type. Pure: no pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The kinds of column, and the Arrow type each becomes in Parquet: ``"string"`` UTF-8 text,
#: ``"integer"`` a signed 64-bit integer, ``"boolean"``, ``"timestamp"`` a UTC instant with
#: microseconds, ``"reference"`` a struct of :data:`REFERENCE_KEYS` (strings), ``"json"`` a JSON text.
ARROW_TYPES: dict[str, str] = {
    "string": "string",
    "integer": "int64",
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
    """One field of a conversation record.

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

#: The columns of a typed table (Parquet parts), in order: every field of the record, then ``extra_json``.
TABLE_COLUMNS: tuple[SchemaField, ...] = (*CONVERSATION_FIELDS, EXTRA_JSON_COLUMN)


def schema_description(file_format: str) -> list[dict[str, Any]]:
    """The columns of the data objects of ``file_format``, as ``{"name", "type", "description"}`` dicts.

    Parquet gets the Arrow types and the :data:`EXTRA_JSON` column. JSONL holds each record as the
    API returned it, so its types are the JSON ones (timestamps are ISO-8601 strings there).

    :param file_format: ``"jsonl"`` or ``"parquet"``.
    """
    if file_format == "parquet":
        return [{"name": f.name, "type": f.arrow_type, "description": f.description} for f in TABLE_COLUMNS]
    json_types = {"string": "string", "integer": "integer", "boolean": "boolean", "timestamp": "string"}
    return [
        {"name": f.name, "type": json_types.get(f.kind, "object"), "description": f.description}
        for f in CONVERSATION_FIELDS
    ]
