"""parts: one lifecycle for every format: parts opened on the first record, rolled at max_records, hashed while written."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_conversations.lake.parts import HashingFile, PartWriter


class IdLines(PartWriter):
    """A format that writes each record's id on a line, between a header and a trailer."""

    SUFFIX = ".txt"

    def _start(self, out: HashingFile) -> None:
        self.out = out
        out.write(b"start\n")

    def _add(self, record: dict[str, Any]) -> None:
        if record["id"] == "boom":
            raise ValueError("cannot encode")
        self.out.write(f"{record['id']}\n".encode())

    def _finish(self) -> None:
        self.out.write(b"end\n")


def test_parts_roll_at_max_records_and_carry_size_and_md5_of_their_bytes(tmp_path: Path):
    writer = IdLines(tmp_path, compression=None, max_records=2)
    for i in range(5):
        writer.write({"id": f"r{i}"})
    parts = writer.close()
    assert [(p.path.name, p.records) for p in parts] == [
        ("part-00000.txt", 2),
        ("part-00001.txt", 2),
        ("part-00002.txt", 1),
    ]
    assert parts[1].path.read_bytes() == b"start\nr2\nr3\nend\n"
    for part in parts:
        body = part.path.read_bytes()
        assert (part.size, part.md5) == (len(body), hashlib.md5(body).hexdigest())


def test_a_part_is_opened_by_its_first_record_only(tmp_path: Path):
    writer = IdLines(tmp_path, compression=None, max_records=2)
    assert writer.close() == [] and list(tmp_path.iterdir()) == []
    for i in range(4):
        writer.write({"id": f"r{i}"})
    assert len(writer.close()) == 2 and len(list(tmp_path.iterdir())) == 2  # no empty third part


def test_a_record_the_format_refuses_fails_the_write(tmp_path: Path):
    writer = IdLines(tmp_path, compression=None, max_records=10)
    writer.write({"id": "r0"})
    with pytest.raises(ValueError, match="cannot encode"):
        writer.write({"id": "boom"})
