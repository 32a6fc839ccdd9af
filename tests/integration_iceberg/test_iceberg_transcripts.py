"""The transcripts export and change sync into Iceberg: the fake API over HTTP, a SQLite catalog over moto's S3 server."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError
from airflow_provider_conversations.lake.iceberg.reads import committed_reads
from airflow_provider_conversations.lake.parquet import to_row
from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA
from airflow_provider_conversations.lake.windows import split_windows
from airflow_provider_conversations.operators.transcript_changes_to_iceberg import (
    ConversationsTranscriptChangesToIcebergOperator,
)
from airflow_provider_conversations.operators.transcripts_to_iceberg import ConversationsTranscriptsToIcebergOperator
from airflow_provider_conversations.timestamps import format_timestamp
from tests.conftest import TOKEN
from tests.integration.test_example_dags_compose import run_example
from tests.lake.iceberg.readers import duckdb_connection

UTC = timezone.utc
D1 = datetime(2025, 1, 2, tzinfo=UTC)
D3 = D1 + timedelta(days=2)
U0 = datetime(2025, 3, 1, tzinfo=UTC)  # changes happen in [U0, U0 + 1 h)
SENTENCES, TRANSCRIPTIONS = "lake.sentences", "lake.transcriptions"
TABLES = {"sentences_table": SENTENCES, "transcriptions_table": TRANSCRIPTIONS}


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(records=300, token=TOKEN, seed=1, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def listed(api, days: tuple[str, ...] = ("2025-01-02", "2025-01-03")) -> list[dict]:
    """The API's transcriptions created on ``days`` (default ``[D1, D3)``), in ``created_at`` then id order."""
    return sorted(
        (t for t in api.transcripts.records() if t["created_at"][:10] in days), key=lambda t: (t["created_at"], t["id"])
    )


def expected(api, *days: str) -> tuple[list[dict], list[dict]]:
    """The rows both tables must hold: the API's transcriptions (of ``days``) and their sentences with the added
    keys, by key.
    """
    ts = listed(api, *((days,) if days else ()))
    sentences = [row for t in ts for row in api.transcripts.sentence_rows(t["id"])]
    return (
        sorted((to_row(t, schema=TRANSCRIPTIONS_SCHEMA) for t in ts), key=lambda r: r["id"]),
        sorted(
            (to_row(s, schema=SENTENCES_SCHEMA) for s in sentences),
            key=lambda r: (r["transcription_id"], r["sentence_index"]),
        ),
    )


def table_rows(catalog) -> tuple[list[dict], list[dict]]:
    """Both tables' rows through pyiceberg, by key."""
    transcriptions = catalog.load_table(TRANSCRIPTIONS).scan().to_arrow().to_pylist()
    sentences = catalog.load_table(SENTENCES).scan().to_arrow().to_pylist()
    return (
        sorted(transcriptions, key=lambda r: r["id"]),
        sorted(sentences, key=lambda r: (r["transcription_id"], r["sentence_index"])),
    )


def duckdb_keys(catalog, s3_endpoint: str) -> tuple[list[str], list[tuple[str, int]]]:
    """Both tables' keys through DuckDB's ``iceberg_scan``, sorted; the sentences joined to their transcriptions
    as docs/transcripts.rst joins them.
    """
    con = duckdb_connection(s3_endpoint)
    try:
        t = catalog.load_table(TRANSCRIPTIONS).metadata_location
        s = catalog.load_table(SENTENCES).metadata_location
        ids = [r[0] for r in con.execute(f"SELECT id FROM iceberg_scan('{t}') ORDER BY id").fetchall()]
        keys = con.execute(
            f"SELECT s.transcription_id, s.sentence_index FROM iceberg_scan('{s}') AS s "
            f"JOIN iceberg_scan('{t}') AS t ON s.transcription_id = t.id ORDER BY 1, 2"
        ).fetchall()
        return ids, [tuple(k) for k in keys]
    finally:
        con.close()


def floor(api, ids_by_window: list[list[str]]) -> int:
    """ceil(transcriptions / 100) per window plus one page per 100 sentences (at least one) per transcription."""
    return sum(
        math.ceil(len(ids) / 100) + sum(max(1, math.ceil(len(api.transcripts.sentences(t)) / 100)) for t in ids)
        for ids in ids_by_window
    )


