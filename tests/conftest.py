from __future__ import annotations

import json
import os
import tempfile
from importlib.metadata import version

# Airflow reads its home and config at import time: isolate it before anything imports airflow.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = tempfile.mkdtemp(prefix="airflow-dags-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
if int(version("apache-airflow").split(".")[0]) < 3:
    # Airflow 2 refuses SQLite with its LocalExecutor (sensors look the executor up); 3.x has no SequentialExecutor.
    os.environ["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"

import pytest

pytest_plugins = ["airflow_provider_conversations.testing.pytest_plugin"]

TOKEN = "tok-SECRET-3f9a7c"  # recognisable, so tests can prove it never leaks


def conversations_conn(url: str, token: str | None = TOKEN, **extra: object) -> str:
    """The JSON form of a ``conversations`` connection, as an ``AIRFLOW_CONN_*`` env var holds it."""
    conn: dict[str, object] = {"conn_type": "conversations", "host": url}
    if token is not None:
        conn["password"] = token
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch):
    """Set ``AIRFLOW_CONN_<ID>`` for a conversations connection."""

    def _set(url: str, token: str | None = TOKEN, conn_id: str = "conversations_default", **extra: object) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conversations_conn(url, token, **extra))
        return conn_id

    return _set


@pytest.fixture
def api(conversations_api_factory, set_conn):
    """A fake API without records (yet), strict about parameter names, behind ``conversations_default``.

    Modules that need another fake (records, faults) define their own ``api`` fixture.
    """
    api = conversations_api_factory(records=[], token=TOKEN, strict_params=True)
    set_conn(api.url, TOKEN, backoff_base=0.01)
    return api


def read_records(hook, created_at_gte, created_at_lt, filters=None, **kwargs) -> list[dict]:
    """Every record of ``hook.read_pages`` over the range, in order (what tests compare)."""
    pages = hook.read_pages(filters, created_at_gte=created_at_gte, created_at_lt=created_at_lt, **kwargs)
    return [record for page in pages for record in page.records]
