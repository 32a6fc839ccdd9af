"""Secrets: the API token never leaves the Authorization header of requests to the configured host.

DAG runs (``dag.test()``) of a poke sensor, a deferrable sensor and the export use a recognisable
token; a second set of runs fails on 5xx, a third uses a wrong (equally recognisable) token. Then
neither token may appear in captured stdout/stderr, log records, task log files, any cell of the
metadata DB (XComs, rendered template fields, trigger rows and events, task instances), the text of
the exceptions the hook, operator and trigger raise, or the reprs of hook, settings, tasks and
trigger. A redirect to another host is not followed, by the sync hook nor by the async trigger.

Every search has a control that proves the place searched is not empty, and the search itself is
shown to find a token where one is known to be (the fake API's log of a wrong token).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import json
import logging
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_conversations.exceptions import ConversationsAPIError
from airflow_provider_conversations.hooks.conversations import ConversationsHook
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.sensors.conversations import ConversationsSensor
from airflow_provider_conversations.testing import Faults, generate_conversations
from airflow_provider_conversations.triggers.conversations import ConversationsTrigger
from tests.conftest import conversations_conn, read_records
from tests.integration.conftest import read_objects, run_dag_source

SECRET = "tok-LEAKCHECK-9f3b2c"
WRONG = "tok-LEAKCHECK-wrong-5e1d"
NEEDLES = (SECRET, WRONG, "LEAKCHECK")  # the common part catches a token cut or re-encoded around it

UTC = timezone.utc
DAY = datetime(2025, 1, 3, tzinfo=UTC)
LOGICAL = datetime(2025, 1, 4, tzinfo=UTC)
RANGE = {"created_at_gte": "2025-01-03T00:00:00.000000Z", "created_at_lt": "2025-01-04T00:00:00.000000Z"}

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_BODY = (
    "ConversationsSensor(task_id='wait_poke', mode='poke', deferrable=False, poke_interval=0.1, timeout={timeout}),"
    " ConversationsSensor(task_id='wait_deferred', deferrable=True, poke_interval=0.1, timeout={timeout}),"
    " ConversationsToS3Operator(task_id='export', s3_bucket={bucket!r}, s3_prefix='{{{{ params.prefix }}}}/{{{{ ds }}}}',"
    " window_size=datetime.timedelta(hours=6), filters={{'media_type': '{{{{ params.media }}}}'}})"
)


def leaks(text: str) -> list[str]:
    """The needles found in ``text``."""
    return [needle for needle in NEEDLES if needle in text]


def set_connection(monkeypatch: pytest.MonkeyPatch, url: str, token: str, **extra: Any) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CONVERSATIONS_DEFAULT", conversations_conn(url, token, **extra))


def db_cells() -> Iterator[tuple[str, str]]:
    """``(table, text)`` of every cell of the sqlite metadata DB (whole tables, not only our DAGs' rows)."""
    path = Path(os.environ["AIRFLOW_HOME"]) / "airflow.db"
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for values in db.execute(f'SELECT * FROM "{table}"'):  # table names from sqlite_master
                for value in values:
                    if isinstance(value, bytes):
                        yield table, value.decode("utf-8", "replace")
                    elif value is not None:
                        yield table, str(value)


def log_files() -> dict[str, str]:
    """Every file under ``$AIRFLOW_HOME/logs`` with its text."""
    root = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return {str(p): p.read_text("utf-8", "replace") for p in root.rglob("*") if p.is_file()} if root.exists() else {}


def exception_text(err: BaseException) -> str:
    return "".join(traceback.format_exception(type(err), err, err.__traceback__)) + repr(err)


def first_event(trigger: ConversationsTrigger) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(main(), timeout=30))


