"""s3_extra_args and tmp_dir are checked before any I/O, with errors that name the argument."""

from __future__ import annotations

import re

import pytest
from boto3.s3.transfer import S3Transfer

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.settings import allowed_upload_args, check_s3_extra_args, check_tmp_dir


def test_allowed_keys_are_boto3s_upload_args():
    assert set(allowed_upload_args()) == set(S3Transfer.ALLOWED_UPLOAD_ARGS)
    assert {"ServerSideEncryption", "SSEKMSKeyId", "ACL", "Metadata"} <= set(allowed_upload_args())


@pytest.mark.parametrize(
    "value",
    [
        None,
        {},
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:us-east-1:1:key/k"},
        {"ACL": "bucket-owner-full-control", "Metadata": {"team": "lake"}},
    ],
)
def test_accepted_extra_args(value):
    assert check_s3_extra_args(value) == (value or {})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("aws:kms", "s3_extra_args: expected a dict of S3 upload arguments, got str 'aws:kms'"),
        ([("ACL", "private")], "s3_extra_args: expected a dict of S3 upload arguments, got list"),
        ({"ServerSideEncryption": "AES256", "Encrypt": True}, "s3_extra_args: 'Encrypt' not accepted by boto3"),
        ({"Bucket": "b", "Key": "k"}, "s3_extra_args: 'Bucket', 'Key' not accepted by boto3 for uploads; allowed: ACL"),
    ],
)
def test_bad_extra_args_are_named(value, message):
    with pytest.raises(ConversationsFilterError, match=re.escape(message)):
        check_s3_extra_args(value)


def test_tmp_dir_accepts_none_and_an_existing_directory(tmp_path):
    assert check_tmp_dir(None) is None
    assert check_tmp_dir(tmp_path) == str(tmp_path)


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "tmp_dir: expected a directory path or None, got ''"), (3, "tmp_dir: expected a directory path")],
)
def test_bad_tmp_dir_values(value, message):
    with pytest.raises(ConversationsFilterError, match=re.escape(message)):
        check_tmp_dir(value)


def test_a_file_is_not_a_tmp_dir(tmp_path):
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(ConversationsFilterError, match="is not an existing directory"):
        check_tmp_dir(str(file))
