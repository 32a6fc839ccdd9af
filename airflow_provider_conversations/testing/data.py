"""Former home of the records and the query engine, kept so that old imports keep working.

Records and timestamps are in :mod:`.records`, the query engine in :mod:`.query`; import from
there, or from :mod:`airflow_provider_conversations.testing`.
"""

from __future__ import annotations

from .query import (
    COST_TABLE,
    KNOWN_PARAMS,
    LIST_PARAMS,
    SORT_FIELDS,
    Query,
    QueryError,
    Row,
    copy_record,
    parse_query,
    request_cost,
    to_row,
)
from .records import (
    ACCOUNT_IDS,
    API_BASE,
    DEFAULT_START,
    LANGUAGE_CODES,
    MEDIA_TYPES,
    ORGANIZATION_ID,
    PERSON_IDS,
    PLATFORMS,
    USER_IDS,
    format_timestamp,
    generate_conversations,
    make_conversation,
    parse_timestamp,
)

__all__ = [
    "ACCOUNT_IDS",
    "API_BASE",
    "COST_TABLE",
    "DEFAULT_START",
    "KNOWN_PARAMS",
    "LANGUAGE_CODES",
    "LIST_PARAMS",
    "MEDIA_TYPES",
    "ORGANIZATION_ID",
    "PERSON_IDS",
    "PLATFORMS",
    "SORT_FIELDS",
    "USER_IDS",
    "Query",
    "QueryError",
    "Row",
    "copy_record",
    "format_timestamp",
    "generate_conversations",
    "make_conversation",
    "parse_query",
    "parse_timestamp",
    "request_cost",
    "to_row",
]