def test_the_token_appears_in_no_log_xcom_rendered_field_exception_or_repr(
    conversations_api_factory, monkeypatch, s3_client, bucket, capfd, caplog
):
    caplog.set_level(logging.DEBUG)
    api = conversations_api_factory(
        records=generate_conversations(80, seed=4, start=DAY, end=LOGICAL), token=SECRET, strict_params=True
    )
    params = {"prefix": "leakcheck-out", "media": "video"}

    # 1. A good run: both sensors see records, the export writes them.
    set_connection(monkeypatch, api.url, SECRET, backoff_base=0.01)
    _run, tis = run_dag_source("leak_ok", LOGICAL, DAG_BODY.format(timeout=30, bucket=bucket), params)
    assert {t: ti.state for t, ti in tis.items()} == dict.fromkeys(("wait_poke", "wait_deferred", "export"), "success")
    assert api.stats.status_counts.get(200, 0) >= 3  # the token was sent, and accepted
    written = read_objects(s3_client, bucket)
    assert any("/part-" in k for k in written) and all(k.startswith("leakcheck-out/2025-01-04/") for k in written)
    assert not any(leaks(body.decode("utf-8", "replace")) for body in written.values())

    # 2. A failing run: every answer is a 5xx (retried once, then the tasks fail).
    api.faults.error_rate = 1.0
    set_connection(monkeypatch, api.url, SECRET, backoff_base=0.01, max_retries=1)
    _run, tis = run_dag_source("leak_5xx", LOGICAL, DAG_BODY.format(timeout=1, bucket=bucket), params)
    assert {ti.state for ti in tis.values()} == {"failed"}
    api.faults.error_rate = 0.0

    # 3. A run with a wrong token: 401 at once.
    set_connection(monkeypatch, api.url, WRONG, backoff_base=0.01)
    _run, tis = run_dag_source("leak_401", LOGICAL, DAG_BODY.format(timeout=30, bucket=bucket), params)
    assert {ti.state for ti in tis.values()} == {"failed"}
    # Control: the wrong token really went out, and `leaks` finds it where it is (the fake logs a wrong
    # token unmasked; a correct one as ***).
    assert leaks(repr(api.request_log)) == [WRONG, "LEAKCHECK"]
    assert api.stats.status_counts.get(401, 0) >= 3

    # 4. The hook, the tasks and the trigger directly: exceptions and reprs.
    texts: dict[str, str] = {}
    set_connection(monkeypatch, api.url, SECRET, backoff_base=0.01, max_retries=1)
    hook = ConversationsHook()
    assert hook.count_conversations(**RANGE) == len(api.ids_in_range(DAY, LOGICAL))
    api.faults.error_rate = 1.0
    with pytest.raises(ConversationsAPIError, match="the API failed") as exc:
        ConversationsHook().count_conversations(**RANGE)
    texts["hook 5xx error"] = exception_text(exc.value)
    api.faults.error_rate = 0.0
    set_connection(monkeypatch, api.url, WRONG, backoff_base=0.01)
    with pytest.raises(ConversationsAPIError, match="401") as exc:
        read_records(ConversationsHook(), **RANGE)
    texts["hook 401 error"] = exception_text(exc.value)
    operator = ConversationsToS3Operator(task_id="x", s3_bucket=bucket, s3_prefix="q", window_size=timedelta(days=1))
    with pytest.raises(ConversationsAPIError, match="401") as exc:
        operator.execute({"data_interval_start": DAY, "data_interval_end": LOGICAL})
    texts["operator 401 error"] = exception_text(exc.value)
    trigger = ConversationsTrigger("conversations_default", RANGE, poke_interval=0.05)
    event = first_event(trigger)
    assert event["status"] == "error" and event["status_code"] == 401
    texts["trigger 401 event"] = json.dumps(event)
    sensor = ConversationsSensor(task_id="s", **RANGE)
    with pytest.raises(ConversationsAPIError, match="waiting for conversations failed") as exc:
        sensor.execute_complete({}, event)
    texts["sensor error from the event"] = exception_text(exc.value)
    texts["reprs"] = "\n".join(
        [
            repr(hook),
            repr(hook.settings),
            str(hook.settings),
            repr(hook.retry_policy),
            repr(operator),
            repr(sensor),
            repr(trigger),
            json.dumps(trigger.serialize()),
        ]
    )
    assert "base_url=" in texts["reprs"] and "401" in texts["hook 401 error"]  # not empty

    # -- the searches ----------------------------------------------------------------------------------------
    captured = capfd.readouterr()
    output = captured.out + captured.err
    # Control: every run printed its tasks' progress and failures here.
    for expected in ("Exporting conversations created in", "the API failed", "rejected the token (401 Unauthorized)"):
        assert expected in output, expected
    assert not leaks(output), "a token in captured stdout/stderr"

    records = [
        (r.name, r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else ""))
        for r in caplog.records
    ]
    assert records, "no log records were captured"
    assert not [(name, text) for name, text in records if leaks(text)], "a token in a log record"

    # dag.test() runs tasks in-process and logs to stdout: check the task log files there are (if any).
    files = log_files()
    assert not {path: leaks(text) for path, text in files.items() if leaks(text)}, "a token in a task log file"

    cells = list(db_cells())
    tables = {table for table, _ in cells}
    # Control: XComs (the export's summary, the sensors' counts) and rendered templates were stored.
    assert any(t == "xcom" and bucket in text for t, text in cells), "no XCom of the export"
    assert any(t == "rendered_task_instance_fields" and "leakcheck-out/2025-01-04" in text for t, text in cells)
    assert any(t == "rendered_task_instance_fields" and "video" in text for t, text in cells)
    assert {"xcom", "rendered_task_instance_fields", "task_instance", "trigger"} <= tables
    assert not sorted({table for table, text in cells if leaks(text)}), "a token in the metadata DB"

    for name, text in texts.items():
        assert not leaks(text), f"a token in the {name}: {text}"


