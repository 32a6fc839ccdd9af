"""OpenLineage for the export: the API as the one input, the table prefix as the one output.

Imports of the OpenLineage provider are lazy: without it installed, :func:`operator_lineage`
returns ``None`` and nothing else changes. The operators return a non-empty
:class:`OperatorLineage`, so the OpenLineage provider does not fall back to the hook-level lineage
of ``S3Hook.load_file`` (which would report every local staging file as a ``file`` input and every
part and manifest as an output of its own).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_conversations.api.connection import ENDPOINT_PATH
from airflow_provider_conversations.lake.schema import schema_description

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


def operator_lineage(
    *,
    api_base_url: str,
    bucket: str,
    prefix: str,
    file_format: str,
    records: int | None = None,
    size: int | None = None,
) -> OperatorLineage | None:
    """The export's lineage: one input dataset (the API), one output dataset (the table), or ``None``.

    :param api_base_url: the connection's base URL.
    :param bucket: destination bucket (the output's namespace is ``s3://<bucket>``).
    :param prefix: the table's key prefix (the output's name).
    :param file_format: ``"jsonl"`` or ``"parquet"`` (the schema facet's fields).
    :param records: records written, for the output statistics (``None`` before the run: no statistics).
    :param size: bytes of data objects written, for the output statistics.
    :return: ``None`` when the OpenLineage provider is not installed.
    """
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            Dataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
            SchemaDatasetFacet,
            SchemaDatasetFacetFields,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None

    schema = SchemaDatasetFacet(
        fields=[
            SchemaDatasetFacetFields(name=f["name"], type=f["type"], description=f["description"])
            for f in schema_description(file_format)
        ]
    )
    output_facets: dict[str, Any] = {}
    if records is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=records, size=size)
    return OperatorLineage(
        inputs=[Dataset(namespace=api_namespace(api_base_url), name=ENDPOINT_PATH)],
        outputs=[
            OutputDataset(
                namespace=f"s3://{bucket}",
                name=table_name(prefix),
                facets={"schema": schema},
                outputFacets=output_facets,
            )
        ],
    )
