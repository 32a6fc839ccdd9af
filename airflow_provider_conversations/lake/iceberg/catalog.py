"""The Iceberg catalog of an ``iceberg`` connection, and the checks made before any API request.

The catalog comes from the official Iceberg provider's ``IcebergHook(iceberg_conn_id).catalog``: the
connection's extra holds pyiceberg's catalog properties (``type``, ``uri``, ``warehouse``, ``s3.*``),
its host becomes ``uri`` and, for a REST catalog, login and password the OAuth ``credential``.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsFilterError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

#: Catalog types pyiceberg builds (the connection extra's ``type``; ``rest`` when absent).
CATALOG_TYPES: tuple[str, ...] = ("rest", "glue", "sql", "hive", "dynamodb", "bigquery", "in-memory")

log = logging.getLogger(__name__)

#: What the ``[iceberg]`` extra installs, named in the error when it is missing.
INSTALL_HINT = "pip install 'airflow-provider-conversations[iceberg]'"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_USERINFO = re.compile(r"(://)[^/@\s]+@")  # user:password@ in a catalog URI


class ConversationsIcebergError(ConversationsDestinationError):
    """The Iceberg table cannot be used: no catalog, an unreachable one, or an incompatible table."""


def require_iceberg() -> None:
    """Raise a clear error when the ``[iceberg]`` extra is not installed (before any I/O)."""
    try:
        import airflow.providers.apache.iceberg.hooks.iceberg  # noqa: F401
        import pyiceberg  # noqa: F401
    except ImportError as err:
        raise ConversationsIcebergError(
            f"The Iceberg operators need pyiceberg and apache-airflow-providers-apache-iceberg ({err.name} is "
            f"missing): {INSTALL_HINT}"
        ) from err


def parse_table_name(table: Any, field: str = "table") -> tuple[str, str]:
    """Split ``"namespace.table"`` (or ``"a.b.table"``) into the namespace and the table name.

    :param table: the argument's value.
    :param field: the argument's name, for the error.
    :return: ``(namespace, name)``; a nested namespace keeps its dots.
    :raises ConversationsFilterError: not a string of at least two dot-separated identifiers.
    """
    if not isinstance(table, str) or not table.strip():
        raise ConversationsFilterError(f"{field}: expected 'namespace.table', got {table!r}")
    parts = table.split(".")
    if len(parts) < 2:
        raise ConversationsFilterError(
            f"{field}: {table!r} has no namespace; expected 'namespace.table' (e.g. 'lake.conversations')"
        )
    bad = [p for p in parts if not _NAME.fullmatch(p)]
    if bad:
        raise ConversationsFilterError(
            f"{field}: {table!r} has the invalid part(s) {bad}; each part of 'namespace.table' is letters, digits "
            "and '_', not starting with a digit"
        )
    return ".".join(parts[:-1]), parts[-1]


def catalog_type(extra: dict[str, Any]) -> str:
    """The catalog type of a connection extra, checked against :data:`CATALOG_TYPES`.

    :param extra: the connection's extra, as a dict.
    :raises ConversationsFilterError: an unknown type.
    """
    kind = extra.get("type", "rest")
    if "py-catalog-impl" in extra and "type" not in extra:
        return "custom"
    if kind not in CATALOG_TYPES:
        raise ConversationsFilterError(
            f"iceberg connection: unknown catalog type {kind!r} in its extra 'type'; expected one of "
            f"{', '.join(CATALOG_TYPES)}"
        )
    return str(kind)


def load_catalog(iceberg_conn_id: str) -> Catalog:
    """The pyiceberg catalog of ``iceberg_conn_id``, reached once (a namespace listing) before any API request.

    :param iceberg_conn_id: an ``iceberg`` connection.
    :raises ConversationsIcebergError: the extra is missing, the connection does not exist, or the
        catalog cannot be reached (the message names the connection, never its secrets).
    :raises ConversationsFilterError: an unknown catalog type.
    """
    require_iceberg()
    from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

    hook = IcebergHook(iceberg_conn_id)
    try:
        conn = hook.get_connection(iceberg_conn_id)
    except Exception as err:  # AirflowNotFoundException, or a secrets backend's own error
        raise ConversationsIcebergError(
            f"iceberg_conn_id: connection {iceberg_conn_id!r} is not defined ({type(err).__name__}); create an "
            "'iceberg' connection whose extra holds the catalog properties (see the Iceberg docs page)"
        ) from None
    extra = conn.extra_dejson if isinstance(conn.extra_dejson, dict) else {}
    kind = catalog_type(extra)
    try:
        catalog = hook.catalog
        catalog.list_namespaces()
    except Exception as err:
        raise ConversationsIcebergError(
            f"iceberg_conn_id: the {kind} catalog of connection {iceberg_conn_id!r} cannot be reached: "
            f"{type(err).__name__}: {_safe(err, conn)}"
        ) from None
    return catalog


def _safe(err: Exception, conn: Any) -> str:
    """The error's first line with the connection's password and secret-looking extras blanked out."""
    text = str(err).splitlines()[0] if str(err) else ""
    secrets = [conn.password] if conn.password else []
    try:
        extra = json.loads(conn.extra or "{}")
    except ValueError:
        extra = {}
    secrets += [str(v) for k, v in extra.items() if any(w in k.lower() for w in ("secret", "key", "token", "password"))]
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)[:300]


#: The catalog properties that name a catalog in lineage (see :func:`lineage_properties`).
LINEAGE_PROPERTIES: tuple[str, ...] = ("uri", "warehouse", "glue.id", "glue.region", "client.region")


def catalog_kind(catalog: Catalog) -> str:
    """The catalog's ``type`` (``custom`` for a ``py-catalog-impl``)."""
    return catalog_type(dict(catalog.properties))


def lineage_properties(catalog: Catalog, namespace: str, name: str) -> dict[str, str]:
    """The catalog properties lineage names the table's catalog by: :data:`LINEAGE_PROPERTIES` that are set.

    A Glue catalog also gets its region from its client and, when the extra has no ``glue.id``, its account
    from the table's ``CatalogId`` (one ``GetTable``; left out when that call fails).

    :param catalog: the table's catalog.
    :param namespace: the table's namespace (the Glue database).
    :param name: the table's name.
    """
    found = {key: str(catalog.properties[key]) for key in LINEAGE_PROPERTIES if catalog.properties.get(key)}
    glue = getattr(catalog, "glue", None)
    if catalog_kind(catalog) != "glue" or glue is None:
        return found
    region = getattr(getattr(glue, "meta", None), "region_name", None)
    if region and "glue.region" not in found:
        found["glue.region"] = str(region)
    if "glue.id" not in found:
        try:
            found["glue.id"] = str(glue.get_table(DatabaseName=namespace, Name=name)["Table"]["CatalogId"])
        except Exception as err:  # lineage is best effort: the symlink is left out
            log.info("Glue table %s.%s: no CatalogId for the lineage (%s)", namespace, name, type(err).__name__)
    return found
