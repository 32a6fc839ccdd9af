"""The table's shape comes from lake/schema.py; an existing table is checked, extended or refused by name."""

from __future__ import annotations

import re

import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform, MonthTransform
from pyiceberg.types import LongType, NestedField, StringType

from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError
from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
from airflow_provider_conversations.lake.iceberg.table import NAME_MAPPING, iceberg_schema, open_table
from airflow_provider_conversations.lake.schema import CONVERSATION_FIELDS, EXTRA_JSON


def test_schema_has_every_field_of_lake_schema_then_extra_json_with_matching_types():
    schema = iceberg_schema()
    assert [f.name for f in schema.fields] == [f.name for f in CONVERSATION_FIELDS] + [EXTRA_JSON]
    kinds = {"string": "string", "integer": "long", "boolean": "boolean", "timestamp": "timestamptz"}
    for field in CONVERSATION_FIELDS:
        found = str(schema.find_field(field.name).field_type)
        assert found == kinds[field.kind] if field.kind in kinds else found.startswith("struct<")
    assert not any(f.required for f in schema.fields)


def test_absent_table_is_created_partitioned_by_day_and_sorted(catalog):
    table = open_table(catalog, "lake", "conversations")
    assert ("lake",) in catalog.list_namespaces()
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("created_at_day", "day")]
    assert [table.schema().find_column_name(f.source_id) for f in table.sort_order().fields] == ["created_at", "id"]
    assert NAME_MAPPING in table.properties


def _legacy(catalog, schema: Schema, spec: PartitionSpec | None = None):
    catalog.create_namespace_if_not_exists("lake")
    return catalog.create_table("lake.conversations", schema, partition_spec=spec or PartitionSpec())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Schema(NestedField(1, "id", LongType(), required=False)), "column 'id' is long, expected string"),
        (lambda: Schema(NestedField(1, "id", StringType(), required=True)), "column 'id' is required"),
        (lambda: Schema(NestedField(1, "tenant", StringType(), required=True)), "column 'tenant' is required, and"),
    ],
)
def test_incompatible_schema_is_refused_naming_the_difference_and_nothing_is_written(catalog, make, message):
    table = _legacy(catalog, make())
    dest = IcebergDestination(catalog, "lake", "conversations")
    with pytest.raises(ConversationsIcebergError, match=message):
        dest.check([])
    assert catalog.load_table("lake.conversations").metadata == table.metadata


@pytest.mark.parametrize(
    ("transform", "expected"), [(MonthTransform(), "month(created_at)"), (IdentityTransform(), "identity(created_at)")]
)
def test_other_partitioning_is_refused_naming_it(catalog, transform, expected):
    schema = iceberg_schema()
    spec = PartitionSpec(
        PartitionField(source_id=schema.find_field("created_at").field_id, field_id=1000, transform=transform, name="p")
    )
    _legacy(catalog, schema, spec)
    with pytest.raises(ConversationsIcebergError, match=re.escape(f"partitioning is [p: {expected}], expected")):
        open_table(catalog, "lake", "conversations")


def test_unpartitioned_table_is_refused(catalog):
    _legacy(catalog, iceberg_schema())
    with pytest.raises(ConversationsIcebergError, match=r"partitioning is \[\], expected"):
        open_table(catalog, "lake", "conversations")


def test_a_table_missing_a_newer_column_gains_it(catalog):
    table = open_table(catalog, "lake", "conversations")  # created in full
    with table.update_schema() as update:
        update.delete_column("call_id")
    assert "call_id" not in [f.name for f in catalog.load_table("lake.conversations").schema().fields]
    table = open_table(catalog, "lake", "conversations")
    assert [f.name for f in table.schema().fields][-1] == "call_id"
    assert "call_id" in table.properties[NAME_MAPPING]


def test_a_sentences_table_is_partitioned_by_its_window_field_sorted_by_its_key_with_doubles(catalog):
    from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA

    table = open_table(catalog, "lake", "sentences", SENTENCES_SCHEMA)
    assert [f.name for f in table.schema().fields] == [c.name for c in SENTENCES_SCHEMA.columns]
    assert str(table.schema().find_field("start_time").field_type) == "double"
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("transcription_created_at_day", "day")]
    assert [table.schema().find_column_name(f.source_id) for f in table.sort_order().fields] == [
        "transcription_created_at",
        "transcription_id",
        "sentence_index",
    ]
    with pytest.raises(ConversationsIcebergError, match=r"expected \[created_at_day: day\(created_at\)\]"):
        open_table(catalog, "lake", "sentences")  # the same table, checked as a conversations table
