"""OpenLineage of the Iceberg export: the table's location as the output, its catalog name as a symlink."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN
from tests.integration.test_lineage_dag import run_with_openlineage

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
TABLE = "lake.conversations"
EXPORT = (
    "from airflow_provider_conversations.operators.conversations_to_iceberg import ConversationsToIcebergOperator\n"
    "    ConversationsToIcebergOperator(task_id='export', table='lake.conversations', max_records_per_file=50)"
)


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(
        records=generate_conversations(300, seed=5, start=DAY, end=DAY + timedelta(days=1)), token=TOKEN
    )
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def committed_bytes(table) -> int:
    return sum(task.file.file_size_in_bytes for task in table.scan().plan_files())


def test_the_output_is_the_table_location_with_symlink_schema_version_and_statistics(api, catalog, warehouse):
    op = ConversationsToIcebergOperator(task_id="export", table=TABLE, max_records_per_file=50)
    assert op.get_openlineage_facets_on_start() is None  # the location is known once the catalog answered
    out = op.execute({"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)})
    lineage = op.get_openlineage_facets_on_complete(None)
    table = catalog.load_table(TABLE)
    location = urlsplit(table.location())
    (output,) = lineage.outputs
    assert (output.namespace, output.name) == (f"s3://{location.netloc}", location.path.strip("/"))
    assert output.name.endswith("lake/conversations")
    (symlink,) = output.facets["symlinks"].identifiers
    assert (symlink.namespace, symlink.name, symlink.type) == (warehouse, TABLE, "TABLE")
    assert output.facets["version"].datasetVersion == str(table.current_snapshot().snapshot_id)
    assert [f.name for f in output.facets["schema"].fields] == [f.name for f in table.schema().fields]
    stats = output.outputFacets["outputStatistics"]
    assert stats.rowCount == out["records"] == 300
    assert stats.size == committed_bytes(table) > 0


@pytest.mark.usefixtures("airflow_db")
def test_the_dag_run_s_complete_event_names_the_table_as_the_spec_does(api, catalog, warehouse, tmp_path):
    events = run_with_openlineage(tmp_path, "t_ice_lineage", EXPORT, {})
    complete = next(e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == "t_ice_lineage.export")
    table = catalog.load_table(TABLE)
    location = urlsplit(table.location())
    (output,) = complete["outputs"]
    assert (output["namespace"], output["name"]) == (f"s3://{location.netloc}", location.path.strip("/"))
    assert output["facets"]["symlinks"]["identifiers"] == [{"namespace": warehouse, "name": TABLE, "type": "TABLE"}]
    assert output["facets"]["storage"] == {
        **output["facets"]["storage"],
        "storageLayer": "iceberg",
        "fileFormat": "parquet",
    }
    account = next(f for f in output["facets"]["schema"]["fields"] if f["name"] == "account")
    assert account["type"] == "struct" and [f["name"] for f in account["fields"]] == ["id", "_href"]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 300
    assert output["facets"]["version"]["datasetVersion"] == str(table.current_snapshot().snapshot_id)
    datasets = {(d["namespace"], d["name"]) for e in events for d in e.get("inputs", []) + e.get("outputs", [])}
    assert datasets == {(api.url.rstrip("/"), "/v2/conversations"), (output["namespace"], output["name"])}
