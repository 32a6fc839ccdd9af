"""Transfer the transcripts (transcriptions and their sentences) of a ``created_at`` range into two Iceberg tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_conversations.api.transcriptions import TRANSCRIPTIONS_PATH
from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.formats import check_compression
from airflow_provider_conversations.lake.schema import SENTENCES_SCHEMA, TRANSCRIPTIONS_SCHEMA
from airflow_provider_conversations.lake.transcripts import TranscriptTables
from airflow_provider_conversations.operators.conversations_to_iceberg import iceberg_table_ref
from airflow_provider_conversations.operators.steps import CreatedAtRange
from airflow_provider_conversations.operators.transcripts import TranscriptsExport
from airflow_provider_conversations.utils.assets import add_table_event_extra
from airflow_provider_conversations.utils.task_args import is_template

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_conversations.lake.destination import Destination
    from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination
    from airflow_provider_conversations.version_compat import Context

__all__ = ["ConversationsTranscriptsToIcebergOperator", "TranscriptsIcebergDestination"]


class TranscriptsIcebergDestination(TranscriptsExport):
    """Commit transcripts into two Iceberg tables of the catalog of ``iceberg_conn_id``.

    Each table is created with its namespace when absent, partitioned by the day of its window field
    (``transcription_created_at``, ``created_at``) and sorted by it and its key; an incompatible one
    fails the task before any API request. Needs the ``[iceberg]`` extra.

    :param sentences_table: ``"namespace.table"`` of the sentences. (templated)
    :param transcriptions_table: ``"namespace.table"`` of the transcriptions, another table. (templated)
    :param iceberg_conn_id: an ``iceberg`` connection (see
        :class:`~.conversations_to_iceberg.IcebergTableDestination`). (templated)
    :param compression: the data files' Parquet codec: ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"``.
    """

    #: The templated arguments both Iceberg transcripts operators share, in the order they list them.
    iceberg_template_fields: Sequence[str] = (
        "sentences_table",
        "transcriptions_table",
        "iceberg_conn_id",
        "conversations_conn_id",
    )
    ui_color = "#e6f2e6"
    #: Commit all the task's windows in one snapshot per table at its end (a change sync).
    single_snapshot: bool = False

    def __init__(
        self,
        *,
        sentences_table: str,
        transcriptions_table: str,
        iceberg_conn_id: str = "iceberg_default",
        compression: str | None = "zstd",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sentences_table, self.transcriptions_table = sentences_table, transcriptions_table
        self.iceberg_conn_id = iceberg_conn_id
        self.file_format = "parquet"
        self.compression = check_compression(compression, "parquet")
        self._tables: TranscriptTables | None = None
        if not is_template(sentences_table) and not is_template(transcriptions_table):
            self._table_names()

    def _table_names(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """``(namespace, name)`` of the sentences and of the transcriptions table, checked (no I/O)."""
        from airflow_provider_conversations.lake.iceberg.catalog import parse_table_name

        sentences = parse_table_name(self.sentences_table, "sentences_table")
        transcriptions = parse_table_name(self.transcriptions_table, "transcriptions_table")
        if sentences == transcriptions:
            raise ConversationsFilterError(
                f"transcriptions_table: {self.transcriptions_table!r} is the sentences_table too; the sentences and "
                "the transcriptions need a table each"
            )
        return sentences, transcriptions

    def open_destination(self, context: Context, filters: Any) -> Destination:
        from airflow_provider_conversations.lake.iceberg.catalog import load_catalog
        from airflow_provider_conversations.lake.iceberg.sink import IcebergDestination

        (s_namespace, s_name), (t_namespace, t_name) = self._table_names()
        catalog = load_catalog(self.iceberg_conn_id)
        options: dict[str, Any] = {"compression": self.compression, "single_snapshot": self.single_snapshot}
        self._tables = TranscriptTables(
            IcebergDestination(catalog, s_namespace, s_name, schema=SENTENCES_SCHEMA, **options),
            IcebergDestination(catalog, t_namespace, t_name, schema=TRANSCRIPTIONS_SCHEMA, **options),
        )
        return cast("Destination", self._tables)

    @staticmethod
    def _iceberg(destination: Destination) -> dict[str, IcebergDestination]:
        """The two Iceberg tables of ``destination``, by name."""
        tables = cast(TranscriptTables, destination)
        return {
            "sentences": cast("IcebergDestination", tables.sentences),
            "transcriptions": cast("IcebergDestination", tables.transcriptions),
        }

    def destination_report(self, destination: Destination) -> dict[str, Any]:
        tables = self._iceberg(destination)
        return {
            "tables": {
                name: {
                    "table": table.identifier,
                    "location": table.table.location(),
                    "snapshot_id": table.snapshot_id,
                    "commits": len([c for c in table.commits if c.snapshot_id is not None]),
                }
                for name, table in tables.items()
            },
            "commit_seconds": round(sum(c.seconds for t in tables.values() for c in t.commits), 3),
        }

    def destination_lineage(self, records: int | None, size: int | None) -> OperatorLineage | None:
        """``/v2/transcriptions`` in; the sentences table (with the statistics) and the transcriptions table out."""
        from airflow_provider_conversations.hooks.conversations import ConversationsHook
        from airflow_provider_conversations.lake.iceberg.table import lineage_columns
        from airflow_provider_conversations.utils.lineage import iceberg_lineage

        if self._tables is None:
            return None
        sentences, transcriptions = self._iceberg(cast("Destination", self._tables)).values()
        if sentences._table is None or transcriptions._table is None:
            return None  # the tables' locations are known once the catalog was reached
        after_run = records is not None
        return iceberg_lineage(
            api_base_url=ConversationsHook(self.conversations_conn_id).settings.base_url,
            table=iceberg_table_ref(sentences, after_run=after_run),
            columns=lineage_columns(SENTENCES_SCHEMA),
            records=records,
            size=size,
            more=[(iceberg_table_ref(transcriptions, after_run=after_run), lineage_columns(TRANSCRIPTIONS_SCHEMA))],
            endpoint=TRANSCRIPTIONS_PATH,
        )

    def publish_event(self, context: Context, destination: Destination, extra: dict[str, Any]) -> None:
        for name, table in self._iceberg(destination).items():
            self.log.info(
                "Iceberg table %s (%s): snapshot %s after %d commit(s)",
                table.identifier,
                name,
                table.snapshot_id,
                len(table.commits),
            )
            event = {**extra, "table": table.identifier, "snapshot_id": table.snapshot_id}
            add_table_event_extra(context, self.outlets, table.table.location().rstrip("/"), event)


class ConversationsTranscriptsToIcebergOperator(TranscriptsIcebergDestination, CreatedAtRange):
    """Copy the transcriptions created in ``[created_at_gte, created_at_lt)`` and all their sentences into Iceberg.

    The Iceberg twin of :class:`~.transcripts_to_s3.ConversationsTranscriptsToS3Operator`: the same
    windows, reads, cost and ``max_points``. Each window's sentences are committed in
    ``sentences_table`` (one snapshot), then its transcriptions in ``transcriptions_table`` (one
    snapshot); a window is replaced whole, never by an older read. A window is only committed whole: an
    unknown transcription (404) or a sentence read that stays short fails the task before the
    window's commit, leaving only unreferenced files.

    XCom adds ``sentences``, ``transcripts`` (transcriptions listed, read, kept), ``budget`` and
    ``tables`` (per table: ``table``, ``location``, ``snapshot_id``, ``commits``).

    :param sentences_table: ``"namespace.table"`` of the sentences. (templated)
    :param transcriptions_table: ``"namespace.table"`` of the transcriptions. (templated)
    :param iceberg_conn_id: the ``iceberg`` connection of the catalog. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param created_at_gte: inclusive start of the transcriptions' ``created_at``; default the data
        interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param window_size: window length, whole seconds dividing one day (default one day).
    :param filters: ``ids`` and ``language_code`` of ``GET /v2/transcriptions``. (templated)
    :param per_page: transcriptions per list request, 1..100.
    :param max_records_per_file: rows per data file, at most.
    :param compression: the data files' Parquet codec (default ``"zstd"``).
    :param max_concurrency: API requests in flight at once (default the connection's).
    :param tmp_dir: directory for the local part files.
    :param max_points: the most rate-limit points the task spends: it stops at the first window boundary
        where it has spent them and skips the windows both tables already hold, so the next run resumes.
    """

    template_fields: Sequence[str] = (
        *TranscriptsIcebergDestination.iceberg_template_fields,
        "created_at_gte",
        "created_at_lt",
        "filters",
    )
