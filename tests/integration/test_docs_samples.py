"""The XCom samples of the docs are what the operators return in a real run.

``docs/operator.rst``'s sample is checked in ``tests/operators/test_conversations_to_s3.py``; this module
checks ``docs/current.rst``'s: the change sync against the fake API over HTTP and moto's S3 server.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.testing import format_timestamp
from tests.conftest import TOKEN

DOCS = Path(__file__).resolve().parents[2] / "docs"
UTC = timezone.utc
DAY = datetime(2025, 1, 31, tzinfo=UTC)
U0 = datetime(2025, 2, 1, tzinfo=UTC)  # the sync's interval: [U0, U0 + 1 h)


def doc_block(page: str, after: str, directive: str) -> str:
    """The first ``directive`` code block after the text ``after`` in ``docs/<page>``."""
    text = (DOCS / page).read_text()
    section = text[text.index(after) :]
    block = section[section.index(directive) + len(directive) :]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("   "):
            break
        lines.append(line[3:])
    return "\n".join(lines).strip()


def shape(value: Any) -> Any:
    """The keys of every mapping, in order, down the structure; lists by their first item."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.fixture
def api(conversations_api_factory, set_conn):
    rng = random.Random(5)
    stamps = sorted(DAY + timedelta(seconds=rng.randrange(86_400)) for _ in range(700))
    records = [
        {"id": f"c{i:04d}", "created_at": format_timestamp(t), "updated_at": format_timestamp(t), "title": f"call {i}"}
        for i, t in enumerate(stamps)
    ]
    api = conversations_api_factory(records=records, token=TOKEN, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def test_current_docs_xcom_is_what_the_change_sync_returns(api, s3_client, bucket):
    table = {"s3_bucket": bucket, "s3_prefix": "raw/conversations", "compression": "gzip"}
    export = ConversationsToS3Operator(task_id="export", **table)
    export.execute({"data_interval_start": DAY, "data_interval_end": DAY + timedelta(days=1)})
    ids = sorted(r["id"] for r in api.records())
    for n, rid in enumerate(ids[::120]):
        api.update_record(rid, {"title": f"edited {n}"}, updated_at=U0 + timedelta(minutes=n))

    sync = ConversationsChangesToS3Operator(task_id="sync", **table)
    summary = sync.execute({"data_interval_start": U0, "data_interval_end": U0 + timedelta(hours=1)})

    sample = json.loads(doc_block("current.rst", "Its XCom", ".. code-block:: json"))
    assert shape(sample) == shape(summary)
    assert sample["changed"] == summary["changed"] == len(ids[::120])
    assert sample["records"] == summary["records"] == len(ids)
    for key in ("requests", "cost"):
        assert sample[key] == sample["scan"][key] + sample["export"][key]
        assert summary[key] == summary["scan"][key] + summary["export"][key]
    assert (sample["scan"], sample["export"]) == (summary["scan"], summary["export"])
    assert [w["records"] for w in sample["windows"]] == [w["records"] for w in summary["windows"]]
