"""Arguments about how the export writes: S3 upload settings (``s3_extra_args``) and local staging (``tmp_dir``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError


def allowed_upload_args() -> tuple[str, ...]:
    """The ``ExtraArgs`` keys boto3 accepts for uploads (``S3Transfer.ALLOWED_UPLOAD_ARGS``), sorted."""
    from boto3.s3.transfer import S3Transfer

    return tuple(sorted(S3Transfer.ALLOWED_UPLOAD_ARGS))


def check_s3_extra_args(value: Any) -> dict[str, Any]:
    """Return ``s3_extra_args`` as a dict of upload arguments boto3 accepts, or raise a clear error.

    They are applied to every object the export writes, data parts and manifests alike, e.g.
    ``{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "..."}`` or ``{"ACL": "bucket-owner-full-control"}``.

    :param value: ``None`` (no extra arguments) or a dict whose keys are in :func:`allowed_upload_args`.
    :raises ConversationsFilterError: not a dict, or a key boto3 does not accept for uploads (named, with
        the allowed keys).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConversationsFilterError(
            f"s3_extra_args: expected a dict of S3 upload arguments, got {type(value).__name__} {value!r}"
        )
    allowed = allowed_upload_args()
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ConversationsFilterError(
            f"s3_extra_args: {', '.join(repr(k) for k in unknown)} not accepted by boto3 for uploads; "
            f"allowed: {', '.join(allowed)}"
        )
    return dict(value)


def check_tmp_dir(value: Any) -> str | None:
    """Return ``tmp_dir`` if it is ``None`` (the system's temp dir) or an existing, writable directory.

    :param value: the value to check.
    :raises ConversationsFilterError: naming the value and what is wrong with it.
    """
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConversationsFilterError(f"tmp_dir: expected a directory path or None, got {value!r}")
    path = os.fspath(value)
    if not os.path.isdir(path):
        raise ConversationsFilterError(f"tmp_dir: {path!r} is not an existing directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConversationsFilterError(f"tmp_dir: {path!r} is not writable")
    return str(path)
