"""OpenLineage datasets of the export: the API in, exactly one table out, nothing without the provider."""

from __future__ import annotations

import sys

import pytest
from airflow.providers.common.compat.openlineage.facet import Dataset, OutputDataset

from airflow_provider_conversations.lake.schema import schema_description
from airflow_provider_conversations.utils.lineage import api_namespace, operator_lineage, table_name


@pytest.mark.parametrize(
    ("base_url", "namespace"),
    [
        ("https://api.salesloft.com", "https://api.salesloft.com"),
        ("https://api.salesloft.com/v2", "https://api.salesloft.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://user:pw@proxy.example.com:8443/base/", "https://proxy.example.com:8443"),
    ],
)
def test_api_namespace_is_scheme_host_and_port(base_url, namespace):
    assert api_namespace(base_url) == namespace


def test_table_name_is_the_prefix_or_the_root():
    assert table_name("/raw/conversations/") == "raw/conversations" and table_name("") == "/"


def test_lineage_has_the_api_as_input_and_one_output_with_schema_and_statistics():
    lineage = operator_lineage(
        api_base_url="https://api.example.com", bucket="lake", prefix="raw/c", file_format="parquet", records=7, size=99
    )
    assert lineage is not None
    assert lineage.inputs == [Dataset(namespace="https://api.example.com", name="/v2/conversations")]
    (output,) = lineage.outputs
    assert isinstance(output, OutputDataset) and (output.namespace, output.name) == ("s3://lake", "raw/c")
    fields = output.facets["schema"].fields
    assert [(f.name, f.type) for f in fields] == [(f["name"], f["type"]) for f in schema_description("parquet")]
    stats = output.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (7, 99)


def test_before_the_run_there_are_no_statistics():
    lineage = operator_lineage(api_base_url="https://a.example", bucket="lake", prefix="p", file_format="jsonl")
    assert lineage is not None and lineage.outputs[0].outputFacets == {}


def test_without_the_openlineage_provider_there_is_no_lineage(monkeypatch):
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)
    assert operator_lineage(api_base_url="https://a.example", bucket="b", prefix="p", file_format="jsonl") is None


def test_transcripts_lineage_reads_the_transcriptions_and_writes_both_tables_with_their_schemas():
    from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA
    from airflow_provider_conversations.utils.lineage import transcripts_lineage

    lineage = transcripts_lineage(
        api_base_url="https://api.example.com/v2",
        bucket="lake",
        tables=[("raw/t/sentences", SENTENCES_SCHEMA), ("raw/t/transcriptions", TRANSCRIPTIONS_SCHEMA)],
        file_format="parquet",
        records=12,
        size=345,
    )
    assert lineage is not None
    assert lineage.inputs == [Dataset(namespace="https://api.example.com", name="/v2/transcriptions")]
    sentences, transcriptions = lineage.outputs
    assert [(o.namespace, o.name) for o in lineage.outputs] == [
        ("s3://lake", "raw/t/sentences"),
        ("s3://lake", "raw/t/transcriptions"),
    ]
    assert [f.name for f in sentences.facets["schema"].fields] == [c.name for c in SENTENCES_SCHEMA.columns]
    assert [f.name for f in transcriptions.facets["schema"].fields] == [c.name for c in TRANSCRIPTIONS_SCHEMA.columns]
    assert (sentences.outputFacets["outputStatistics"].rowCount, transcriptions.outputFacets) == (12, {})
