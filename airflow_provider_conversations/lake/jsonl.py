"""Write records as JSONL parts on local disk: bounded memory, deterministic bytes."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from airflow_provider_conversations.api.codec import encode_line


@dataclass(frozen=True)
class LocalPart:
    """A finished part file.

    :param path: the local file.
    :param records: records in it.
    :param size: bytes on disk (compressed, if gzip).
    :param md5: hex MD5 of the file's bytes (what S3 reports as the ETag of a single-part upload).
    """

    path: Path
    records: int
    size: int
    md5: str


class _HashingFile:
    """Count and hash the bytes written through it (so parts need not be read again)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.size, self.md5 = raw, 0, hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class JsonlPartWriter:
    """Write records, one compact JSON object per line, into parts of at most ``max_records`` records.

    gzip output carries no file name and a zero mtime, so the same records give the same bytes.

    :param directory: where part files are created.
    :param compression: ``None`` or ``"gzip"``.
    :param max_records: records per part, at most.
    """

    #: Bytes of encoded lines collected before they are written (memory stays bounded by it).
    BLOCK_BYTES = 256 * 1024

    def __init__(self, directory: Path, *, compression: str | None, max_records: int) -> None:
        self.directory, self.compression, self.max_records = directory, compression, max_records
        self.parts: list[LocalPart] = []
        self._raw: IO[bytes] | None = None
        self._hashing: _HashingFile | None = None
        self._out: Any = None
        self._count = 0
        self._path: Path | None = None
        self._buffer: list[bytes] = []
        self._buffered = 0

    def _open(self) -> None:
        self._path = self.directory / f"part-{len(self.parts):05d}"
        self._raw = open(self._path, "wb")  # noqa: SIM115 (closed in _close)
        self._hashing = _HashingFile(self._raw)
        if self.compression == "gzip":
            self._out = gzip.GzipFile(filename="", mode="wb", fileobj=self._hashing, mtime=0, compresslevel=6)
        else:
            self._out = self._hashing
        self._count = 0

    def _flush(self) -> None:
        if self._buffer:
            self._out.write(b"".join(self._buffer))
            self._buffer.clear()
            self._buffered = 0

    def _close(self) -> None:
        if self._out is None:
            return
        self._flush()
        if self._out is not self._hashing:
            self._out.close()
        assert self._raw is not None and self._hashing is not None and self._path is not None
        self._raw.close()
        self.parts.append(LocalPart(self._path, self._count, self._hashing.size, self._hashing.md5.hexdigest()))
        self._out = None

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (exactly as the API returned it)."""
        if self._out is None:
            self._open()
        line = encode_line(record)
        # Lines go out in blocks: one hash update and one write per block, not per record.
        self._buffer.append(line)
        self._buffered += len(line)
        if self._buffered >= self.BLOCK_BYTES:
            self._flush()
        self._count += 1
        if self._count >= self.max_records:
            self._close()

    def close(self) -> list[LocalPart]:
        """Finish the open part and return every part (none when no record was written)."""
        self._close()
        return self.parts
