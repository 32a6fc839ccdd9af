"""A table's shape from its :class:`~..schema.TableSchema`: columns, ``day(<window field>)`` partitions, sort order.

:func:`open_table` creates the namespace and the table when absent and checks an existing table before
anything is written: a missing column is added (an older table gains a column of a newer schema), a
column of another type, a required column, or another partitioning is refused with the difference named.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.lake.iceberg.catalog import ConversationsIcebergError
from airflow_provider_conversations.lake.schema import CONVERSATIONS_SCHEMA, REFERENCE_KEYS, TableSchema

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table
    from pyiceberg.table.sorting import SortOrder
    from pyiceberg.types import IcebergType

log = logging.getLogger(__name__)

#: The table property holding the name mapping that lets every reader match our Parquet columns by name.
NAME_MAPPING = "schema.name-mapping.default"
#: Table properties set at creation: format v2; the writer's own commit loop re-checks the read order on a
#: conflict (see :mod:`.sink`), so pyiceberg's in-transaction retries are not used for our commits.
TABLE_PROPERTIES = {"format-version": "2", "write.parquet.compression-codec": "zstd"}
#: The partition field of the conversations table (:func:`partition_name`).
PARTITION_NAME = "created_at_day"


def partition_name(schema: TableSchema = CONVERSATIONS_SCHEMA) -> str:
    """The partition field of ``schema``'s table: ``<window field>_day``.

    :param schema: the table's records.
    """
    return f"{schema.window_field}_day"


def _types() -> dict[str, IcebergType]:
    from pyiceberg.types import (
        BooleanType,
        DoubleType,
        LongType,
        NestedField,
        StringType,
        StructType,
        TimestamptzType,
    )

    reference = StructType(
        *(NestedField(i + 1, key, StringType(), required=False) for i, key in enumerate(REFERENCE_KEYS))
    )
    return {
        "string": StringType(),
        "integer": LongType(),
        "number": DoubleType(),
        "boolean": BooleanType(),
        "timestamp": TimestamptzType(),
        "reference": reference,
        "json": StringType(),
    }


def iceberg_schema(schema: TableSchema = CONVERSATIONS_SCHEMA) -> Schema:
    """The table's schema: every column of ``schema`` (its fields, then ``extra_json``); all optional, fresh ids.

    :param schema: the table's records.
    """
    from pyiceberg.schema import Schema, assign_fresh_schema_ids
    from pyiceberg.types import NestedField

    types = _types()
    fields = [
        NestedField(n + 1, c.name, types[c.kind], required=False, doc=c.description)
        for n, c in enumerate(schema.columns)
    ]
    return assign_fresh_schema_ids(Schema(*fields))


def partition_spec(schema: Schema, table_schema: TableSchema = CONVERSATIONS_SCHEMA) -> PartitionSpec:
    """``day(<window field>)``: a window (inside one UTC day) lives in exactly one partition.

    :param schema: the Iceberg schema (:func:`iceberg_schema`).
    :param table_schema: the table's records.
    """
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.transforms import DayTransform

    source = schema.find_field(table_schema.window_field).field_id
    return PartitionSpec(
        PartitionField(source_id=source, field_id=1000, transform=DayTransform(), name=partition_name(table_schema))
    )


def sort_order(schema: Schema, table_schema: TableSchema = CONVERSATIONS_SCHEMA) -> SortOrder:
    """The window field, then the key, ascending: the order the export writes (``created_at, id`` for conversations).

    :param schema: the Iceberg schema (:func:`iceberg_schema`).
    :param table_schema: the table's records.
    """
    from pyiceberg.table.sorting import SortField, SortOrder
    from pyiceberg.transforms import IdentityTransform

    names = (table_schema.window_field, *table_schema.key)
    return SortOrder(
        *(SortField(source_id=schema.find_field(name).field_id, transform=IdentityTransform()) for name in names)
    )


def _same_type(a: IcebergType, b: IcebergType) -> bool:
    """Equal types, struct fields compared by name, type and optionality (not by field id)."""
    from pyiceberg.types import StructType

    if isinstance(a, StructType) and isinstance(b, StructType):
        if [f.name for f in a.fields] != [f.name for f in b.fields]:
            return False
        return all(
            _same_type(x.field_type, y.field_type) and x.required == y.required for x, y in zip(a.fields, b.fields)
        )
    return a == b


def table_differences(table: Table, schema: TableSchema = CONVERSATIONS_SCHEMA) -> tuple[list[str], list[str]]:
    """Compare an existing table with the expected shape.

    :param table: the table.
    :param schema: the table's records.
    :return: ``(incompatible, missing)``: descriptions of what refuses the table, and the expected
        columns it lacks (added by :func:`open_table`).
    """
    expected, actual = iceberg_schema(schema), table.schema()
    problems, missing = [], []
    for field in expected.fields:
        found = next((f for f in actual.fields if f.name == field.name), None)
        if found is None:
            missing.append(field.name)
        elif not _same_type(found.field_type, field.field_type):
            problems.append(f"column {field.name!r} is {found.field_type}, expected {field.field_type}")
        elif found.required:
            problems.append(f"column {field.name!r} is required; the export writes it as optional (nullable)")
    names = {f.name for f in expected.fields}
    for found in actual.fields:
        if found.name not in names and found.required:
            problems.append(f"column {found.name!r} is required, and the export does not write it")
    spec = table.spec()
    window_field = schema.window_field
    wanted = f"[{partition_name(schema)}: day({window_field})]"
    have = [f"{pf.name}: {pf.transform}({actual.find_column_name(pf.source_id)})" for pf in spec.fields]
    if (
        len(spec.fields) != 1
        or str(spec.fields[0].transform) != "day"
        or actual.find_column_name(spec.fields[0].source_id) != window_field
    ):
        problems.append(f"partitioning is [{', '.join(have)}], expected {wanted}")
    return problems, missing


def open_table(catalog: Catalog, namespace: str, name: str, schema: TableSchema = CONVERSATIONS_SCHEMA) -> Table:
    """Load the table, creating the namespace and the table when absent; check (and extend) an existing one.

    :param catalog: the catalog.
    :param namespace: the table's namespace.
    :param name: the table's name.
    :param schema: the table's records.
    :raises ConversationsIcebergError: an incompatible existing table, naming every difference; nothing
        is changed then.
    """
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError

    identifier = f"{namespace}.{name}"
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        try:
            catalog.create_namespace_if_not_exists(namespace)
        except NamespaceAlreadyExistsError:
            pass
        columns = iceberg_schema(schema)
        properties = {**TABLE_PROPERTIES, NAME_MAPPING: columns.name_mapping.model_dump_json()}
        try:
            table = catalog.create_table(
                identifier,
                columns,
                partition_spec=partition_spec(columns, schema),
                sort_order=sort_order(columns, schema),
                properties=properties,
            )
            log.info("Created Iceberg table %s at %s", identifier, table.location())
            return table
        except TableAlreadyExistsError:  # another task created it meanwhile
            table = catalog.load_table(identifier)
    problems, missing = table_differences(table, schema)
    if problems:
        raise ConversationsIcebergError(
            f"table: the existing Iceberg table {identifier} is incompatible with the {schema.name}s table: "
            f"{'; '.join(problems)}. Nothing was written; use another table name, or alter that table."
        )
    if missing or NAME_MAPPING not in table.properties:
        _extend(table, missing, schema)
        table = catalog.load_table(identifier)
    return table


def _extend(table: Table, missing: list[str], schema: TableSchema) -> None:
    """Add the expected columns ``table`` lacks (optional, so existing files read them as null); set the name mapping."""
    expected = iceberg_schema(schema)
    with table.transaction() as tx:
        if missing:
            with tx.update_schema() as update:
                for column in missing:
                    field = expected.find_field(column)
                    update.add_column(column, field.field_type, doc=field.doc)
            log.info("Added the column(s) %s to Iceberg table %s", missing, ".".join(table.name()))
        tx.set_properties({NAME_MAPPING: tx.table_metadata.schema().name_mapping.model_dump_json()})


def lineage_columns(schema: TableSchema = CONVERSATIONS_SCHEMA) -> list[dict[str, Any]]:
    """The table's columns for the lineage's schema facet: ``{"name", "type", "description"}`` dicts.

    Types are Iceberg's names (``string``, ``long``, ``double``, ``boolean``, ``timestamptz``); a struct
    column is ``struct`` with its own columns under ``fields``.

    :param schema: the table's records.
    """
    from pyiceberg.types import NestedField, StructType

    def describe(f: NestedField) -> dict[str, Any]:
        column: dict[str, Any] = {"name": f.name, "type": str(f.field_type), "description": f.doc or ""}
        if isinstance(f.field_type, StructType):
            column["type"] = "struct"
            column["fields"] = [describe(child) for child in f.field_type.fields]
        return column

    return [describe(f) for f in iceberg_schema(schema).fields]