@pytest.fixture
def redirecting(conversations_api_factory, monkeypatch):
    """A fake API answering 302 to a second fake on another host name (localhost vs 127.0.0.1)."""
    other = conversations_api_factory(
        records=generate_conversations(5, seed=2, start=DAY, end=LOGICAL), token=SECRET, host="127.0.0.1"
    )
    target = f"http://localhost:{other.port}"
    api = conversations_api_factory(records=[], token=SECRET, faults=Faults(redirect_to=target))
    set_connection(monkeypatch, api.url, SECRET, backoff_base=0.01)
    # Control: a client that follows redirects does reach the other server.
    requests.get(f"{api.url}/v2/conversations", headers={"Authorization": "Bearer x"}, timeout=5)
    assert other.stats.requests == 1
    other.reset_stats()
    api.reset_stats()
    return api, other, target


def test_the_sync_hook_does_not_follow_a_redirect_to_another_host(redirecting):
    api, other, target = redirecting
    with pytest.raises(ConversationsAPIError) as exc:
        ConversationsHook().count_conversations(**RANGE)
    err = exc.value
    assert err.status == 302 and "redirects are not followed" in str(err)
    assert f"to {target}/v2/conversations;" in str(err)  # the query is cut off
    assert not leaks(exception_text(err))
    assert api.stats.requests == 1 and other.stats.requests == 0


def test_the_async_trigger_does_not_follow_a_redirect_to_another_host(redirecting):
    api, other, _target = redirecting
    event = first_event(ConversationsTrigger("conversations_default", RANGE, poke_interval=0.05))
    assert event["status"] == "error" and event["status_code"] == 302
    assert "redirects are not followed" in event["message"] and not leaks(json.dumps(event))
    assert api.stats.requests == 1 and other.stats.requests == 0


WRONG_TYPE_PASSWORD = "aws-LEAKCHECK-secret-7d2e"
SSEC_KEY = "ssec-LEAKCHECK-0123456789abcdefg"  # 32 bytes: an AES-256 key as boto3 takes it
SSEC_NEEDLES = (SSEC_KEY, base64.b64encode(SSEC_KEY.encode()).decode(), "LEAKCHECK")  # botocore sends it base64
RUN_SCRIPT = """\
import datetime, sys
sys.path.insert(0, {root!r})
from tests.integration.conftest import run_dag_source
run, tis = run_dag_source({dag_id!r}, datetime.datetime(2025, 1, 4, tzinfo=datetime.timezone.utc), {body!r})
print("STATES=" + repr({{t: str(ti.state) for t, ti in tis.items()}}))
"""