def export(**kwargs) -> dict:
    op = ConversationsTranscriptsToIcebergOperator(task_id="export", **{**TABLES, **kwargs})
    return op.execute({"data_interval_start": D1, "data_interval_end": D3})


def sync(**kwargs) -> dict:
    op = ConversationsTranscriptChangesToIcebergOperator(task_id="sync", **TABLES, **kwargs)
    return op.execute({"data_interval_start": U0, "data_interval_end": U0 + timedelta(hours=1)})


def snapshots(catalog, name: str) -> set[int]:
    return {s.snapshot_id for s in catalog.load_table(name).snapshots()}


def test_export_writes_both_tables_equal_to_the_api_at_the_point_floor(api, catalog, s3_endpoint):
    out = export(max_records_per_file=500)
    transcriptions, sentences = expected(api)
    assert table_rows(catalog) == (transcriptions, sentences)
    assert duckdb_keys(catalog, s3_endpoint) == (
        [t["id"] for t in transcriptions],
        [(s["transcription_id"], s["sentence_index"]) for s in sentences],
    )
    days = [[t["id"] for t in listed(api) if t["created_at"].startswith(d)] for d in ("2025-01-02", "2025-01-03")]
    assert out["cost"] == api.stats.total_cost
    assert floor(api, days) <= api.stats.total_cost <= 1.03 * floor(api, days)
    assert out["sentences"] == out["records"] == len(sentences)
    assert out["transcripts"]["read"] == len(transcriptions) and out["transcripts"]["kept"] == 0
    windows = set(split_windows(D1, D3, timedelta(days=1)))
    for name, table in ((SENTENCES, "sentences"), (TRANSCRIPTIONS, "transcriptions")):
        loaded = catalog.load_table(name)
        assert set(committed_reads(loaded)) == windows
        assert out["tables"][table]["snapshot_id"] == loaded.current_snapshot().snapshot_id
        assert out["tables"][table]["commits"] == 2  # one snapshot per window
    spec = catalog.load_table(SENTENCES).spec().fields
    assert [(f.name, str(f.transform)) for f in spec] == [("transcription_created_at_day", "day")]
    json.dumps(out)  # XCom-safe


def test_change_sync_commits_one_snapshot_per_table_and_keeps_unchanged_sentences_from_the_table(
    api, catalog, s3_endpoint
):
    export()
    day2 = [t for t in listed(api) if t["created_at"].startswith("2025-01-03")]
    api.transcripts.retranscribe(day2[3]["id"], updated_at=U0 + timedelta(minutes=5), sentences=130)
    api.transcripts.delete([day2[7]["id"]])
    first = next(t for t in api.transcripts.records() if t["id"] == day2[0]["id"])
    api.transcripts.insert([{**first, "id": "t-new-1"}], sentences={"t-new-1": 3}, updated_at=U0 + timedelta(minutes=9))
    before = {name: snapshots(catalog, name) for name in (SENTENCES, TRANSCRIPTIONS)}
    api.stats.reset()

    out = sync()

    assert table_rows(catalog) == expected(api)
    ids, keys = duckdb_keys(catalog, s3_endpoint)
    assert len(keys) == len(set(keys)) and ids == sorted(t["id"] for t in listed(api))
    new = {name: snapshots(catalog, name) - before[name] for name in before}
    assert all(len(ids) == 1 for ids in new.values())
    (s_new,), (t_new,) = new[SENTENCES], new[TRANSCRIPTIONS]
    assert (
        out["tables"]["sentences"]["snapshot_id"] == s_new and out["tables"]["transcriptions"]["snapshot_id"] == t_new
    )
    s_time = catalog.load_table(SENTENCES).snapshot_by_id(s_new).timestamp_ms
    assert s_time <= catalog.load_table(TRANSCRIPTIONS).snapshot_by_id(t_new).timestamp_ms  # sentences first
    assert out["transcripts"]["read"] == 2  # the retranscribed one and the new one
    assert out["transcripts"]["kept"] == len(day2) - 2  # all but the deleted and the retranscribed: from the table
    # the scan (1 page), the window's list (1 page), 2 + 1 sentence pages: no request for a kept transcription
    assert api.stats.total_cost == out["cost"] == 1 + math.ceil(len(day2) / 100) + 2 + 1
    assert [w["created_at_gte"] for w in out["windows"]] == [format_timestamp(D1 + timedelta(days=1))]


