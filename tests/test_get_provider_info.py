from __future__ import annotations

import importlib
import json
from importlib.metadata import distribution, entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_conversations.get_provider_info import get_provider_info

SCHEMAS = Path(airflow.__file__).parent


def test_provider_info_matches_core_schema():
    jsonschema.validate(get_provider_info(), json.loads((SCHEMAS / "provider_info.schema.json").read_text()))


def test_connection_types_match_provider_yaml_schema():
    schema = json.loads((SCHEMAS / "provider.yaml.schema.json").read_text())
    jsonschema.validate(get_provider_info()["connection-types"], schema["properties"]["connection-types"])


def test_package_name_is_the_installed_distribution_and_entry_point_resolves():
    info = get_provider_info()
    assert distribution(info["package-name"]).metadata["Name"] == info["package-name"]
    (ep,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider_conv")]
    assert ep.load() is get_provider_info


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(key, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn["connection-type"]


@pytest.mark.filterwarnings("ignore:ProvidersManager.hooks is deprecated")
def test_providers_manager_finds_hook_and_connection_type():
    # The form's fields, as each Airflow's UI builds them: tests/compat/test_supported_versions.py
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-conversations" in pm.providers
    hook_info = pm.hooks["conversations"]
    assert hook_info is not None
    assert hook_info.hook_class_name.endswith("ConversationsHook") and hook_info.connection_testable
