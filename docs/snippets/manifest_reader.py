"""Read a day of conversations through the manifests: complete windows only, parts verified."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import boto3

s3 = boto3.client("s3")


def manifests(bucket: str, prefix: str, day: str) -> list[dict[str, Any]]:
    """The manifests of one ``date=YYYY-MM-DD`` partition, i.e. its complete windows."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/date={day}/_manifest-"
    ):
        for obj in page.get("Contents", []):
            found.append(json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    return sorted(found, key=lambda m: m["created_at_gte"])


def read_window(bucket: str, manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of one complete window, each part checked against the manifest."""
    if manifest["manifest_version"] != 1 or not manifest["complete"]:
        raise ValueError(f"unsupported manifest: {manifest}")
    for part in manifest["parts"]:
        # A missing key or other bytes: a rerun started publishing after we read the manifest.
        body = s3.get_object(Bucket=bucket, Key=part["key"])["Body"].read()
        if len(body) != part["bytes"] or hashlib.md5(body).hexdigest() != part["md5"]:
            raise RuntimeError(f"{part['key']} changed since its manifest was read; retry later")
        if manifest["compression"] == "gzip":
            body = gzip.decompress(body)
        for line in body.decode("utf-8").splitlines():
            yield json.loads(line)


def read_day(bucket: str, prefix: str, day: str) -> Iterator[dict[str, Any]]:
    """Every conversation created on ``day`` (UTC), or an error if any window is not complete."""
    windows = manifests(bucket, prefix, day)
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    covered = f"{day}T00:00:00.000000Z"
    for manifest in windows:  # the windows must tile the day: no gap, no overlap
        if manifest["created_at_gte"] != covered:
            raise RuntimeError(f"{day}: no complete window starts at {covered}")
        covered = manifest["created_at_lt"]
    if covered != f"{next_day}T00:00:00.000000Z":
        raise RuntimeError(f"{day}: complete only up to {covered}")
    for manifest in windows:
        yield from read_window(bucket, manifest)
