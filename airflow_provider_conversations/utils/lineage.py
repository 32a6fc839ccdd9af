"""OpenLineage for the export: the API as the one input, the table as the one output.

An S3 layout's table is its key prefix (``s3://<bucket>``, ``<prefix>``). An Iceberg table follows the
naming the OpenLineage Spark integration gives Iceberg tables: the dataset is the table's
location (``s3://<bucket>``, ``<path>``) and a ``symlinks`` facet of type ``TABLE`` names it in its
catalog (:func:`iceberg_catalog_symlink`).

Imports of the OpenLineage provider are lazy: without it installed, :func:`operator_lineage`
returns ``None`` and nothing else changes. The operators return a non-empty
:class:`OperatorLineage`, so the OpenLineage provider does not fall back to the hook-level lineage
of ``S3Hook.load_file`` (which would report every local staging file as a ``file`` input and every
part and manifest as an output of its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from airflow_provider_conversations.api.connection import ENDPOINT_PATH
from airflow_provider_conversations.api.transcriptions import TRANSCRIPTIONS_PATH
from airflow_provider_conversations.lake.schema import TableSchema, schema_description

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


def api_namespace(base_url: str) -> str:
    """The OpenLineage namespace of the API: ``scheme://host[:port]`` of the connection's base URL.

    :param base_url: the connection's base URL (any path is dropped).
    """
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def table_name(prefix: str) -> str:
    """The OpenLineage name of the table: its key prefix, ``/`` for the bucket root."""
    return prefix.strip("/") or "/"


def location_dataset(location: str) -> tuple[str, str]:
    """The OpenLineage namespace and name of a storage location, as the naming spec has them for files.

    ``s3://bucket/a/b/`` is ``("s3://bucket", "a/b")`` (``s3a``/``s3n`` count as ``s3``), any other
    ``scheme://authority/path`` alike, and a local path (``file:///a/b`` or ``/a/b``) ``("file", "/a/b")``.

    :param location: a table's or a warehouse's location.
    """
    parts = urlsplit(location)
    if parts.scheme in ("", "file"):
        return "file", parts.path.rstrip("/") or "/"
    scheme = "s3" if parts.scheme in ("s3a", "s3n") else parts.scheme
    return f"{scheme}://{parts.netloc}", table_name(parts.path)


def _without_secrets(uri: str) -> str:
    """``uri`` without its user info, query and fragment (where catalog URIs carry credentials)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", "")).rstrip("/")


def iceberg_catalog_symlink(
    catalog_type: str, identifier: str, properties: Mapping[str, str]
) -> tuple[str, str] | None:
    """The table's name in its catalog, as OpenLineage names a catalog table: ``(namespace, name)``.

    - ``glue``: ``arn:aws:glue:<region>:<account>``, ``table/<database>/<table>`` (needs ``glue.region`` or
      ``client.region``, and ``glue.id``, the catalog's account);
    - ``rest``: the catalog's URI (without credentials), ``<namespace>.<table>``;
    - ``hive``: ``hive://<host>:<port>`` of the metastore's URI, ``<namespace>.<table>``;
    - any other catalog (``sql``, ...): the warehouse location as the namespace, ``<namespace>.<table>``.

    :param catalog_type: the catalog's ``type``.
    :param identifier: ``"namespace.table"``.
    :param properties: the catalog's properties (``uri``, ``warehouse``, ``glue.*``, ``client.region``).
    :return: ``None`` when the properties do not name the catalog (a Glue catalog without its account).
    """
    uri = properties.get("uri")
    if catalog_type == "glue":
        region = properties.get("glue.region") or properties.get("client.region")
        account = properties.get("glue.id")
        if not (region and account):
            return None
        return f"arn:aws:glue:{region}:{account}", "table/" + identifier.replace(".", "/")
    if catalog_type == "rest" and uri:
        return _without_secrets(uri), identifier
    if catalog_type == "hive" and uri:
        return f"hive://{urlsplit(uri).netloc.rsplit('@', 1)[-1]}", identifier
    warehouse = properties.get("warehouse")
    if warehouse and "://" in warehouse:
        namespace, path = location_dataset(warehouse)
        return (namespace if path == "/" else f"{namespace}/{path}"), identifier
    return None


@dataclass(frozen=True)
class IcebergTableRef:
    """What lineage needs to know of an Iceberg table.

    :param location: the table's location (``s3://bucket/warehouse/lake/conversations``).
    :param identifier: ``"namespace.table"``.
    :param catalog_name: the catalog's name (the ``iceberg`` connection's id).
    :param catalog_type: the catalog's ``type`` (``sql``, ``glue``, ``rest``, ...).
    :param properties: the catalog's properties that name it (``uri``, ``warehouse``, ``glue.id``, region).
    :param snapshot_id: the table's snapshot after the run (``None`` before it).
    """

    location: str
    identifier: str
    catalog_name: str
    catalog_type: str
    properties: Mapping[str, str] = field(default_factory=dict)
    snapshot_id: int | None = None


def _schema_facet(columns: list[dict[str, Any]]) -> Any:
    from airflow.providers.common.compat.openlineage.facet import SchemaDatasetFacet, SchemaDatasetFacetFields

    def fields(cols: list[dict[str, Any]]) -> list[Any]:
        return [
            SchemaDatasetFacetFields(
                name=c["name"],
                type=c["type"],
                description=c.get("description") or None,
                fields=fields(c.get("fields", [])),
            )
            for c in cols
        ]

    return SchemaDatasetFacet(fields=fields(columns))