def test_max_points_stops_at_a_window_boundary_and_the_next_run_resumes(api, catalog):
    first = export(window_size=timedelta(hours=12), max_points=10)
    assert first["budget"]["stopped"] is True and first["budget"]["windows_left"]
    done = {w["created_at_gte"] for w in first["windows"]}
    left = {w["created_at_gte"] for w in first["budget"]["windows_left"]}
    assert done and not done & left and len(done | left) == 4
    second = export(window_size=timedelta(hours=12), max_points=10_000)
    assert second["budget"]["windows_already_committed"] == len(done)
    assert {w["created_at_gte"] for w in second["windows"]} == left
    assert table_rows(catalog) == expected(api)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sentences_table": "sentences"}, "sentences_table: 'sentences' has no namespace"),
        ({"transcriptions_table": "lake.9t"}, "transcriptions_table: 'lake.9t' has the invalid part"),
        ({"transcriptions_table": SENTENCES}, "transcriptions_table: 'lake.sentences' is the sentences_table too"),
        ({"max_points": 0}, "max_points"),
        ({"compression": "lz4"}, "compression"),
        ({"filters": {"platform": "zoom"}}, "platform"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(api, kwargs, message):
    with pytest.raises(ConversationsFilterError, match=message):
        ConversationsTranscriptsToIcebergOperator(task_id="x", **{**TABLES, **kwargs})
    assert api.stats.requests == 0


def test_an_undefined_catalog_or_an_incompatible_table_fails_before_any_request(api, catalog, monkeypatch):
    from pyiceberg.schema import Schema
    from pyiceberg.types import NestedField, StringType

    catalog.create_namespace("lake")
    catalog.create_table(TRANSCRIPTIONS, Schema(NestedField(1, "created_at", StringType(), required=False)))
    with pytest.raises(ConversationsIcebergError, match="column 'created_at' is string, expected timestamptz"):
        sync()
    monkeypatch.delenv("AIRFLOW_CONN_ICEBERG_DEFAULT")
    with pytest.raises(ConversationsIcebergError, match="is not defined"):
        export()
    assert api.stats.requests == 0


def test_the_example_dag_exports_a_day_and_syncs_its_changes(api, catalog, airflow_db):
    out = run_example("example_conversations_iceberg_transcripts", D1 + timedelta(days=1))
    (window,) = out["export_transcripts"]["windows"]
    rows = table_rows(catalog)[1]
    days = sorted({r["transcription_created_at"].date().isoformat() for r in rows})
    assert window["created_at_gte"][:10] in days  # and the days whose windows the sync rewrote
    assert rows == expected(api, *days)[1]
    assert out["sync_transcripts"]["tables"]["sentences"]["table"] == SENTENCES


def test_lineage_reads_the_transcriptions_and_writes_both_tables_with_their_columns(api, catalog, warehouse):
    op = ConversationsTranscriptsToIcebergOperator(task_id="export", **TABLES)
    assert op.get_openlineage_facets_on_start() is None  # the locations are known once the catalog answered
    out = op.execute({"data_interval_start": D1, "data_interval_end": D3})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [(i.name) for i in lineage.inputs] == ["/v2/transcriptions"]
    sentences, transcriptions = lineage.outputs
    for output, name, schema in (
        (sentences, SENTENCES, SENTENCES_SCHEMA),
        (transcriptions, TRANSCRIPTIONS, TRANSCRIPTIONS_SCHEMA),
    ):
        (symlink,) = output.facets["symlinks"].identifiers
        assert (symlink.namespace, symlink.name) == (warehouse, name)
        assert output.name.endswith(name.replace(".", "/"))
        assert [f.name for f in output.facets["schema"].fields] == [c.name for c in schema.columns]
        version = catalog.load_table(name).current_snapshot().snapshot_id
        assert output.facets["version"].datasetVersion == str(version)
    assert sentences.outputFacets["outputStatistics"].rowCount == out["sentences"] > 0
    assert transcriptions.outputFacets == {}
