"""Local part files, one lifecycle for every format: open, encode records, roll at ``max_records``, close.

:class:`PartWriter` opens a part at the first record, hashes and counts its bytes as they are written
(so a part is never read again for its MD5), closes it after ``max_records`` records and returns a
:class:`LocalPart` per file. A format only encodes: it subclasses :class:`PartWriter` and says how a
part starts (:meth:`~PartWriter._start`), takes a record (:meth:`~PartWriter._add`) and ends
(:meth:`~PartWriter._finish`).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar


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


class HashingFile:
    """A write-only binary file that counts and hashes the bytes written through it.

    :param raw: the file the bytes go to; closing it is the caller's business.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.size, self.md5 = raw, 0, hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes | bytearray) -> int:
        """Write ``data``, adding it to the count and the hash."""
        self.md5.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def tell(self) -> int:
        """Bytes written so far."""
        return self.size

    def flush(self) -> None:
        """Flush the underlying file."""
        self.raw.flush()

    @property
    def closed(self) -> bool:
        """Whether the underlying file is closed."""
        return self.raw.closed


class PartWriter(ABC):
    """Write records into local part files of at most ``max_records`` records each.

    Part ``n`` is ``{directory}/part-{n:05d}{SUFFIX}``. The same records give the same files.

    :param directory: where part files are created.
    :param compression: the format's compression (see :data:`~.formats.COMPRESSIONS`).
    :param max_records: records per part, at most.
    :param on_part: called with each part as soon as it is finished (rolled at ``max_records``, or the
        last one on :meth:`close`), in the writing thread, so it can be uploaded while writing goes on.
    """

    #: What the part file names end with.
    SUFFIX: ClassVar[str] = ""

    def __init__(
        self,
        directory: Path,
        *,
        compression: str | None,
        max_records: int,
        on_part: Callable[[LocalPart], None] | None = None,
    ) -> None:
        self.directory, self.compression, self.max_records = directory, compression, max_records
        self.on_part = on_part
        self.parts: list[LocalPart] = []
        self._path: Path | None = None
        self._raw: IO[bytes] | None = None
        self._out: HashingFile | None = None
        self._count = 0

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (exactly as the API returned it).

        :param record: a conversation, as decoded from the API's answer.
        """
        if self._out is None:
            self._open()
        self._add(record)
        self._count += 1
        if self._count >= self.max_records:
            self._close()

    def close(self) -> list[LocalPart]:
        """Finish the open part and return every part (none when no record was written)."""
        self._close()
        return self.parts

    def _open(self) -> None:
        self._path = self.directory / f"part-{len(self.parts):05d}{self.SUFFIX}"
        self._raw = open(self._path, "wb")  # noqa: SIM115 (closed in _close)
        self._out = HashingFile(self._raw)
        self._count = 0
        self._start(self._out)

    def _close(self) -> None:
        if self._out is None:
            return
        out, raw, path = self._out, self._raw, self._path
        assert raw is not None and path is not None
        self._out = None
        try:
            self._finish()
        finally:
            raw.close()
        part = LocalPart(path, self._count, out.size, out.md5.hexdigest())
        self.parts.append(part)
        if self.on_part is not None:
            self.on_part(part)

    @abstractmethod
    def _start(self, out: HashingFile) -> None:
        """Begin a part whose bytes go to ``out``."""

    @abstractmethod
    def _add(self, record: dict[str, Any]) -> None:
        """Encode one record into the open part."""

    @abstractmethod
    def _finish(self) -> None:
        """Write what is buffered and the format's trailer; the file is closed after."""
