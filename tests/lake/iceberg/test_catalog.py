"""The table name, the catalog type and the catalog's reachability are checked before any API request."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.iceberg.catalog import (
    ConversationsIcebergError,
    catalog_type,
    load_catalog,
    parse_table_name,
)


@pytest.mark.parametrize(
    ("table", "expected"),
    [("lake.conversations", ("lake", "conversations")), ("a.b.c", ("a.b", "c")), ("_x.t_1", ("_x", "t_1"))],
)
def test_table_names_split_into_namespace_and_name(table, expected):
    assert parse_table_name(table) == expected


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("conversations", "has no namespace"),
        ("", "expected 'namespace.table'"),
        (None, "expected 'namespace.table'"),
        ("lake.", "invalid part"),
        ("lake.conv-ersations", "invalid part"),
        ("1lake.t", "invalid part"),
    ],
)
def test_bad_table_names_are_refused_naming_the_argument(table, message):
    with pytest.raises(ConversationsFilterError, match=message) as err:
        parse_table_name(table)
    assert str(err.value).startswith("table:")


def test_unknown_catalog_type_names_the_allowed_ones():
    with pytest.raises(ConversationsFilterError, match=r"unknown catalog type 'iceberg-rest'.*rest, glue, sql"):
        catalog_type({"type": "iceberg-rest"})
    assert catalog_type({}) == "rest"


def test_missing_connection_is_named(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_ICEBERG_MISSING", raising=False)
    with pytest.raises(ConversationsIcebergError, match="connection 'iceberg_missing' is not defined"):
        load_catalog("iceberg_missing")


def test_unknown_type_in_a_connection_is_refused_before_any_request(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_X", json.dumps({"conn_type": "iceberg", "extra": {"type": "nessie"}}))
    with pytest.raises(ConversationsFilterError, match="unknown catalog type 'nessie'"):
        load_catalog("iceberg_x")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_rest_catalog_is_an_error_that_keeps_the_secret(monkeypatch):
    conn = {
        "conn_type": "iceberg",
        "host": f"http://127.0.0.1:{_closed_port()}",
        "login": "client",
        "password": "s3cr3t-pw",
        "extra": {"type": "rest", "warehouse": "w"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ICEBERG_X", json.dumps(conn))
    with pytest.raises(
        ConversationsIcebergError, match="rest catalog of connection 'iceberg_x' cannot be reached"
    ) as err:
        load_catalog("iceberg_x")
    assert "s3cr3t-pw" not in str(err.value) and err.value.__cause__ is None


def test_unreachable_sql_catalog_hides_the_uri_password(monkeypatch):
    uri = f"postgresql+psycopg2://user:pg-pass-9@127.0.0.1:{_closed_port()}/db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ICEBERG_X", json.dumps({"conn_type": "iceberg", "extra": {"type": "sql", "uri": uri}})
    )
    with pytest.raises(ConversationsIcebergError, match="cannot be reached") as err:
        load_catalog("iceberg_x")
    assert "pg-pass-9" not in str(err.value)


def test_the_embedded_catalog_is_reached(catalog):
    assert catalog.list_namespaces() == []


def test_a_glue_catalog_is_named_by_its_region_and_the_table_s_catalog_id():
    import boto3
    from moto import mock_aws
    from pyiceberg.catalog.glue import GlueCatalog

    from airflow_provider_conversations.lake.iceberg.catalog import lineage_properties

    with mock_aws():
        glue = boto3.client("glue", region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t")
        glue.create_database(DatabaseInput={"Name": "crm"})
        glue.create_table(DatabaseName="crm", TableInput={"Name": "conversations"})
        catalog = GlueCatalog("iceberg_default", client=glue, type="glue", warehouse="s3://lake/wh")
        found = lineage_properties(catalog, "crm", "conversations")
        missing = lineage_properties(catalog, "crm", "absent")
    assert found == {"warehouse": "s3://lake/wh", "glue.region": "eu-west-1", "glue.id": "123456789012"}
    assert "glue.id" not in missing and missing["glue.region"] == "eu-west-1"
