"""Asset event extra: only the table's outlet gets it; consumers get the committed manifests back."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_provider_conversations.utils.assets import add_table_event_extra, committed_manifests, table_asset_uri
from airflow_provider_conversations.version_compat import Asset


class Events(dict):
    """Stands in for outlet_events: an accessor with an ``extra`` dict per outlet, made on first use."""

    def __missing__(self, key):
        self[key] = SimpleNamespace(extra={})
        return self[key]


def test_table_asset_uri():
    assert table_asset_uri("lake", "/raw/c/") == "s3://lake/raw/c" and table_asset_uri("lake", "") == "s3://lake/"


def test_only_the_tables_outlet_gets_the_extra():
    table, other = Asset("s3://lake/raw/c/"), Asset("s3://lake/other")
    events = Events()
    assert add_table_event_extra({"outlet_events": events}, [other, table], "s3://lake/raw/c", {"records": 3}) == 1
    assert events[table].extra == {"records": 3} and events[other].extra == {}


def test_outside_airflow_nothing_happens():
    assert add_table_event_extra({}, [Asset("s3://lake/raw/c")], "s3://lake/raw/c", {"records": 3}) == 0


def test_committed_manifests_in_order_each_once():
    events = {
        "s3://lake/raw/c": [
            SimpleNamespace(extra={"manifests": ["a", "b"]}),
            SimpleNamespace(extra={"manifests": ["b", "c"]}),
            SimpleNamespace(extra={}),
        ]
    }
    assert committed_manifests(events) == ["a", "b", "c"]
