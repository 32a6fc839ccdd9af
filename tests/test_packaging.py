"""The built wheel: its license files, metadata and extras, as a user's ``pip install`` receives them.

The wheel is built in-process by the project's own build backend (hatchling, from the ``test`` extra),
from this checkout, into a temporary directory.
"""

from __future__ import annotations

import email
import os
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from airflow_provider_conversations.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    from hatchling.build import build_wheel

    out = tmp_path_factory.mktemp("wheel")
    cwd = Path.cwd()
    os.chdir(ROOT)  # a PEP 517 backend builds the project in its working directory
    try:
        name = build_wheel(str(out))
    finally:
        os.chdir(cwd)
    with zipfile.ZipFile(out / name) as whl:
        yield whl


def _dist_info(wheel: zipfile.ZipFile) -> str:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return metadata.rsplit("/", 1)[0]


def _metadata(wheel: zipfile.ZipFile) -> Message:
    return email.message_from_bytes(wheel.read(f"{_dist_info(wheel)}/METADATA"))


def test_license_is_the_apache_2_text():
    text = (ROOT / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "END OF TERMS AND CONDITIONS" in text and "9. Accepting Warranty or Additional Liability." in text
    assert "airflow-provider-conversations" in (ROOT / "NOTICE").read_text()


@pytest.mark.parametrize("name", ["LICENSE", "NOTICE"])
def test_wheel_carries_the_repositorys_license_files(wheel: zipfile.ZipFile, name: str):
    assert wheel.read(f"{_dist_info(wheel)}/licenses/{name}") == (ROOT / name).read_bytes()
    assert name in _metadata(wheel).get_all("License-File", [])


def test_wheel_metadata_declares_apache_2_and_describes_both_formats(wheel: zipfile.ZipFile):
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "Apache-2.0"
    for description in (metadata["Summary"], get_provider_info()["description"]):
        assert "JSONL or Parquet" in description, description


def test_openlineage_extra_brings_the_openlineage_provider(wheel: zipfile.ZipFile):
    requires = _metadata(wheel).get_all("Requires-Dist", [])
    assert "openlineage" in _metadata(wheel).get_all("Provides-Extra", [])
    assert any(r.startswith("apache-airflow-providers-openlineage") and "extra == 'openlineage'" in r for r in requires)
