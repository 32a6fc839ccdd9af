"""A window's committed sentence rows, read forward once and handed out one transcription at a time.

The change sync keeps an unchanged transcription's sentences from the window's committed version
instead of reading them from the API again. The committed sentence rows are in the order they were
written: transcription by transcription, in the order of the committed transcriptions table, each one's
rows by ``sentence_index``. A new listing of the window comes in the same order (the transcriptions'
``created_at``, then ``id``), less the deleted ones and plus the new ones, so one forward pass over the
rows serves every kept transcription, and memory holds one transcription's rows and one part, never the
window's.

Whatever does not fit that order (a transcription the pass went past, rows out of sequence, a part that
disappeared because a newer version was committed meanwhile) makes :meth:`KeptSentences.take` answer
``None``: the caller reads those sentences from the API instead. Nothing is ever returned short.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError

__all__ = ["KeptSentences"]

log = logging.getLogger(__name__)

_END = object()


class KeptSentences:
    """Hand out the committed sentence rows of each transcription, in one forward pass.

    :param order: the committed transcriptions' ids, in the committed order.
    :param rows: the committed sentence rows, in the committed order (read lazily).
    """

    def __init__(self, order: Iterable[str], rows: Iterable[dict[str, Any]]) -> None:
        self.position = {tid: n for n, tid in enumerate(order)}
        self._rows: Iterator[dict[str, Any]] = iter(rows)
        self._next: Any = None  # the row read ahead (None: none read yet; _END: no more)
        self._at = -1  # position of the last transcription handed out
        self.broken = False

    def take(self, tid: str) -> list[dict[str, Any]] | None:
        """The committed rows of transcription ``tid``, or ``None`` when they cannot be taken in this pass.

        Rows of transcriptions before ``tid`` in the committed order (deleted or read again) are passed
        over. ``None``: ``tid`` is not committed, comes before one already taken, its rows are not
        ``0, 1, 2, ...`` by ``sentence_index``, or the rows could not be read.

        :param tid: the transcription's id.
        """
        at = self.position.get(tid)
        if at is None or at <= self._at or self.broken:
            return None
        self._at = at
        taken: list[dict[str, Any]] = []
        while (row := self._peek()) is not _END:
            row_at = self.position.get(str(row.get("transcription_id")), -1)
            if row_at > at:
                break
            self._next = None
            if row_at == at:
                taken.append(row)
        if self.broken or any(row.get("sentence_index") != n for n, row in enumerate(taken)):
            return None
        return taken

    def _peek(self) -> Any:
        if self._next is None:
            try:
                self._next = next(self._rows, _END)
            except ConversationsDestinationError as err:
                log.warning("The committed sentences cannot be read on (%s): the rest are read from the API", err)
                self.broken, self._next = True, _END
        return self._next
