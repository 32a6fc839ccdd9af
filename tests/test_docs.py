"""What the docs state about the code is checked against the code.

Other executed samples: ``docs/operator.rst``'s log lines and XCom in
``tests/operators/test_conversations_to_s3.py``, ``docs/current.rst``'s XCom in
``tests/integration/test_docs_samples.py``, the README snippets in ``tests/compat``.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from airflow_provider_conversations import exceptions
from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA, TableSchema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def exception_table() -> dict[str, str]:
    """The rows of docs/hook.rst's table of exceptions: class name -> its *Base* cell."""
    text = (DOCS / "hook.rst").read_text()
    after = text[text.index("All exceptions live in") :]
    lines = after[after.index(".. list-table::") :].splitlines()[1:]
    end = next(i for i, line in enumerate(lines) if line and not line.startswith(" "))
    table = "\n".join(lines[:end])
    return dict(re.findall(r"^   \* - ``(\w+)``\n     - (.+?)\n     - ", table, flags=re.MULTILINE | re.DOTALL))


EXCEPTIONS = sorted(
    name
    for name, value in vars(exceptions).items()
    if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == exceptions.__name__
)


def test_the_exceptions_module_defines_the_errors_the_docs_talk_about():
    assert {"ConversationsArgumentError", "ConversationsAPIError", "ConversationsDestinationError"} <= set(EXCEPTIONS)


@pytest.mark.parametrize("name", EXCEPTIONS)
def test_hook_docs_list_every_exception_with_its_bases(name: str):
    table = exception_table()
    assert name in table, f"docs/hook.rst's table of exceptions has no row for {name}"
    for base in getattr(exceptions, name).__bases__:
        assert base.__name__ in table[name], f"{name}: the Base cell {table[name]!r} does not name {base.__name__}"


def test_hook_docs_list_no_exception_that_does_not_exist():
    assert set(exception_table()) <= set(EXCEPTIONS)


def test_changelog_page_renders_the_one_changelog():
    page = (DOCS / "changelog.rst").read_text()
    directives = [line for line in page.splitlines() if line.startswith(".. ") and "::" in line]
    assert directives == [".. include:: ../CHANGELOG.md"]
    assert ":parser: myst_parser.sphinx_" in page


def test_changelog_is_one_release_list_without_tracker_numbers():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert releases[0] == "0.1.0 (unreleased)" and len(releases) == len(set(releases))
    assert not re.search(r"\bissue \d+|#\d+\b|\(was\b", text, flags=re.IGNORECASE)


COLUMN = r"(\w+) (string|bigint|boolean|timestamp|double|struct<[^>]*>)"


def athena_columns(page: str = "layout.rst") -> dict[str, list[tuple[str, str]]]:
    """The ``CREATE EXTERNAL TABLE`` statements of ``docs/<page>``: table name -> its (column, type)s, in order."""
    text = (DOCS / page).read_text()
    tables = re.findall(r"CREATE EXTERNAL TABLE (\w+) \((.*?)\n   \)\n   PARTITIONED BY", text, flags=re.DOTALL)
    return {name: re.findall(COLUMN, body) for name, body in tables}


def athena_tables(page: str = "layout.rst") -> dict[str, list[str]]:
    """The ``CREATE EXTERNAL TABLE`` statements of ``docs/<page>``: table name -> its columns, in order."""
    return {name: [column for column, _ in columns] for name, columns in athena_columns(page).items()}


def test_athena_tables_declare_every_field_of_the_schema():
    from airflow_provider_conversations.lake.schema import CONVERSATION_FIELDS, EXTRA_JSON

    fields = [field.name for field in CONVERSATION_FIELDS]
    tables = athena_tables()
    assert tables["conversations"] == fields  # JSONL: every field, no extra_json (the SerDe ignores the rest)
    assert tables["conversations_parquet"] == [*fields, EXTRA_JSON]


def fake_api_rows() -> dict[str, dict]:
    """A transcription and a sentence row (with the export's added keys) as the fake API returns them."""
    import random

    from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA
    from airflow_provider_conversations.reading.sentences import ADDED_KEYS
    from airflow_provider_conversations.testing import generate_conversations, make_transcription
    from airflow_provider_conversations.testing.transcript_records import SentencePlan, make_sentences

    transcription = make_transcription(generate_conversations(1)[0], random.Random(0))
    (sentence,) = make_sentences(SentencePlan(transcription["id"], transcription["conversation"]["id"], 1))
    added = dict.fromkeys((*ADDED_KEYS, SENTENCES_SCHEMA.window_field))
    return {"transcriptions": transcription, "sentences": {**sentence, **added}}


def test_transcripts_athena_jsonl_tables_declare_every_field_the_api_returns():
    tables = athena_columns("transcripts.rst")
    for table, row in fake_api_rows().items():
        assert [column for column, _ in tables[table]] == list(row), table
        references = {column for column, kind in tables[table] if kind.startswith("struct<")}
        assert references == {key for key, value in row.items() if isinstance(value, dict)}, table


# The Athena type of each kind of column of lake.schema in a Parquet table.
ATHENA_TYPES = {
    "string": "string",
    "integer": "bigint",
    "number": "double",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "reference": "struct<id:string,_href:string>",
    "json": "string",
}


@pytest.mark.parametrize(
    ("table", "schema"), [("transcriptions", TRANSCRIPTIONS_SCHEMA), ("sentences", SENTENCES_SCHEMA)]
)
def test_transcripts_athena_parquet_tables_match_the_schema(table: str, schema: TableSchema):
    expected = [(f.name, ATHENA_TYPES[f.kind]) for f in schema.columns]
    assert athena_columns("transcripts.rst")[f"{table}_parquet"] == expected
