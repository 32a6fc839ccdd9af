"""The S3 layout as the export operators' destination: its arguments, checks, lineage and asset event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_conversations.exceptions import ConversationsDestinationError, ConversationsFilterError
from airflow_provider_conversations.lake.formats import check_compression, check_file_format
from airflow_provider_conversations.lake.s3.layout import PartitionLayout
from airflow_provider_conversations.lake.s3.lease import LEASE_SECONDS, WAIT_SECONDS, task_owner
from airflow_provider_conversations.lake.s3.table import S3Table
from airflow_provider_conversations.lake.settings import check_s3_extra_args, check_s3_prefix, secret_values
from airflow_provider_conversations.operators.base import BaseConversationsExportOperator
from airflow_provider_conversations.utils.assets import add_table_event_extra, table_asset_uri
from airflow_provider_conversations.utils.task_args import is_template

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_conversations.api.filters import ConversationFilters
    from airflow_provider_conversations.lake.destination import Destination
    from airflow_provider_conversations.version_compat import Context


class S3Destination(BaseConversationsExportOperator):
    """Commit the windows into the S3 layout under ``s3://{s3_bucket}/{s3_prefix}`` (JSONL or Parquet).

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the table: ``/``-separated names, no ``.``/``..``/empty segments, no
        ``date=`` segment. (templated)
    :param aws_conn_id: the AWS connection used by ``S3Hook`` (``None``: boto3's default chain). (templated)
    :param file_format: ``"jsonl"`` (records exactly as the API returned them) or ``"parquet"`` (one typed
        schema; needs the ``[parquet]`` extra).
    :param compression: JSONL: ``None`` (``.jsonl``) or ``"gzip"`` (``.jsonl.gz``); Parquet: the column
        codec, ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"``.
    :param s3_extra_args: upload arguments for every data part (e.g. ``{"ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "..."}``); manifests, leases and the table marker take the encryption and ACL ones.
    """

    #: The templated arguments every S3 export shares, in the order the operators list them.
    s3_template_fields: Sequence[str] = ("s3_bucket", "s3_prefix", "conversations_conn_id", "aws_conn_id")
    ui_color = "#e8f4fd"
    #: How long a window's lease holds without renewal, and how long a task waits for another task's.
    lease_seconds: float = LEASE_SECONDS
    lease_wait_seconds: float = WAIT_SECONDS

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_prefix: str,
        aws_conn_id: str | None = "aws_default",
        file_format: str = "jsonl",
        compression: str | None = None,
        s3_extra_args: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_prefix = s3_prefix
        self.aws_conn_id = aws_conn_id
        self.file_format = check_file_format(file_format)
        self.compression = check_compression(compression, self.file_format)
        self.s3_extra_args = check_s3_extra_args(s3_extra_args)
        if not is_template(s3_prefix):
            check_s3_prefix(s3_prefix)

    def _layout(self) -> PartitionLayout:
        """The table's key names, once bucket and prefix are checked (no I/O)."""
        if not isinstance(self.s3_bucket, str) or not self.s3_bucket.strip():
            raise ConversationsFilterError(f"s3_bucket: expected a bucket name, got {self.s3_bucket!r}")
        return PartitionLayout(check_s3_prefix(self.s3_prefix), self.compression, self.file_format)

    def open_destination(self, context: Context, filters: ConversationFilters) -> Destination:
        layout = self._layout()  # bucket and prefix checked before the bucket is asked for
        return self.s3_table(context, self._s3_hook(), layout, filters.as_dict())

    def s3_table(self, context: Context, s3: S3Hook, layout: PartitionLayout, filters: dict[str, Any]) -> S3Table:
        """A table of this task's bucket under ``layout``, with the task's settings and lease identity.

        :param context: the task context (the lease owner).
        :param s3: the S3 hook.
        :param layout: the table's key names.
        :param filters: the read's filters by field name (the table's shape).
        """
        return S3Table(
            s3,
            self.s3_bucket,
            layout,
            filters=filters,
            window_size=self.window_size,
            owner=task_owner(context, self.task_id),
            extra_args=self.s3_extra_args,
            lease_seconds=self.lease_seconds,
            lease_wait_seconds=self.lease_wait_seconds,
        )

    def log_secrets(self) -> list[str]:
        return secret_values(self.s3_extra_args)  # botocore and s3transfer log them at DEBUG

    def _s3_hook(self) -> S3Hook:
        """The S3 hook writing every data part with ``s3_extra_args``, once the bucket is known to be reachable."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        # Uploads run in the publishing threads, one multipart chunk (8 MB) at a time: no thread pool per upload
        # (its start-up costs more than a small part's PUT), and memory does not grow with the part size.
        s3 = S3Hook(
            aws_conn_id=self.aws_conn_id, transfer_config_args={"use_threads": False}, extra_args=self.s3_extra_args
        )
        if not s3.check_for_bucket(self.s3_bucket):
            raise ConversationsDestinationError(
                f"s3_bucket: bucket {self.s3_bucket!r} does not exist or is not reachable"
            )
        return s3

    def destination_report(self, destination: Destination) -> dict[str, Any]:
        return {"bucket": self.s3_bucket, "prefix": self._layout().prefix}

    def publish_event(self, context: Context, destination: Destination, extra: dict[str, Any]) -> None:
        extra = {**extra, "file_format": self.file_format}
        add_table_event_extra(context, self.outlets, table_asset_uri(self.s3_bucket, self._layout().prefix), extra)

    def destination_lineage(self, records: int | None, size: int | None) -> OperatorLineage | None:
        from airflow_provider_conversations.hooks.conversations import ConversationsHook
        from airflow_provider_conversations.utils.lineage import operator_lineage

        return operator_lineage(
            api_base_url=ConversationsHook(self.conversations_conn_id).settings.base_url,
            bucket=str(self.s3_bucket),
            prefix=self._layout().prefix,
            file_format=self.file_format,
            records=records,
            size=size,
        )
