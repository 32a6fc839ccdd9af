"""Transfer conversations of a ``created_at`` range to S3 as JSONL or Parquet partitions, window by window."""

from __future__ import annotations

from collections.abc import Sequence

from airflow_provider_conversations.operators.base import failing_fast_on_auth_errors, raise_if_not_retryable
from airflow_provider_conversations.operators.s3 import S3Destination
from airflow_provider_conversations.operators.steps import CreatedAtRange

__all__ = ["ConversationsToS3Operator", "failing_fast_on_auth_errors", "raise_if_not_retryable"]


class ConversationsToS3Operator(CreatedAtRange, S3Destination):
    """Copy conversations created in ``[created_at_gte, created_at_lt)`` to S3 as JSONL or Parquet partitions.

    The range (by default the run's data interval) is cut into UTC-aligned windows of ``window_size``.
    The range is read once, in ``created_at`` order, with several requests in flight (each at a cost
    of 1 point). Each window's records go into part files of at most ``max_records_per_file`` records,
    uploaded as soon as they are full, under
    ``{s3_prefix}/date=YYYY-MM-DD/part-HHMMSS-HHMMSS-NNNNN-<hash>.jsonl[.gz]`` (or ``.parquet``); once the
    read has passed a window's end, the window is committed by writing
    ``_manifest-HHMMSS-HHMMSS.json`` in place of the old one, while the read goes on. A rerun replaces
    a window whole; the old version stays readable until the new manifest is written, and a version
    read earlier than the committed one never replaces it. See the provider docs for the layout and
    how readers use the manifests.

    Errors that a retry cannot heal (bad arguments, a table of another shape, a connection of another
    type, an API answer of 401 or 403) fail the task without Airflow's retries. When the task's
    ``outlets`` hold the table's Asset (``s3://<bucket>/<prefix>``), its event carries what was
    committed; the operator reports OpenLineage (the API in, the table out) when the OpenLineage
    provider is installed.

    :param s3_bucket: destination bucket. (templated)
    :param s3_prefix: key prefix of the table. (templated)
    :param conversations_conn_id: the ``conversations`` connection. (templated)
    :param aws_conn_id: the AWS connection used by ``S3Hook`` (``None``: boto3's default chain). (templated)
    :param created_at_gte: inclusive start: aware datetime or ISO-8601 string with offset; default the
        data interval's start. (templated)
    :param created_at_lt: exclusive end; default the data interval's end. (templated)
    :param window_size: window length, whole seconds dividing one day (default one day: two objects a
        day; an hourly schedule wants ``timedelta(hours=1)``). A table keeps one window size.
    :param filters: further filters of the hook, as a dict of :class:`ConversationFilters` field names
        (no ``created_at`` bounds). A table keeps one filter set. (templated)
    :param per_page: records per request, 1..100.
    :param max_records_per_file: records per data object, at most.
    :param compression: JSONL: ``None`` (``.jsonl``) or ``"gzip"`` (``.jsonl.gz``); Parquet: the column
        codec, ``None``, ``"snappy"``, ``"gzip"`` or ``"zstd"``.
    :param max_concurrency: API requests in flight at once within the task, so requests overlap the
        API's latency (the rate-limit budget is still respected); default the connection's
        ``max_concurrency``.
    :param file_format: ``"jsonl"`` (records exactly as the API returned them) or ``"parquet"`` (one typed
        schema; needs the ``[parquet]`` extra). A table keeps one format.
    :param s3_extra_args: upload arguments for every data part (e.g. ``{"ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "..."}``; keys and values boto3 accepts for uploads); manifests, leases and the table
        marker take the encryption and ACL ones.
    :param tmp_dir: directory for the local part files of the windows being read or committed (default
        the system's temp dir); it holds up to five windows' data at once.
    """

    template_fields: Sequence[str] = (*S3Destination.s3_template_fields, "created_at_gte", "created_at_lt", "filters")
