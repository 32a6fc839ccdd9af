"""The schema table matches the API reference's response schema."""

from __future__ import annotations

import random
import re
from datetime import datetime, timezone

from airflow_provider_conversations.lake.schema import (
    ARROW_TYPES,
    CONVERSATION_FIELDS,
    CONVERSATIONS_SCHEMA,
    EXTRA_JSON,
    SENTENCES_SCHEMA,
    TABLE_COLUMNS,
    TRANSCRIPTIONS_SCHEMA,
    schema_description,
)
from airflow_provider_conversations.reading.sentences import ADDED_KEYS
from airflow_provider_conversations.testing.records import make_conversation

_REF = {"id": "string", "_href": "string"}
#: The response example ("Example (from schema)") of the reference of GET /v2/conversations, verbatim.
REFERENCE_EXAMPLE = {
    "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "duration": 0,
    "is_api": True,
    "platform": "zoom",
    "media_type": "audio",
    "organization_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "title": "string",
    "owner_id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "user_guid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "started_recording_at": 0,
    "event_end_date": "2025-02-13T22:11:57.792Z",
    "event_start_date": "2025-02-13T22:11:57.792Z",
    "language_code": "string",
    "created_at": "2025-02-13T22:11:57.792Z",
    "updated_at": "2025-02-13T22:11:57.792Z",
    "call_id": "string",
    "account": _REF,
    "person": _REF,
    "recording": _REF,
    "transcription": _REF,
    "transcription_sentences": _REF,
    "transcription_artifact": _REF,
}


def test_fields_are_the_references_in_its_order():
    example = REFERENCE_EXAMPLE
    assert [f.name for f in CONVERSATION_FIELDS] == list(example)
    for f in CONVERSATION_FIELDS:
        value = example[f.name]
        expected = {bool: "boolean", int: "integer", dict: "reference"}.get(type(value), "string")
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT.*Z", value):
            expected = "timestamp"
        assert f.kind == expected, f.name


def test_the_fake_apis_records_have_exactly_these_fields():
    rec = make_conversation(random.Random(1), datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert list(rec) == [f.name for f in CONVERSATION_FIELDS]


def test_descriptions_per_format():
    parquet = schema_description("parquet")
    assert parquet[-1]["name"] == EXTRA_JSON and len(parquet) == len(CONVERSATION_FIELDS) + 1
    assert {f["name"]: f["type"] for f in parquet}["created_at"] == "timestamp[us, tz=UTC]"
    jsonl = {f["name"]: f["type"] for f in schema_description("jsonl")}
    assert jsonl["created_at"] == "string" and jsonl["account"] == "object" and EXTRA_JSON not in jsonl


def test_a_typed_table_has_every_field_then_extra_json_with_known_kinds():
    assert [c.name for c in TABLE_COLUMNS] == [*(f.name for f in CONVERSATION_FIELDS), EXTRA_JSON]
    schemas = (CONVERSATIONS_SCHEMA, SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA)
    assert {c.kind for s in schemas for c in s.columns} == set(ARROW_TYPES)  # every kind is used, none is unknown
    assert [d["name"] for d in schema_description("parquet")] == [c.name for c in TABLE_COLUMNS]
    for schema in schemas:
        assert [d["name"] for d in schema_description("parquet", schema)] == [c.name for c in schema.columns]
        assert schema.columns[-1].name == EXTRA_JSON and len({c.name for c in schema.columns}) == len(schema.columns)


def test_the_transcripts_tables_hold_the_fields_the_api_notes_name():
    """The transcription and sentence fields of api-notes, and the three keys the export adds to a sentence."""
    transcription = ["id", "language_code", "created_at", "updated_at", "conversation"]
    transcription += ["transcription_sentences", "transcription_artifact"]
    assert [f.name for f in TRANSCRIPTIONS_SCHEMA.fields] == transcription
    sentence = ["id", "start_time", "end_time", "order_number", "recording_attendee_id", "text", "conversation"]
    assert [f.name for f in SENTENCES_SCHEMA.fields] == [*sentence, *ADDED_KEYS, SENTENCES_SCHEMA.window_field]
    assert SENTENCES_SCHEMA.window_field == "transcription_created_at"
    kinds = {f.name: f.kind for f in SENTENCES_SCHEMA.fields}
    assert (kinds["start_time"], kinds["order_number"], kinds["sentence_index"]) == ("number", "integer", "integer")
    assert SENTENCES_SCHEMA.row_key({"transcription_id": "t1", "sentence_index": 4, "id": "t1"}) == ("t1", 4)
