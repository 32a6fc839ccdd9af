"""connection_form: one table of extra fields for parsing and the declarative form (the 3.0/3.1 widgets need FAB)."""

from __future__ import annotations

import dataclasses

from airflow_provider_conversations.api.connection import ConnectionSettings
from airflow_provider_conversations.api.form import EXTRA_FIELDS, conn_fields


def test_every_extra_field_is_a_connection_setting_with_the_same_default():
    defaults = {
        f.name: f.default for f in dataclasses.fields(ConnectionSettings) if f.name not in ("base_url", "token")
    }
    assert {spec.name: spec.default for spec in EXTRA_FIELDS} == defaults


def test_declarative_fields_cover_every_extra_in_form_order():
    names = [spec.name for spec in EXTRA_FIELDS]
    assert [name for name in conn_fields() if name in names] == names
