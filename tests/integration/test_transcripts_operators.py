"""The transcripts export and change sync against the fake API over HTTP and moto's S3 server over HTTP."""

from __future__ import annotations

import io
import json
import math
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA
from airflow_provider_conversations.operators.transcript_changes_to_s3 import ConversationsTranscriptChangesToS3Operator
from airflow_provider_conversations.operators.transcripts_to_s3 import ConversationsTranscriptsToS3Operator
from tests.conftest import TOKEN
from tests.integration.conftest import read_objects, run_dag_source

UTC = timezone.utc
D1 = datetime(2025, 1, 2, tzinfo=UTC)
D3 = D1 + timedelta(days=2)
U0 = datetime(2025, 3, 1, tzinfo=UTC)  # changes happen in [U0, U0 + 1 h)
PREFIX = "lake/transcripts"


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(records=300, token=TOKEN, seed=1, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


FORMATS = ["jsonl", "parquet"]
TIMESTAMPS = ("created_at", "updated_at", "transcription_created_at")


def comparable(record: dict) -> dict:
    """A record with its null fields left out and its timestamps as instants: JSONL and Parquet rows compare equal."""
    return {
        k: datetime.fromisoformat(v.replace("Z", "+00:00")) if k in TIMESTAMPS and isinstance(v, str) else v
        for k, v in record.items()
        if v is not None
    }


def part_records(key: str, data: bytes) -> list[dict]:
    """A part's records: JSONL lines, or Parquet rows with the fields of ``extra_json`` over the columns."""
    if not key.endswith(".parquet"):
        return [comparable(json.loads(line)) for line in data.splitlines()]
    records = []
    for row in pq.read_table(io.BytesIO(data)).to_pylist():
        extra = json.loads(row.pop("extra_json") or "{}")
        records.append(comparable({**row, **extra}))
    return records


def table_rows(objects: dict[str, bytes], table: str) -> list[dict]:
    """Every row of ``table``, read through its manifests."""
    rows: list[dict] = []
    for key in sorted(k for k in objects if k.startswith(f"{PREFIX}/{table}/") and "/_manifest-" in k):
        for part in json.loads(objects[key])["parts"]:
            rows += part_records(part["key"], objects[part["key"]])
    return rows


def expected(api, gte: datetime, lt: datetime) -> tuple[list[dict], list[dict]]:
    """The API's transcriptions created in ``[gte, lt)`` and their sentences, with the three added keys."""
    ts = sorted(
        (t for t in api.transcripts.records() if gte.isoformat()[:10] <= t["created_at"][:10] < lt.isoformat()[:10]),
        key=lambda t: (t["created_at"], t["id"]),
    )
    rows = [row for t in ts for row in api.transcripts.sentence_rows(t["id"])]
    return [comparable(t) for t in ts], [comparable(row) for row in rows]


def floor(api, ids_by_window: list[list[str]]) -> int:
    """ceil(transcriptions / 100) per window plus one page per 100 sentences (at least one) per transcription."""
    return sum(
        math.ceil(len(ids) / 100) + sum(max(1, math.ceil(len(api.transcripts.sentences(t)) / 100)) for t in ids)
        for ids in ids_by_window
    )


def export(bucket: str, **kwargs) -> dict:
    op = ConversationsTranscriptsToS3Operator(task_id="export", s3_bucket=bucket, s3_prefix=PREFIX, **kwargs)
    return op.execute({"data_interval_start": D1, "data_interval_end": D3})


def sync(bucket: str, **kwargs) -> dict:
    op = ConversationsTranscriptChangesToS3Operator(task_id="sync", s3_bucket=bucket, s3_prefix=PREFIX, **kwargs)
    return op.execute({"data_interval_start": U0, "data_interval_end": U0 + timedelta(hours=1)})


@pytest.mark.parametrize("file_format", FORMATS)
def test_export_writes_every_sentence_once_with_its_keys_at_the_point_floor(api, s3_client, bucket, file_format):
    out = export(bucket, file_format=file_format)
    objects = read_objects(s3_client, bucket)
    transcriptions, sentences = expected(api, D1, D3)
    assert table_rows(objects, "sentences") == sentences
    assert table_rows(objects, "transcriptions") == transcriptions
    assert {0, 1, 99, 100, 101} <= {len(api.transcripts.sentences(t["id"])) for t in api.transcripts.records()}
    days = [
        [t["id"] for t in transcriptions if str(t["created_at"]).startswith(d)] for d in ("2025-01-02", "2025-01-03")
    ]
    assert out["cost"] == api.stats.total_cost
    assert floor(api, days) <= api.stats.total_cost <= 1.03 * floor(api, days)
    assert out["sentences"] == len(sentences) and out["transcripts"]["read"] == len(transcriptions)
    assert out["budget"]["stopped"] is False


@pytest.mark.parametrize("file_format", FORMATS)
def test_change_sync_rereads_only_updated_transcriptions_and_follows_deletions_and_inserts(
    api, s3_client, bucket, file_format
):
    export(bucket, file_format=file_format)
    transcriptions, _ = expected(api, D1, D3)
    day2 = [t for t in transcriptions if str(t["created_at"]).startswith("2025-01-03")]
    changed = day2[3]["id"]
    api.transcripts.retranscribe(changed, updated_at=U0 + timedelta(minutes=5), sentences=130)
    api.transcripts.delete([day2[7]["id"]])
    first = next(t for t in api.transcripts.records() if t["id"] == day2[0]["id"])
    new = {**first, "id": "t-new-1"}
    api.transcripts.insert([new], sentences={"t-new-1": 3}, updated_at=U0 + timedelta(minutes=9))
    api.stats.reset()

    out = sync(bucket, file_format=file_format)

    objects = read_objects(s3_client, bucket)
    transcriptions, sentences = expected(api, D1, D3)
    assert table_rows(objects, "sentences") == sentences
    assert table_rows(objects, "transcriptions") == transcriptions
    assert out["transcripts"]["read"] == 2  # the retranscribed one and the new one
    assert out["transcripts"]["kept"] == len(day2) - 2  # all but the deleted and the retranscribed: from the lake
    # the scan (1 page), the window's list (1 page), 2 + 1 sentence pages
    assert api.stats.total_cost == out["cost"] == 1 + math.ceil(len(day2) / 100) + 2 + 1


def test_max_points_stops_at_a_window_boundary_and_the_next_run_resumes(api, s3_client, bucket):
    first = export(bucket, window_size=timedelta(hours=12), max_points=10)
    assert first["budget"]["stopped"] is True and first["budget"]["windows_left"]
    done = {w["created_at_gte"] for w in first["windows"]}
    left = {w["created_at_gte"] for w in first["budget"]["windows_left"]}
    assert done and not done & left and len(done | left) == 4
    second = export(bucket, window_size=timedelta(hours=12), max_points=10_000)
    assert second["budget"]["windows_already_committed"] == len(done)
    assert {w["created_at_gte"] for w in second["windows"]} == left
    _, sentences = expected(api, D1, D3)
    assert table_rows(read_objects(s3_client, bucket), "sentences") == sentences


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_points": 0}, "max_points"),
        ({"max_points": -5}, "max_points"),
        ({"file_format": "csv"}, "file_format"),
        ({"s3_prefix": "raw/../transcripts"}, "s3_prefix"),
        ({"file_format": "parquet", "compression": "lz4"}, "compression"),
        ({"filters": {"platform": "zoom"}}, "platform"),
        ({"filters": {"updated_at_gte": "2025-01-01T00:00:00Z"}}, "updated_at_gte"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(api, kwargs, message):
    with pytest.raises(ConversationsFilterError, match=message):
        ConversationsTranscriptsToS3Operator(task_id="x", s3_bucket="b", **{"s3_prefix": PREFIX, **kwargs})
    assert api.stats.requests == 0


def test_both_operators_run_in_a_dag(api, s3_client, bucket, airflow_db):
    body = (
        "from airflow_provider_conversations.operators.transcripts_to_s3 import ConversationsTranscriptsToS3Operator\n"
        "    from airflow_provider_conversations.operators.transcript_changes_to_s3 import "
        "ConversationsTranscriptChangesToS3Operator\n"
        f"    export = ConversationsTranscriptsToS3Operator(task_id='export', s3_bucket={bucket!r}, s3_prefix={PREFIX!r})\n"
        f"    sync = ConversationsTranscriptChangesToS3Operator(task_id='sync', s3_bucket={bucket!r}, s3_prefix={PREFIX!r})\n"
        "    export >> sync"
    )
    run, tis = run_dag_source("transcripts_dag", D1, body)
    assert {ti.task_id: str(ti.state) for ti in tis.values()} == {"export": "success", "sync": "success"}
    _, sentences = expected(api, run.data_interval_start, run.data_interval_end)
    assert sentences and table_rows(read_objects(s3_client, bucket), "sentences") == sentences


@pytest.mark.parametrize("file_format", FORMATS)
def test_change_sync_under_faults_equals_the_api_within_the_cost_bound(api, s3_client, bucket, file_format):
    export(bucket, file_format=file_format)
    transcriptions, _ = expected(api, D1, D3)
    day1 = [t for t in transcriptions if str(t["created_at"]).startswith("2025-01-02")]
    for n, t in enumerate(day1[:3]):
        api.transcripts.retranscribe(t["id"], updated_at=U0 + timedelta(minutes=n + 1))
    api.transcripts.delete([day1[5]["id"]])
    api.faults.error_rate = api.faults.throttle_rate = 0.1
    api.faults.boundary_quirk_rate = 0.5
    api.stats.reset()

    out = sync(bucket, file_format=file_format)

    api.faults.error_rate = api.faults.throttle_rate = api.faults.boundary_quirk_rate = 0.0
    objects = read_objects(s3_client, bucket)
    transcriptions, sentences = expected(api, D1, D3)
    assert table_rows(objects, "sentences") == sentences
    assert table_rows(objects, "transcriptions") == transcriptions
    assert out["transcripts"]["read"] == 3
    sync_floor = (
        1
        + math.ceil((len(day1) - 1) / 100)
        + sum(math.ceil(len(api.transcripts.sentences(t["id"])) / 100) or 1 for t in day1[:3])
    )
    assert out["cost"] == api.stats.total_cost <= 1.25 * sync_floor


def test_change_sync_reads_from_the_api_what_it_cannot_keep_from_the_lake(api, s3_client, bucket):
    """A committed sentences part gone (e.g. removed by hand): the sentences it held are read again, none lost."""
    export(bucket, max_records_per_file=2_000)
    transcriptions, _ = expected(api, D1, D3)
    day2 = [t for t in transcriptions if str(t["created_at"]).startswith("2025-01-03")]
    api.transcripts.retranscribe(day2[0]["id"], updated_at=U0 + timedelta(minutes=5), sentences=7)
    objects = read_objects(s3_client, bucket)
    manifest = json.loads(objects[f"{PREFIX}/sentences/date=2025-01-03/_manifest-000000-240000.json"])
    assert len(manifest["parts"]) >= 3
    s3_client.delete_object(Bucket=bucket, Key=manifest["parts"][1]["key"])
    api.stats.reset()

    out = sync(bucket, max_records_per_file=2_000)

    _, sentences = expected(api, D1, D3)
    assert table_rows(read_objects(s3_client, bucket), "sentences") == sentences
    kept = out["transcripts"]["kept"]
    assert 0 < kept < len(day2) - 1 and out["transcripts"]["read"] == len(day2) - kept


def test_lineage_reads_the_transcriptions_and_writes_both_tables_with_their_schemas(api, bucket):
    op = ConversationsTranscriptsToS3Operator(
        task_id="export", s3_bucket=bucket, s3_prefix=PREFIX, file_format="parquet"
    )
    out = op.execute({"data_interval_start": D1, "data_interval_end": D3})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [i.name for i in lineage.inputs] == ["/v2/transcriptions"]
    assert [(o.namespace, o.name) for o in lineage.outputs] == [
        (f"s3://{bucket}", f"{PREFIX}/sentences"),
        (f"s3://{bucket}", f"{PREFIX}/transcriptions"),
    ]
    sentences, transcriptions = lineage.outputs
    assert [f.name for f in sentences.facets["schema"].fields] == [c.name for c in SENTENCES_SCHEMA.columns]
    assert [f.name for f in transcriptions.facets["schema"].fields] == [c.name for c in TRANSCRIPTIONS_SCHEMA.columns]
    assert sentences.outputFacets["outputStatistics"].rowCount == out["sentences"] > 0


@pytest.mark.parametrize("file_format", FORMATS)
def test_an_export_whose_read_is_older_than_a_change_sync_never_reverts_it(
    api, s3_client, bucket, monkeypatch, file_format
):
    """Hold the export just before its first commit; meanwhile a change sync of a retranscription and a deletion
    commits (the reader sees it); then let the export go on: its older read is not committed over the sync's."""
    from airflow_provider_conversations.lake.s3.table import S3Table

    export(bucket, file_format=file_format)  # the tables exist; the held export below rewrites them
    transcriptions, _ = expected(api, D1, D3)
    day1 = [t for t in transcriptions if str(t["created_at"]).startswith("2025-01-02")]
    commit, seen = S3Table.commit, {}

    def sync_while_the_export_waits(self, group):
        if not seen:  # the export's first commit: it has read day 1 already
            seen["held"] = True
            api.transcripts.retranscribe(day1[2]["id"], updated_at=U0 + timedelta(minutes=5), sentences=17)
            api.transcripts.delete([day1[4]["id"]])
            sync(bucket, file_format=file_format)
            seen["between"] = expected(api, D1, D3), read_objects(s3_client, bucket)
        return commit(self, group)

    monkeypatch.setattr(S3Table, "commit", sync_while_the_export_waits)
    outcome = export(bucket, file_format=file_format)

    (transcriptions, sentences), between = seen["between"]
    assert table_rows(between, "sentences") == sentences  # the reader's view between the two commits
    assert table_rows(between, "transcriptions") == transcriptions
    objects = read_objects(s3_client, bucket)
    assert table_rows(objects, "sentences") == sentences
    assert table_rows(objects, "transcriptions") == transcriptions
    day1_result = next(w for w in outcome["windows"] if w["created_at_gte"].startswith("2025-01-02"))
    assert day1_result["outcome"] == "skipped_older_read"


@pytest.mark.parametrize("operator", [ConversationsTranscriptsToS3Operator, ConversationsTranscriptChangesToS3Operator])
def test_a_connection_of_another_type_fails_once_before_any_request_or_write(
    api, s3_client, bucket, monkeypatch, operator
):
    from airflow.exceptions import AirflowFailException

    from airflow_provider_conversations.exceptions import ConversationsConnectionError

    monkeypatch.setenv(
        "AIRFLOW_CONN_CONVERSATIONS_DEFAULT",
        json.dumps({"conn_type": "http", "host": api.url, "password": "http-SECRET"}),
    )
    op = operator(task_id="t", s3_bucket=bucket, s3_prefix=PREFIX)
    with pytest.raises(ConversationsConnectionError, match="is of type 'http'") as exc:
        op.execute({"data_interval_start": D1, "data_interval_end": D3})
    assert isinstance(exc.value, AirflowFailException) and "http-SECRET" not in str(exc.value)
    assert api.stats.requests == 0 and read_objects(s3_client, bucket) == {}


def test_dag_runs_over_gzip_chunked_answers_and_odd_sentences_keep_parquet_tables_equal_to_the_api(
    conversations_api_factory, set_conn, s3_client, bucket, airflow_db
):
    """Another shape of data than the fixtures': gzip and chunked answers, long ASCII text, integer times,
    no order_number, a field the schema lacks; export, then a change sync, each in a real DAG run."""
    api = conversations_api_factory(records=120, token=TOKEN, seed=7, strict_params=True, gzip=True, chunked=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    args = f"s3_bucket={bucket!r}, s3_prefix={PREFIX!r}, file_format='parquet', compression='zstd'"
    export_body = (
        "from airflow_provider_conversations.operators.transcripts_to_s3 import ConversationsTranscriptsToS3Operator\n"
        f"    ConversationsTranscriptsToS3Operator(task_id='export', {args})"
    )
    sync_body = (
        "from airflow_provider_conversations.operators.transcript_changes_to_s3 import "
        "ConversationsTranscriptChangesToS3Operator\n"
        f"    ConversationsTranscriptChangesToS3Operator(task_id='sync', {args})"
    )
    run, tis = run_dag_source("transcripts_shapes_export", D1, export_body)
    assert str(tis["export"].state) == "success"
    day = run.data_interval_start.date().isoformat()
    target = next(t for t in api.transcripts.records() if t["created_at"].startswith(day))
    odd = [
        {
            "id": target["id"],
            "start_time": n * 7,  # integers where the API usually sends decimals
            "end_time": n * 7 + 6.123456789012,
            "recording_attendee_id": str(900 + n % 3),
            "text": ("word " * 1_000).strip(),  # 5 KB of ASCII
            "conversation": target["conversation"],
            "confidence": 0.93,  # a field the schema has no column for
        }
        for n in range(230)
    ]
    changed_at = run.data_interval_end + timedelta(hours=1, minutes=10)
    api.transcripts.retranscribe(target["id"], updated_at=changed_at, sentences=odd)
    _run, tis = run_dag_source("transcripts_shapes_sync", D1 + timedelta(days=1), sync_body)  # the next day
    assert str(tis["sync"].state) == "success"
    out = tis["sync"].xcom_pull(task_ids="sync")
    assert out["transcripts"]["read"] >= 1 and out["transcripts"]["kept"] >= 1
    objects = read_objects(s3_client, bucket)
    rows = table_rows(objects, "sentences")
    days = sorted({r["transcription_created_at"].date() for r in rows})  # the export's day and the sync's
    first = datetime.combine(days[0], datetime.min.time(), UTC)
    transcriptions, sentences = expected(api, first, first + timedelta(days=(days[-1] - days[0]).days + 1))
    in_days = [t for t in transcriptions if t["created_at"].date() in days]
    assert rows == [s for s in sentences if s["transcription_created_at"].date() in days]
    assert table_rows(objects, "transcriptions") == in_days
    assert sum(1 for s in sentences if s["transcription_id"] == target["id"]) == 230
