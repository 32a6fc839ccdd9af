"""The DuckDB queries of ``docs/transcripts.rst`` run on a real export and return what the API holds.

Both exports run against the fake API over HTTP and moto's S3 server; the objects are copied to a
local directory that stands in for the bucket in the queries' paths (DuckDB's S3 extension is not a
test dependency).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.operators.transcripts_to_s3 import ConversationsTranscriptsToS3Operator
from tests.conftest import TOKEN
from tests.integration.conftest import read_objects
from tests.integration.test_docs_samples import doc_block

UTC = timezone.utc
D1 = datetime(2025, 1, 2, tzinfo=UTC)
D3 = D1 + timedelta(days=2)
DOC_BUCKET = "s3://conversations-lake/"


@pytest.fixture
def api(conversations_api_factory, set_conn):
    api = conversations_api_factory(records=300, token=TOKEN, seed=3, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    first, second, third = [t["id"] for t in api.transcripts.records() if t["created_at"] >= "2025-01-03"][:3]
    api.transcripts.set_sentences(first, 0)
    api.transcripts.set_sentences(second, 101)
    legacy = [{k: v for k, v in s.items() if k != "order_number"} for s in api.transcripts.sentences(third)]
    api.transcripts.set_sentences(third, legacy)  # older data: no order_number
    return api


@pytest.fixture
def lake(api, s3_client, bucket, tmp_path: Path) -> Path:
    """Both tables and the conversations of the day before too, as the docs' globs find them, in ``tmp_path``."""
    conversations = ConversationsToS3Operator(
        task_id="c", s3_bucket=bucket, s3_prefix="raw/conversations", compression="gzip"
    )
    conversations.execute({"data_interval_start": D1 - timedelta(days=1), "data_interval_end": D3})
    transcripts = ConversationsTranscriptsToS3Operator(
        task_id="t", s3_bucket=bucket, s3_prefix="raw/transcripts", compression="gzip"
    )
    transcripts.execute({"data_interval_start": D1, "data_interval_end": D3})
    for key, body in read_objects(s3_client, bucket).items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    return tmp_path


def duckdb_queries(root: Path) -> list[str]:
    """The statements of the docs' DuckDB block, reading from ``root`` instead of the bucket."""
    block = doc_block("transcripts.rst", "(DuckDB)\n", ".. code-block:: sql")
    assert DOC_BUCKET in block
    return [q.strip() for q in block.replace(DOC_BUCKET, f"{root}/").split(";") if q.strip()]


def test_duckdb_join_and_one_document_per_call_return_every_sentence_of_the_api(api, lake):
    words, documents = duckdb_queries(lake)
    transcriptions = [t for t in api.transcripts.records() if "2025-01-02" <= t["created_at"][:10] < "2025-01-04"]
    sentences = {t["id"]: api.transcripts.sentences(t["id"]) for t in transcriptions}
    by_conversation = sorted((t["conversation"]["id"], t["id"]) for t in transcriptions)
    assert len({c for c, _ in by_conversation}) == len(by_conversation)  # one transcription per call
    titles = {c["id"]: c["title"] for c in api.records()}
    con = duckdb.connect()

    rows = con.execute(words).fetchall()

    expected = [(cid, titles[cid], i, s["text"]) for cid, tid in by_conversation for i, s in enumerate(sentences[tid])]
    # DuckDB reads the ids as UUIDs: compared as text
    assert [(str(r[0]), r[1], r[4], r[8]) for r in rows] == expected
    assert {r[3] for r in rows} <= {t["language_code"] for t in transcriptions}
    assert {0, 101} <= {len(s) for s in sentences.values()}
    assert any("order_number" not in s for ss in sentences.values() for s in ss)

    docs = {str(tid): (str(cid), text) for tid, cid, text in con.execute(documents).fetchall()}

    assert docs == {
        t["id"]: (t["conversation"]["id"], " ".join(s["text"] for s in sentences[t["id"]]))
        for t in transcriptions
        if sentences[t["id"]]
    }
