"""Paths and filters of ``/v2/transcriptions``: typed, validated, and turned into wire parameters.

Pure (no I/O). One transcription's paths (:func:`transcription_path`, :func:`sentences_path`,
:func:`artifact_path`) put its id into the URL, so an id is checked (:func:`check_transcription_id`)
before any request: an id such as ``../conversations`` would otherwise ask for another resource.
:data:`TRANSCRIPTION_WIRE_NAMES` is the one table of the list's query-parameter names (the API
ignores names it does not know, so a misspelt filter would return every transcription).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from airflow_provider_conversations.api.filters import LANGUAGE_CODES, FilterSet
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.timestamps import parse_timestamp

__all__ = [
    "TRANSCRIPTIONS_PATH",
    "TRANSCRIPTION_SORT_BY",
    "TRANSCRIPTION_WIRE_NAMES",
    "TranscriptionFilters",
    "artifact_path",
    "check_transcription_id",
    "sentences_path",
    "transcription_path",
]

#: The transcriptions list.
TRANSCRIPTIONS_PATH = "/v2/transcriptions"
#: ``sort_by`` values the list accepts.
TRANSCRIPTION_SORT_BY: tuple[str, ...] = ("created_at", "updated_at")
#: Python field name -> query parameter name of the list's filters.
TRANSCRIPTION_WIRE_NAMES: dict[str, str] = {
    **{f"{key}_{op}": f"{key}[{op}]" for key in TRANSCRIPTION_SORT_BY for op in ("lt", "lte", "gt", "gte")},
    "ids": "ids",
    "language_code": "language_code",
}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def check_transcription_id(value: Any, name: str = "transcription_id") -> str:
    """Return a transcription id safe to put into a path, or raise an error naming ``name``.

    :param value: the id: letters, digits, ``-`` and ``_`` (a UUID or a number), at most 128 characters.
    :param name: the argument's name, for the error message.
    :raises ConversationsFilterError: on anything else (an empty id, a ``/``, a ``..``).
    """
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ID_RE.match(text):
        raise ConversationsFilterError(
            f"{name}: {value!r} is not a transcription id; allowed: 1 to 128 letters, digits, '-' or '_' "
            "(a UUID or a number)"
        )
    return text


def transcription_path(transcription_id: Any) -> str:
    """``/v2/transcriptions/{id}``: one transcription.

    :param transcription_id: the id (checked with :func:`check_transcription_id`).
    """
    return f"{TRANSCRIPTIONS_PATH}/{check_transcription_id(transcription_id)}"


def sentences_path(transcription_id: Any) -> str:
    """``/v2/transcriptions/{id}/sentences``: its sentences, paged.

    :param transcription_id: the id (checked with :func:`check_transcription_id`).
    """
    return f"{transcription_path(transcription_id)}/sentences"


def artifact_path(transcription_id: Any) -> str:
    """``/v2/transcriptions/{id}/artifact``: a signed URL of its transcript file (treat it as a secret).

    :param transcription_id: the id (checked with :func:`check_transcription_id`).
    """
    return f"{transcription_path(transcription_id)}/artifact"


@dataclass(frozen=True)
class TranscriptionFilters(FilterSet):
    """Every filter of ``GET /v2/transcriptions``, validated and normalised at construction.

    Timestamps accept aware datetimes or ISO-8601 strings with an offset and are normalised to UTC;
    naive values are rejected. A range (``*_gt``/``*_gte`` against ``*_lt``/``*_lte``) must not be
    empty or inverted.

    :param created_at_lt: ``created_at`` strictly before. Likewise ``_lte``, ``_gt``, ``_gte``.
    :param updated_at_lt: ``updated_at`` strictly before. Likewise ``_lte``, ``_gt``, ``_gte``.
    :param ids: transcription ids.
    :param language_code: the transcript's language, one of :data:`~.filters.LANGUAGE_CODES`.
    """

    created_at_lt: datetime | str | None = None
    created_at_lte: datetime | str | None = None
    created_at_gt: datetime | str | None = None
    created_at_gte: datetime | str | None = None
    updated_at_lt: datetime | str | None = None
    updated_at_lte: datetime | str | None = None
    updated_at_gt: datetime | str | None = None
    updated_at_gte: datetime | str | None = None
    ids: Sequence[str] | None = None
    language_code: str | None = None

    RANGE_FIELDS: ClassVar[tuple[str, ...]] = TRANSCRIPTION_SORT_BY
    WIRE: ClassVar[Mapping[str, str]] = TRANSCRIPTION_WIRE_NAMES
    KIND: ClassVar[str] = "transcription "

    @staticmethod
    def _normalise(name: str, value: Any) -> Any:
        return _normalise(name, value)


def _normalise(name: str, value: Any) -> Any:
    if name.startswith(("created_at_", "updated_at_")):
        return parse_timestamp(value, name)
    if name == "language_code":
        if isinstance(value, str) and value in LANGUAGE_CODES:
            return value
        raise ConversationsFilterError(f"{name}: {value!r} is not allowed; allowed values: {', '.join(LANGUAGE_CODES)}")
    items = [value] if isinstance(value, (str, int)) else value
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ConversationsFilterError(f"ids: expected a list of transcription ids, got {type(value).__name__}")
    if not items:  # an empty list would send no parameter, and the API would return every transcription
        raise ConversationsFilterError("ids: must not be empty (omit the filter instead)")
    return tuple(check_transcription_id(item, "ids") for item in items)
