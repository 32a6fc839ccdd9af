"""connection_form: one table of extra fields for parsing and the declarative form (the 3.0/3.1 widgets need FAB)."""

from __future__ import annotations

import dataclasses

from airflow_provider_conversations.api.connection import ConnectionSettings
from airflow_provider_conversations.api.form import EXTRA_DEFAULTS, EXTRA_FIELDS, conn_fields
from airflow_provider_conversations.api.network import NetworkSettings


def test_every_numeric_extra_is_a_connection_setting_with_the_tables_default():
    defaults = {
        f.name: f.default for f in dataclasses.fields(ConnectionSettings) if f.name not in ("base_url", "token")
    }
    numeric = {spec.name: spec.default for spec in EXTRA_FIELDS if spec.kind is not str}
    assert {name: defaults[name] for name in numeric} == numeric
    assert set(defaults) - set(numeric) == {"network"}
    assert {spec.name: spec.default for spec in EXTRA_FIELDS} == EXTRA_DEFAULTS


def test_every_text_extra_is_a_network_setting_unset_by_default():
    texts = [spec.name for spec in EXTRA_FIELDS if spec.kind is str]
    assert texts == ["proxy", "verify", "cert", "cert_key"]
    assert {f.name for f in dataclasses.fields(NetworkSettings)} == set(texts)
    assert all(EXTRA_DEFAULTS[name] is None for name in texts)


def test_declarative_fields_cover_every_extra_in_form_order():
    names = [spec.name for spec in EXTRA_FIELDS]
    assert [name for name in conn_fields() if name in names] == names


def test_text_fields_are_nullable_strings_without_bounds():
    fields = conn_fields()
    for name in ("proxy", "verify", "cert", "cert_key"):
        assert fields[name]["schema"] == {"type": ["string", "null"]}, name
        assert fields[name]["label"] and fields[name]["description"]
    assert fields["timeout"]["schema"] == {"type": ["number", "null"], "default": 30.0, "exclusiveMinimum": 0}
