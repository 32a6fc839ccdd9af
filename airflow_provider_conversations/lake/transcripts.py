"""Transcripts as two tables with the same windows, by the transcription's ``created_at``, in any destination.

* ``sentences``: one row per sentence, the API's fields as returned plus ``transcription_id``,
  ``conversation_id``, ``sentence_index`` (0-based, in the API's order) and
  ``transcription_created_at`` (the row's window);
* ``transcriptions``: one row per transcription as the list returned it (language, timestamps,
  refs), so a transcription with no sentences is in the lake too.

Each is an ordinary table of its destination that can read its committed rows back
(:class:`~.destination.ReadableDestination`): two tables of the S3 layout under one prefix
(:class:`~.s3.table.S3Table`), or two Iceberg tables (:class:`~.iceberg.sink.IcebergDestination`). A
window is committed in the sentences table first, then in the transcriptions table, so a transcription
row committed with some ``updated_at`` means its sentences were committed from a read at least as new:
the change sync keeps a transcription's committed sentences only when its listed ``updated_at``
equals the committed transcription row's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.destination import ReadableDestination, WindowParts, WindowResult
from airflow_provider_conversations.lake.kept import KeptSentences
from airflow_provider_conversations.lake.parts import LocalPart
from airflow_provider_conversations.lake.windows import Window
from airflow_provider_conversations.timestamps import parse_api_timestamp

__all__ = ["SENTENCES", "TRANSCRIPTIONS", "CommittedTranscripts", "TranscriptTables"]

#: The name of the sentences table (the S3 layout's sub-prefix).
SENTENCES = "sentences"
#: The name of the transcriptions table (the S3 layout's sub-prefix).
TRANSCRIPTIONS = "transcriptions"


def _same_instant(committed: Any, listed: Any) -> bool:
    """Whether two ``updated_at`` values are the same instant (a Parquet row's is rebuilt in the API's form)."""
    if committed == listed:
        return True
    try:
        return parse_api_timestamp(committed, "updated_at") == parse_api_timestamp(listed, "updated_at")
    except (TypeError, ValueError, ConversationsFilterError):  # a value that is no timestamp: not the same
        return False


class CommittedTranscripts:
    """What a window's committed version holds: each transcription's ``updated_at``, and its sentence rows.

    :param transcriptions: the committed transcription rows, in the committed order.
    :param sentences: the committed sentence rows, in the committed order (read lazily, see
        :class:`~airflow_provider_conversations.lake.kept.KeptSentences`).
    """

    def __init__(self, transcriptions: Iterable[dict[str, Any]], sentences: Iterable[dict[str, Any]]) -> None:
        self.updated_at = {str(t["id"]): t.get("updated_at") for t in transcriptions}
        self.sentences = KeptSentences(self.updated_at, sentences)

    def is_current(self, transcription: dict[str, Any]) -> bool:
        """Whether the committed version of ``transcription`` is the one listed now (same ``updated_at``).

        :param transcription: the transcription as the list returns it now.
        """
        tid = str(transcription["id"])
        return tid in self.updated_at and _same_instant(self.updated_at[tid], transcription.get("updated_at"))

    def take(self, transcription: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Its committed sentence rows, or ``None`` when they cannot be had (read them from the API).

        Call in the committed order (the listing's): see :meth:`~..kept.KeptSentences.take`.

        :param transcription: a transcription for which :meth:`is_current` holds.
        """
        return self.sentences.take(str(transcription["id"]))


class TranscriptTables:
    """The sentences and transcriptions tables as one destination for the operators' checks.

    :param sentences: the sentences table.
    :param transcriptions: the transcriptions table (of the same kind, window size and format).
    """

    def __init__(self, sentences: ReadableDestination, transcriptions: ReadableDestination) -> None:
        self.sentences, self.transcriptions = sentences, transcriptions
        self.file_format, self.compression = sentences.file_format, sentences.compression

    def check(self, windows: list[Window]) -> None:
        """Refuse a task of another shape than either table's (before any API request).

        :param windows: every window the task may commit.
        """
        self.sentences.check(windows)
        self.transcriptions.check(windows)

    def stage(self, window: Window, number: int, part: LocalPart) -> str:
        """Not used: each table stages its own parts."""
        raise NotImplementedError("stage parts into .sentences or .transcriptions")

    def commit(self, group: list[WindowParts]) -> list[WindowResult]:
        """Not used: each table commits its own windows."""
        raise NotImplementedError("commit windows into .sentences or .transcriptions")

    def windows_holding(self, ids: Iterable[str], window_size: timedelta) -> set[Window]:
        """None: a change sync lists every touched window again, so a moved transcription leaves its old one.

        :param ids: transcription ids.
        :param window_size: the tables' window size.
        """
        return set()

    def finish(self) -> None:
        """Make what each table deferred visible: the sentences table first, then the transcriptions table
        (an Iceberg change sync's one snapshot per table); if the first fails, the second commits nothing.
        """
        self.sentences.finish()
        self.transcriptions.finish()

    def committed(self, window: Window) -> CommittedTranscripts | None:
        """The window's committed transcriptions and sentences, or ``None`` when either table lacks the window.

        :param window: the window.
        """
        transcriptions = self.transcriptions.committed_rows(window)
        if transcriptions is None:
            return None
        sentences = self.sentences.committed_records(window)
        return None if sentences is None else CommittedTranscripts(transcriptions, sentences)

    def is_committed(self, window: Window) -> bool:
        """Whether both tables hold a committed version of ``window``.

        :param window: the window.
        """
        return all(table.has_window(window) for table in (self.sentences, self.transcriptions))
