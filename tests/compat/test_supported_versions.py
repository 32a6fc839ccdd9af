"""What a user of each supported Airflow (2.11, 3.0 onwards) sees first: install, list, form, Test, README.

``make test`` runs this on the newest Airflow; ``make test-compat`` runs it (with the integration,
hook, sensor and trigger suites) in one venv per older Airflow. Every test asserts what the installed
version does, so the same file proves the provider on each.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import airflow_provider_conversations
from airflow_provider_conversations import version_compat
from airflow_provider_conversations.api.form import EXTRA_FIELDS
from airflow_provider_conversations.testing import generate_conversations
from tests.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(airflow_provider_conversations.__path__, "airflow_provider_conversations.")
    if m.name != "airflow_provider_conversations.testing.__main__"
)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module):
    importlib.import_module(module)


def test_version_compat_takes_each_name_from_where_the_installed_airflow_keeps_it():
    major_minor = version_compat.get_base_airflow_version_tuple()[:2]
    assert version_compat.AIRFLOW_V_3_0_PLUS is (major_minor >= (3, 0))
    base_hook_module = version_compat.BaseHook.__module__
    if major_minor >= (3, 1):
        assert base_hook_module.startswith("airflow.sdk")
    else:  # the task SDK of 3.0 has no BaseHook; 2.11 has no task SDK
        assert base_hook_module == "airflow.hooks.base"
    operator_module = version_compat.BaseOperator.__module__
    assert operator_module.startswith("airflow.sdk" if major_minor >= (3, 0) else "airflow.models")
    timetable = version_compat.CronDataIntervalTimetable("@daily", timezone="UTC")
    assert timetable.__class__.__module__.startswith("airflow.sdk" if major_minor >= (3, 2) else "airflow.timetables")


def test_providers_list_shows_the_provider():
    out = subprocess.run(
        [str(AIRFLOW), "providers", "list", "--output", "json"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    packages = {row["package_name"]: row for row in _json_after_logs(out)}
    assert packages["airflow-provider-conversations"]["version"] == airflow_provider_conversations.__version__


def _json_after_logs(text: str) -> list[dict[str, str]]:
    """The JSON list the CLI printed (Airflow may log lines starting with ``[`` before it)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\[", text, flags=re.M):
        try:
            value, _ = decoder.raw_decode(text[match.start() :])
        except json.JSONDecodeError:
            continue
        if isinstance(value, list):
            return value
    raise AssertionError(f"no JSON list in the CLI output: {text[-500:]!r}")


FORM_PROBE = """
import json
from airflow_provider_conversations.version_compat import AIRFLOW_V_3_0_PLUS
if not AIRFLOW_V_3_0_PLUS:  # the Flask UI: the hook's WTForms widgets, through ProvidersManager
    from airflow.providers_manager import ProvidersManager
    pm = ProvidersManager()
    prefix = "extra__conversations__"
    extras = [k[len(prefix):] for k in pm.connection_form_widgets if k.startswith(prefix)]
    labels = pm.field_behaviours["conversations"]["relabeling"]
else:  # the React UI asks the API server, which builds the form from the hook's widgets (3.0, 3.1)
    # with WTForms mocked, or from the declarative conn-fields (3.2+)
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    metas = {m.connection_type: m for m in HookMetaService.hook_meta_data()}
    meta = metas["conversations"]
    extras = list(meta.extra_fields or {})
    fields = meta.standard_fields
    labels = {name: getattr(fields, name).title for name in ("host", "password")} if fields else {}
    any_provider_has_extras = any(m.extra_fields for m in metas.values())
print("FORM=" + json.dumps({"extras": extras, "labels": labels, "any": locals().get("any_provider_has_extras", True)}))
"""


def _form_fields() -> dict[str, object]:
    """The connection form as the installed Airflow's UI builds it, in a fresh process (as the web or
    API server would: ProvidersManager is a process-wide singleton, and 3.0/3.1 build the form with
    WTForms mocked only if nothing loaded the hooks before)."""
    out = subprocess.run(
        [sys.executable, "-c", FORM_PROBE], env=os.environ.copy(), capture_output=True, text=True, timeout=120
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("FORM=")]
    assert lines, f"the form probe failed: {out.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("FORM="))


def test_connection_form_offers_every_extra_field_and_the_relabelled_host_and_password():
    form = _form_fields()
    if (3, 0) <= version_compat.get_base_airflow_version_tuple()[:2] < (3, 1):
        # Airflow 3.0's UI builds no provider's form fields (its API server loads the hooks before it mocks
        # WTForms): every type, http's and amazon's included, gets the plain form with the Extra JSON.
        assert form == {"extras": [], "labels": {}, "any": False}
        return
    assert sorted(form["extras"]) == sorted(spec.name for spec in EXTRA_FIELDS)
    assert form["labels"] == {"host": "API base URL", "password": "API key / OAuth token"}


def _ui_test(url: str, token: str, monkeypatch: pytest.MonkeyPatch) -> tuple[bool, str]:
    """What the UI's Test action does (2.11's and 3.x's API alike): a transient connection, exported as
    an ``AIRFLOW_CONN_`` URI, then ``Connection.test_connection()``, which calls the hook's."""
    from airflow.models.connection import Connection

    conn = Connection(conn_id="transient_ui_test", conn_type="conversations", host=url, password=token)
    monkeypatch.setenv("AIRFLOW_CONN_TRANSIENT_UI_TEST", conn.get_uri())
    return conn.test_connection()


def test_connection_test_button_answers_with_the_budget_left(conversations_api_factory, monkeypatch):
    api = conversations_api_factory(records=[], token=TOKEN)
    ok, message = _ui_test(api.url, TOKEN, monkeypatch)
    assert ok, message
    assert message.startswith("Connection successfully tested") and "budget left" in message
    assert len(api.request_log) == 1


def test_connection_test_button_reports_a_bad_token_without_echoing_it(conversations_api_factory, monkeypatch):
    api = conversations_api_factory(records=[], token=TOKEN)
    ok, message = _ui_test(api.url, "not-the-token-123", monkeypatch)
    assert not ok
    assert "401" in message and "not-the-token-123" not in message


def _readme_python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_dag_snippet_builds_the_dag_on_a_data_interval_timetable():
    (dag_block,) = [b for b in _readme_python_blocks() if "with DAG(" in b]
    namespace: dict[str, object] = {}
    exec(compile(dag_block, "README.md", "exec"), namespace)
    from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
    from airflow_provider_conversations.sensors.conversations import ConversationsSensor

    wait, export = namespace["wait"], namespace["export"]
    assert isinstance(wait, ConversationsSensor) and isinstance(export, ConversationsToS3Operator)
    assert export.task_id in wait.downstream_task_ids
    # A timetable with data intervals (the operator's default range), not Airflow 3's CronTriggerTimetable.
    assert isinstance(export.dag.timetable, version_compat.CronDataIntervalTimetable)


def test_readme_hook_snippet_runs_against_the_fake_api(conversations_api_factory, set_conn):
    day = datetime(2025, 1, 1, tzinfo=timezone.utc)
    api = conversations_api_factory(
        records=generate_conversations(40, seed=3, start=day, end=day + timedelta(days=1)), token=TOKEN
    )
    set_conn(api.url, TOKEN)
    (hook_block,) = [b for b in _readme_python_blocks() if "ConversationsHook()" in b]
    namespace: dict[str, object] = {}
    exec(compile(hook_block, "README.md", "exec"), namespace)
    assert len(api.request_log) >= 2  # the read and the count both reached the API
