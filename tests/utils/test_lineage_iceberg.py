"""OpenLineage of the Iceberg table: named by its location, its catalog name as a symlink, Iceberg types."""

from __future__ import annotations

import sys

import pytest

from airflow_provider_conversations.lake.iceberg.table import iceberg_schema, lineage_columns
from airflow_provider_conversations.lake.schema import CONVERSATION_FIELDS, EXTRA_JSON, REFERENCE_KEYS
from airflow_provider_conversations.utils.lineage import (
    IcebergTableRef,
    iceberg_catalog_symlink,
    iceberg_lineage,
    location_dataset,
)

TABLE = IcebergTableRef(
    location="s3://lake/warehouse/crm/conversations",
    identifier="crm.conversations",
    catalog_name="iceberg_default",
    catalog_type="glue",
    properties={"glue.region": "eu-west-1", "glue.id": "123456789012"},
    snapshot_id=42,
)


@pytest.mark.parametrize(
    ("location", "dataset"),
    [
        ("s3://lake/warehouse/crm/conversations", ("s3://lake", "warehouse/crm/conversations")),
        ("s3a://lake/wh/t/", ("s3://lake", "wh/t")),
        ("gs://bucket/t", ("gs://bucket", "t")),
        ("abfss://c@acct.dfs.core.windows.net/wh/t", ("abfss://c@acct.dfs.core.windows.net", "wh/t")),
        ("file:///tmp/wh/crm/t", ("file", "/tmp/wh/crm/t")),
        ("/tmp/wh/crm/t/", ("file", "/tmp/wh/crm/t")),
    ],
)
def test_a_location_is_named_as_the_naming_spec_names_files(location, dataset):
    assert location_dataset(location) == dataset


@pytest.mark.parametrize(
    ("kind", "properties", "symlink"),
    [
        (
            "glue",
            {"glue.region": "eu-west-1", "glue.id": "123456789012"},
            ("arn:aws:glue:eu-west-1:123456789012", "table/crm/conversations"),
        ),
        (
            "glue",
            {"client.region": "us-east-1", "glue.id": "123456789012"},
            ("arn:aws:glue:us-east-1:123456789012", "table/crm/conversations"),
        ),
        ("glue", {"glue.region": "eu-west-1"}, None),
        (
            "rest",
            {"uri": "https://user:pw@catalog.example.com:8181/api/catalog/?token=t", "warehouse": "prod"},
            ("https://catalog.example.com:8181/api/catalog", "crm.conversations"),
        ),
        ("hive", {"uri": "thrift://metastore:9083"}, ("hive://metastore:9083", "crm.conversations")),
        (
            "sql",
            {"uri": "postgresql+psycopg://u:secret@db/cat", "warehouse": "s3://lake/warehouse/"},
            ("s3://lake/warehouse", "crm.conversations"),
        ),
        ("sql", {"uri": "sqlite:////tmp/c.db", "warehouse": "s3://lake"}, ("s3://lake", "crm.conversations")),
        ("sql", {"uri": "sqlite:////tmp/c.db"}, None),
    ],
)
def test_the_catalog_symlink_follows_each_catalog_s_naming(kind, properties, symlink):
    assert iceberg_catalog_symlink(kind, "crm.conversations", properties) == symlink


def test_no_symlink_carries_catalog_credentials():
    properties = {"uri": "https://alice:hunter2@cat.example.com/api?credential=abc:def", "warehouse": "s3://x"}
    for kind in ("rest", "hive", "sql"):
        symlink = iceberg_catalog_symlink(kind, "a.b", properties)
        assert symlink is not None and not any(s in str(symlink) for s in ("alice", "hunter2", "abc:def"))


def test_the_schema_columns_are_the_table_s_columns_with_iceberg_types():
    columns = lineage_columns()
    table = iceberg_schema()
    assert [c["name"] for c in columns] == [*(f.name for f in CONVERSATION_FIELDS), EXTRA_JSON]
    for column, field in zip(columns, table.fields, strict=True):
        if column["type"] == "struct":
            assert [(c["name"], c["type"]) for c in column["fields"]] == [(k, "string") for k in REFERENCE_KEYS]
        else:
            assert column["type"] == str(field.field_type)
    kinds = {c["name"]: c["type"] for c in columns}
    assert (kinds["created_at"], kinds["duration"], kinds["is_api"], kinds["account"]) == (
        "timestamptz",
        "long",
        "boolean",
        "struct",
    )


def test_the_output_is_the_location_with_the_catalog_table_as_symlink():
    lineage = iceberg_lineage(
        api_base_url="https://api.example.com/v2", table=TABLE, columns=lineage_columns(), records=500, size=9000
    )
    assert lineage is not None
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("https://api.example.com", "/v2/conversations")]
    (output,) = lineage.outputs
    assert (output.namespace, output.name) == ("s3://lake", "warehouse/crm/conversations")
    (symlink,) = output.facets["symlinks"].identifiers
    assert (symlink.namespace, symlink.name, symlink.type) == (
        "arn:aws:glue:eu-west-1:123456789012",
        "table/crm/conversations",
        "TABLE",
    )
    assert (output.facets["storage"].storageLayer, output.facets["storage"].fileFormat) == ("iceberg", "parquet")
    assert output.facets["version"].datasetVersion == "42"
    account = next(f for f in output.facets["schema"].fields if f.name == "account")
    assert account.type == "struct" and [f.name for f in account.fields] == list(REFERENCE_KEYS)
    stats = output.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (500, 9000)


def test_before_the_run_there_is_no_version_and_no_statistics():
    before = IcebergTableRef(TABLE.location, TABLE.identifier, "c", "sql", {"warehouse": "s3://lake/warehouse"})
    lineage = iceberg_lineage(api_base_url="https://a.example", table=before, columns=lineage_columns())
    assert lineage is not None
    (output,) = lineage.outputs
    assert output.outputFacets == {} and "version" not in output.facets
    assert output.facets["symlinks"].identifiers[0].namespace == "s3://lake/warehouse"


def test_without_the_openlineage_provider_there_is_no_iceberg_lineage(monkeypatch):
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    assert iceberg_lineage(api_base_url="https://a.example", table=TABLE, columns=[]) is None