def _lineage(
    api_base_url: str,
    namespace: str,
    name: str,
    facets: dict[str, Any],
    records: int | None,
    size: int | None,
    *,
    endpoint: str = ENDPOINT_PATH,
    more: Sequence[tuple[str, str, dict[str, Any]]] = (),
) -> OperatorLineage:
    """The API's ``endpoint`` in; the table ``name`` out (with the statistics), then the tables of ``more``
    (``(namespace, name, facets)`` each)."""
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    output_facets: dict[str, Any] = {}
    if records is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=records, size=size)
    return OperatorLineage(
        inputs=[Dataset(namespace=api_namespace(api_base_url), name=endpoint)],
        outputs=[
            OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=output_facets),
            *(OutputDataset(namespace=space, name=other, facets=other_facets) for space, other, other_facets in more),
        ],
    )


def _openlineage_installed() -> bool:
    try:
        import airflow.providers.common.compat.openlineage.facet
        import airflow.providers.openlineage.extractors  # noqa: F401
    except ImportError:
        return False
    return True


def operator_lineage(
    *,
    api_base_url: str,
    bucket: str,
    prefix: str,
    file_format: str,
    records: int | None = None,
    size: int | None = None,
) -> OperatorLineage | None:
    """The S3 export's lineage: one input dataset (the API), one output dataset (the table), or ``None``.

    :param api_base_url: the connection's base URL.
    :param bucket: destination bucket (the output's namespace is ``s3://<bucket>``).
    :param prefix: the table's key prefix (the output's name).
    :param file_format: ``"jsonl"`` or ``"parquet"`` (the schema facet's fields).
    :param records: records written, for the output statistics (``None`` before the run: no statistics).
    :param size: bytes of data objects written, for the output statistics.
    :return: ``None`` when the OpenLineage provider is not installed.
    """
    if not _openlineage_installed():
        return None
    facets = {"schema": _schema_facet(schema_description(file_format))}
    return _lineage(api_base_url, f"s3://{bucket}", table_name(prefix), facets, records, size)


def transcripts_lineage(
    *,
    api_base_url: str,
    bucket: str,
    tables: Sequence[tuple[str, TableSchema]],
    file_format: str,
    records: int | None = None,
    size: int | None = None,
) -> OperatorLineage | None:
    """The transcripts export's lineage: ``/v2/transcriptions`` in; each table of ``tables`` out, or ``None``.

    :param api_base_url: the connection's base URL.
    :param bucket: destination bucket (the outputs' namespace).
    :param tables: each table's key prefix and records; the first gets the output statistics.
    :param file_format: ``"jsonl"`` or ``"parquet"`` (the schema facets' fields).
    :param records: the first table's rows written (``None`` before the run: no statistics).
    :param size: bytes of the first table's data objects written.
    """
    if not _openlineage_installed():
        return None
    outputs = [
        (f"s3://{bucket}", table_name(prefix), {"schema": _schema_facet(schema_description(file_format, schema))})
        for prefix, schema in tables
    ]
    (namespace, name, facets), *more = outputs
    return _lineage(api_base_url, namespace, name, facets, records, size, endpoint=TRANSCRIPTIONS_PATH, more=more)


def iceberg_lineage(
    *,
    api_base_url: str,
    table: IcebergTableRef,
    columns: list[dict[str, Any]],
    records: int | None = None,
    size: int | None = None,
    more: Sequence[tuple[IcebergTableRef, list[dict[str, Any]]]] = (),
    endpoint: str = ENDPOINT_PATH,
) -> OperatorLineage | None:
    """The Iceberg export's lineage: the API in; the table out, named by its location, or ``None``.

    The output carries the ``schema`` (Iceberg types; a struct column with its fields), ``symlinks``
    (the catalog's name of the table, type ``TABLE``), ``storage`` (``iceberg``, ``parquet``) and, after the
    run, ``version`` (the snapshot id) facets, and ``outputStatistics`` (``rowCount``, ``size``).

    :param api_base_url: the connection's base URL.
    :param table: the table.
    :param columns: the table's columns (:func:`~airflow_provider_conversations.lake.iceberg.table.lineage_columns`).
    :param records: records committed, for the output statistics (``None`` before the run).
    :param size: bytes of data files committed.
    :param more: further tables written (``(table, columns)`` each, no statistics): the transcripts'
        transcriptions table after their sentences table.
    :param endpoint: the API endpoint read.
    :return: ``None`` when the OpenLineage provider is not installed.
    """
    if not _openlineage_installed():
        return None
    namespace, name, facets = _iceberg_output(table, columns)
    outputs = [_iceberg_output(other, other_columns) for other, other_columns in more]
    return _lineage(api_base_url, namespace, name, facets, records, size, endpoint=endpoint, more=outputs)


def _iceberg_output(table: IcebergTableRef, columns: list[dict[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """The output dataset of an Iceberg table: ``(namespace, name, facets)``."""
    from airflow.providers.common.compat.openlineage.facet import Identifier, SymlinksDatasetFacet
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet
    from openlineage.client.generated.storage_dataset import StorageDatasetFacet

    facets: dict[str, Any] = {
        "schema": _schema_facet(columns),
        "storage": StorageDatasetFacet(storageLayer="iceberg", fileFormat="parquet"),
    }
    symlink = iceberg_catalog_symlink(table.catalog_type, table.identifier, table.properties)
    if symlink is not None:
        facets["symlinks"] = SymlinksDatasetFacet(
            identifiers=[Identifier(namespace=symlink[0], name=symlink[1], type="TABLE")]
        )
    if table.snapshot_id is not None:
        facets["version"] = DatasetVersionDatasetFacet(datasetVersion=str(table.snapshot_id))
    namespace, name = location_dataset(table.location)
    return namespace, name, facets
