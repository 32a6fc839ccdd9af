"""The query parameters each endpoint of the fake understands (:class:`ParamSpec`), and their costs.

The query engine (:mod:`.query`) reads a :class:`ParamSpec` to validate a request; the server picks
the spec of the route asked for: :data:`CONVERSATIONS` for ``/v2/conversations``,
:data:`TRANSCRIPTIONS` for ``/v2/transcriptions`` and :data:`SENTENCES` for
``/v2/transcriptions/{id}/sentences`` (paging only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .records import LANGUAGE_CODES, MEDIA_TYPES, PLATFORMS

__all__ = [
    "CONVERSATIONS",
    "COST_TABLE",
    "KNOWN_PARAMS",
    "LIST_PARAMS",
    "PAGING_PARAMS",
    "RANGE_OPS",
    "SENTENCES",
    "SORT_FIELDS",
    "TRANSCRIPTIONS",
    "ParamSpec",
]

#: ``(first_page, last_page or None, cost)`` rows of the vendor's deep-paging cost table.
COST_TABLE: tuple[tuple[int, int | None, int], ...] = (
    (1, 100, 1),
    (101, 150, 3),
    (151, 250, 8),
    (251, 500, 10),
    (501, None, 30),
)
#: Operators of a range filter: ``name[op]``.
RANGE_OPS: tuple[str, ...] = ("lt", "lte", "gt", "gte")
#: Parameters of paging, understood by every endpoint.
PAGING_PARAMS: tuple[str, ...] = ("page", "per_page", "include_paging_counts")


@dataclass(frozen=True)
class ParamSpec:
    """What one endpoint accepts.

    :param ranges: fields filtered by ``name[lt|lte|gt|gte]`` (``duration`` takes integers, the others
        timestamps).
    :param lists: list filters (wire name without ``[]``) -> the record field they match.
    :param enums: scalar filters with a closed set of values -> the values.
    :param bools: boolean filters (``true``/``false``).
    :param titles: whether ``title`` and ``title[_starts_with]`` are understood.
    :param sort_fields: accepted ``sort_by`` values (the first is the default); empty: the endpoint
        answers in its own order and ``sort_by``/``sort_direction`` are unknown names.
    """

    ranges: tuple[str, ...] = ()
    lists: Mapping[str, str] = field(default_factory=dict)
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bools: tuple[str, ...] = ()
    titles: bool = False
    sort_fields: tuple[str, ...] = ()

    @property
    def scalars(self) -> frozenset[str]:
        """Every scalar parameter name (filters, sorting and paging)."""
        names = [f"{name}[{op}]" for name in self.ranges for op in RANGE_OPS]
        names += [*self.enums, *self.bools, *PAGING_PARAMS]
        if self.titles:
            names += ["title", "title[_starts_with]"]
        if self.sort_fields:
            names += ["sort_by", "sort_direction"]
        return frozenset(names)

    @property
    def known(self) -> frozenset[str]:
        """Every parameter name understood (list filters both as ``name[]`` and as ``name``)."""
        return self.scalars | frozenset(self.lists) | {f"{n}[]" for n in self.lists}


#: ``GET /v2/conversations``.
CONVERSATIONS = ParamSpec(
    ranges=("created_at", "updated_at", "duration"),
    lists={
        "owner_ids": "owner_id",
        "user_guids": "user_guid",
        "ids": "id",
        "account_ids": "account",
        "person_ids": "person",
    },
    enums={"language_code": LANGUAGE_CODES, "platform": PLATFORMS, "media_type": MEDIA_TYPES},
    bools=("is_api",),
    titles=True,
    sort_fields=("created_at", "updated_at", "duration"),
)
#: ``GET /v2/transcriptions``.
TRANSCRIPTIONS = ParamSpec(
    ranges=("created_at", "updated_at"),
    lists={"ids": "id"},
    enums={"language_code": LANGUAGE_CODES},
    sort_fields=("created_at", "updated_at"),
)
#: ``GET /v2/transcriptions/{id}/sentences``: paging only, in the API's order.
SENTENCES = ParamSpec()

#: Accepted ``sort_by`` values of ``/v2/conversations``.
SORT_FIELDS: tuple[str, ...] = CONVERSATIONS.sort_fields
#: List filters of ``/v2/conversations`` (wire name without ``[]``) -> record field they match.
LIST_PARAMS: dict[str, str] = dict(CONVERSATIONS.lists)
#: Every parameter name ``/v2/conversations`` understands.
KNOWN_PARAMS: frozenset[str] = CONVERSATIONS.known
