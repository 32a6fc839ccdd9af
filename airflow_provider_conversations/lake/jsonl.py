"""Write records as JSONL parts on local disk: bounded memory, deterministic bytes, every value as the API sent it.

Each line is :func:`~airflow_provider_conversations.api.codec.encode_line` of a record: compact UTF-8
JSON in which no number or string is changed (see :mod:`~airflow_provider_conversations.api.codec`).
"""

from __future__ import annotations

import gzip
from typing import Any

from airflow_provider_conversations.api.codec import append_line
from airflow_provider_conversations.lake.parts import HashingFile, LocalPart, PartWriter

__all__ = ["JsonlPartWriter", "LocalPart"]


class JsonlPartWriter(PartWriter):
    """Write records, one compact JSON object per line, into parts of at most ``max_records`` records.

    gzip output carries no file name and a zero mtime, so the same records give the same bytes.

    :param directory: where part files are created.
    :param compression: ``None`` or ``"gzip"``.
    :param max_records: records per part, at most.
    """

    #: Bytes of encoded lines collected before they are written (memory stays bounded by it).
    BLOCK_BYTES = 256 * 1024

    _stream: gzip.GzipFile | HashingFile
    _block: bytearray

    def _start(self, out: HashingFile) -> None:
        if self.compression == "gzip":
            self._stream = gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6)
        else:
            self._stream = out
        self._block = bytearray()

    def _add(self, record: dict[str, Any]) -> None:
        # Lines go out in blocks: one hash update and one write per block, not per record.
        append_line(record, self._block)
        if len(self._block) >= self.BLOCK_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._block:
            self._stream.write(self._block)
            self._block.clear()

    def _finish(self) -> None:
        self._flush()
        if isinstance(self._stream, gzip.GzipFile):
            self._stream.close()
