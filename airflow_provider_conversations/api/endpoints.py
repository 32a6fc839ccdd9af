"""The list endpoints a range read works on: their path, what their records are called, their range keys.

Pure data. Every v2 list endpoint of the API pages, sorts and filters the same way
(``<key>[gte]``/``[gt]``/``[lt]``/``[lte]``, ``sort_by``, ``per_page``, ``page``,
``include_paging_counts``); what differs is told by a :class:`ListEndpoint`, and the range reader
(:mod:`~airflow_provider_conversations.reading.walk`) takes one.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_conversations.api.connection import ENDPOINT_PATH
from airflow_provider_conversations.api.filters import MAX_PER_PAGE, WIRE_NAMES
from airflow_provider_conversations.api.transcriptions import TRANSCRIPTIONS_PATH

__all__ = ["CONVERSATIONS", "TIMESTAMP_KEYS", "TRANSCRIPTIONS", "ListEndpoint"]

#: The timestamp fields the v2 list endpoints both sort (``sort_by``) and filter by (``<key>[gte]`` ...).
TIMESTAMP_KEYS: tuple[str, ...] = ("created_at", "updated_at")


@dataclass(frozen=True)
class ListEndpoint:
    """A list endpoint a timestamp range can be read from.

    :param path: the endpoint's path below the API base URL, e.g. ``/v2/conversations``.
    :param record: what one record is called, for messages (``conversation``, ``transcription``).
    :param range_keys: the timestamp fields the endpoint both sorts (``sort_by``) and filters by
        (``<key>[gte]`` ...): a range read works on any of them; some of :data:`TIMESTAMP_KEYS`.
    :param max_per_page: the most records a page may hold (``per_page``).
    :raises ValueError: a path without a leading ``/``, or a range key not in :data:`TIMESTAMP_KEYS`.
    """

    path: str
    record: str = "record"
    range_keys: tuple[str, ...] = TIMESTAMP_KEYS
    max_per_page: int = MAX_PER_PAGE

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"path: {self.path!r} must start with '/'")
        for key in self.range_keys:
            if key not in TIMESTAMP_KEYS:
                raise ValueError(f"range_keys: {key!r} cannot be read as a range; allowed: {', '.join(TIMESTAMP_KEYS)}")

    def bound_param(self, key: str, op: str) -> str:
        """Return the wire name of a bound on ``key``: ``op`` is ``lt``, ``lte``, ``gt`` or ``gte``.

        :param key: one of :attr:`range_keys`.
        :param op: the comparison.
        """
        return WIRE_NAMES[f"{key}_{op}"]


#: ``GET /v2/conversations``: the export's and the change sync's endpoint.
CONVERSATIONS = ListEndpoint(path=ENDPOINT_PATH, record="conversation")

#: ``GET /v2/transcriptions``: the transcripts export's and change sync's endpoint.
TRANSCRIPTIONS = ListEndpoint(path=TRANSCRIPTIONS_PATH, record="transcription")
