"""Arguments about where and how the export writes: ``s3_prefix``, S3 upload settings (``s3_extra_args``) and
local staging (``tmp_dir``), all checked before any API request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError


def allowed_upload_args() -> tuple[str, ...]:
    """The ``ExtraArgs`` keys boto3 accepts for uploads (``S3Transfer.ALLOWED_UPLOAD_ARGS``), sorted."""
    from boto3.s3.transfer import S3Transfer

    return tuple(sorted(S3Transfer.ALLOWED_UPLOAD_ARGS))


#: Upload arguments that also apply to the table's small control objects (manifests, leases, the table
#: marker): encryption (a bucket policy may demand it, and SSE-C must be sent on every request that
#: reads them back), ownership and ACLs. Storage classes, object locks, tags, metadata and content
#: headers stay on data parts only: a GLACIER-class lease or manifest could never be read back.
CONTROL_OBJECT_ARGS = frozenset(
    {
        "ACL",
        "ExpectedBucketOwner",
        "GrantFullControl",
        "GrantRead",
        "GrantReadACP",
        "GrantWriteACP",
        "RequestPayer",
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "SSEKMSEncryptionContext",
        "SSEKMSKeyId",
        "ServerSideEncryption",
    }
)
#: The arguments a ``GET``/``HEAD`` of an object written with SSE-C must repeat.
READ_BACK_ARGS = ("ExpectedBucketOwner", "RequestPayer", "SSECustomerAlgorithm", "SSECustomerKey", "SSECustomerKeyMD5")
#: Values never to be printed: an SSE-C key is a secret.
SECRET_ARGS = frozenset({"SSECustomerKey"})


def control_object_args(extra_args: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``s3_extra_args`` that applies to manifests, leases and the table marker.

    :param extra_args: the checked ``s3_extra_args``.
    """
    return {k: v for k, v in extra_args.items() if k in CONTROL_OBJECT_ARGS}


def read_back_args(extra_args: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``s3_extra_args`` a ``GET`` or ``HEAD`` of a control object must send (SSE-C, owner, payer).

    :param extra_args: the checked ``s3_extra_args``.
    """
    return {k: v for k, v in extra_args.items() if k in READ_BACK_ARGS}


def secret_values(extra_args: Mapping[str, Any]) -> list[str]:
    """The secrets in ``s3_extra_args`` as they may appear in logs: an SSE-C key raw and base64-encoded.

    :param extra_args: the ``s3_extra_args``.
    """
    import base64

    out: list[str] = []
    for name in SECRET_ARGS:
        value = extra_args.get(name)
        if isinstance(value, (str, bytes)) and value:
            raw = value.encode() if isinstance(value, str) else value
            out += [raw.decode("latin-1"), base64.b64encode(raw).decode()]
    return out


class _Redact(logging.Filter):
    """Replace the given secrets in every record that passes, whatever logger wrote it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


@contextmanager
def redacting(secrets: list[str]) -> Iterator[None]:
    """Keep ``secrets`` out of every log line written meanwhile, DEBUG included.

    botocore and s3transfer log request parameters and headers at DEBUG (an SSE-C key raw and
    base64-encoded); Airflow's masker does not see those lines in every Airflow version, so the
    handlers of the root and task loggers get a filter of their own while the task writes.

    :param secrets: the strings to replace with ``***``.
    """
    if not secrets:
        yield
        return
    redact = _Redact(secrets)
    handlers = {h for name in ("", "airflow.task") for h in logging.getLogger(name).handlers}
    for handler in handlers:
        handler.addFilter(redact)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(redact)


def _upload_arg_shapes() -> dict[str, Any]:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("s3").operation_model("PutObject").input_shape
    return dict(shape.members)


def _check_value(name: str, value: Any, shape: Any) -> str | None:
    """What is wrong with one upload argument's value (``None``: nothing), from botocore's S3 model."""
    kind = getattr(shape, "type_name", None)
    if kind == "string":
        if not isinstance(value, str):
            return f"expected a string, got {type(value).__name__}"
        allowed = getattr(shape, "enum", None) or []
        if allowed and value not in allowed:
            return f"{value!r} is not one of {', '.join(allowed)}"
    elif kind == "map":
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return "expected a dict of strings to strings"
    elif kind == "timestamp":
        from datetime import datetime

        if not isinstance(value, (datetime, str)):
            return f"expected a datetime or an ISO-8601 string, got {type(value).__name__}"
    elif kind == "boolean" and not isinstance(value, bool):
        return f"expected true or false, got {type(value).__name__}"
    return None


def check_s3_prefix(value: Any) -> str:
    """Return ``s3_prefix`` without leading or trailing ``/``, or raise naming what is wrong with it.

    A prefix is ``/``-separated segments, none of them empty, ``.`` or ``..``, none starting with
    ``date=`` (that is the partition column), and no surrounding spaces or control characters:
    readers and S3 consoles would otherwise disagree about where the table is.

    :param value: the prefix (``""`` or ``None``: the bucket's root).
    :raises ConversationsFilterError: naming the prefix and the rule it breaks.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConversationsFilterError(f"s3_prefix: expected a string, got {type(value).__name__}")
    if value != value.strip():
        raise ConversationsFilterError(f"s3_prefix: {value!r} has surrounding whitespace")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConversationsFilterError(f"s3_prefix: {value!r} holds a control character")
    prefix = value.strip("/")
    if not prefix:
        return ""
    for segment in prefix.split("/"):
        if segment in ("", ".", ".."):
            raise ConversationsFilterError(
                f"s3_prefix: {value!r} has an empty, '.' or '..' segment; use plain names separated by single '/'"
            )
        if segment != segment.strip():
            raise ConversationsFilterError(f"s3_prefix: segment {segment!r} of {value!r} has surrounding whitespace")
        if segment.startswith("date="):
            raise ConversationsFilterError(
                f"s3_prefix: {value!r} holds a 'date=' segment; the table's partitions go below the prefix"
            )
    return prefix


def check_s3_extra_args(value: Any) -> dict[str, Any]:
    """Return ``s3_extra_args`` as a dict of upload arguments boto3 accepts, or raise a clear error.

    They are applied to every data part, e.g. ``{"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "..."}``
    or ``{"ACL": "bucket-owner-full-control"}``; the control objects (manifests, leases, the table marker)
    take only :data:`CONTROL_OBJECT_ARGS`. Values are checked against botocore's S3 model: types,
    and the allowed values of enumerations such as ``ACL``, ``StorageClass`` or ``ServerSideEncryption``.

    :param value: ``None`` (no extra arguments) or a dict whose keys are in :func:`allowed_upload_args`.
    :raises ConversationsFilterError: not a dict, a key boto3 does not accept for uploads (named, with
        the allowed keys), or a value of the wrong type or not among the allowed ones (named).
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
    shapes = _upload_arg_shapes()
    for name, item in value.items():
        problem = _check_value(name, item, shapes.get(name))
        if problem is not None:
            if name in SECRET_ARGS:  # never print the key itself
                problem = f"expected a string, got {type(item).__name__}"
            raise ConversationsFilterError(f"s3_extra_args: {name}: {problem}")
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