def run_at_debug(tmp_path: Path, dag_id: str, body: str, **env: str) -> tuple[dict[str, str], str, str]:
    """Run a DAG with ``dag.test()`` in a subprocess at DEBUG, with OpenLineage's file transport.

    Returns the task states, everything the run printed, and the OpenLineage events as text. Airflow's
    supervisor traces each secret-masking request at DEBUG with the secret in it (``MaskSecret(value=...)``);
    those lines are Airflow's own and are left out.
    """
    events = tmp_path / f"{dag_id}-openlineage.jsonl"
    script = tmp_path / f"{dag_id}.py"
    script.write_text(RUN_SCRIPT.format(root=str(Path(__file__).resolve().parents[2]), dag_id=dag_id, body=body))
    run_env = {
        **os.environ,
        **env,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "leak-tests",
    }
    done = subprocess.run([sys.executable, str(script)], env=run_env, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    states = [line for line in done.stdout.splitlines() if line.startswith("STATES=")]
    assert states, output[-3000:]
    output = "\n".join(line for line in output.splitlines() if "MaskSecret(" not in line)
    assert "[debug" in output, "the run did not log at DEBUG"
    lineage = events.read_text() if events.exists() else ""
    assert dag_id in lineage, "no OpenLineage events were written"
    return ast.literal_eval(states[-1].removeprefix("STATES=")), output, lineage


def places_with(needles: tuple[str, ...], output: str, lineage: str, objects: dict[str, bytes]) -> dict[str, list[str]]:
    """Where each needle was found: the run's output, OpenLineage's events, the objects, the metadata DB."""

    def found(text: str) -> list[str]:
        return [needle for needle in needles if needle in text]

    places = {
        "run output (DEBUG)": found(output),
        "OpenLineage events": found(lineage),
        "objects written": sorted({n for body in objects.values() for n in found(body.decode("utf-8", "replace"))}),
        "metadata DB": sorted({table for table, text in db_cells() if found(text)}),
    }
    return {place: what for place, what in places.items() if what}


def test_no_run_writes_the_token_or_the_password_of_a_wrong_type_connection(
    conversations_api_factory, monkeypatch, s3_client, bucket, tmp_path
):
    """A run at DEBUG: an export and a deferrable sensor whose ``conversations_conn_id`` is an ``aws``
    connection (its host the fake API), and an export with the right connection. Neither the token nor
    the aws password is in the run's output (task logs at DEBUG), the metadata DB (XCom, rendered fields,
    trigger rows), OpenLineage's events, the objects written (manifests, parts) or what the API received."""
    api = conversations_api_factory(
        records=generate_conversations(40, seed=6, start=DAY, end=LOGICAL), token=SECRET, strict_params=True
    )
    set_connection(monkeypatch, api.url, SECRET, backoff_base=0.01)
    monkeypatch.setenv(
        "AIRFLOW_CONN_NOT_OURS",
        json.dumps({"conn_type": "aws", "host": api.url, "login": "AKIA", "password": WRONG_TYPE_PASSWORD}),
    )
    body = (
        f"ConversationsToS3Operator(task_id='wrong_type', conversations_conn_id='not_ours', s3_bucket={bucket!r},"
        " s3_prefix='leak/wrong'),"
        " ConversationsSensor(task_id='wrong_type_deferred', conversations_conn_id='not_ours', deferrable=True,"
        " poke_interval=0.1, timeout=30),"
        f" ConversationsToS3Operator(task_id='export', s3_bucket={bucket!r}, s3_prefix='leak/ok')"
    )
    states, output, lineage = run_at_debug(tmp_path, "leak_wrong_type", body)
    # Controls: the wrong-type tasks failed on the type, before any request; the export read and wrote.
    assert states == {"wrong_type": "failed", "wrong_type_deferred": "failed", "export": "success"}, states
    assert "is of type 'aws'; expected a connection of type 'conversations'" in output
    assert api.stats.status_counts.get(200, 0) >= 1
    assert WRONG_TYPE_PASSWORD not in repr(api.request_log), "the wrong-type password reached the API"
    objects = read_objects(s3_client, bucket, "leak/")
    assert any("_manifest-" in key for key in objects)
    assert not places_with((SECRET, WRONG_TYPE_PASSWORD, "LEAKCHECK"), output, lineage, objects)


def test_no_run_writes_an_sse_c_key_given_in_s3_extra_args(
    conversations_api_factory, monkeypatch, s3_client, bucket, tmp_path
):
    """An export with an SSE-C key in ``s3_extra_args`` (read from the environment in the DAG file, as a
    user would, so the DAG's source holds no key): the key, raw or base64 as botocore sends it, is in
    nothing the run writes. Fails while boto3's and s3transfer's DEBUG lines print the key unmasked."""
    api = conversations_api_factory(
        records=generate_conversations(40, seed=6, start=DAY, end=LOGICAL), token=SECRET, strict_params=True
    )
    set_connection(monkeypatch, api.url, SECRET, backoff_base=0.01)
    body = (
        f"ConversationsToS3Operator(task_id='ssec', s3_bucket={bucket!r}, s3_prefix='leak/ssec',"
        " s3_extra_args={'SSECustomerAlgorithm': 'AES256',"
        " 'SSECustomerKey': __import__('os').environ['LEAK_SSEC_KEY']})"
    )
    states, output, lineage = run_at_debug(tmp_path, "leak_ssec", body, LEAK_SSEC_KEY=SSEC_KEY)
    assert states == {"ssec": "success"}, states
    objects = read_objects(s3_client, bucket, "leak/")  # moto answers SSE-C GETs without the key
    assert any("_manifest-" in key for key in objects) and api.stats.requests >= 1
    assert not places_with(SSEC_NEEDLES, output, lineage, objects)
