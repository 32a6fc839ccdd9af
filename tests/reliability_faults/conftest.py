"""Shared parts of the reliability tests: S3 fixtures, a manifest-following reader, figures.

The reader follows ``docs/layout.rst`` ("Through the manifests"): it lists ``_manifest-*.json``,
reads only the parts a manifest lists, and checks each part's size, MD5 and record count against
the manifest. Anything else is a :class:`ManifestViolation`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.integration import conftest as _integration
from tests.reliability_faults.s3_proxy import Exchange, FaultyS3Proxy

# moto's S3 server (session), a boto3 client on it with ``aws_default`` pointing at it, a fresh bucket.
s3_endpoint = _integration.s3_endpoint
s3_client = _integration.s3_client
bucket = _integration.bucket
read_objects = _integration.read_objects
comparable = _integration.comparable

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIGURES_FILE = "reliability-figures.json"

#: Figures accumulated by the tests of this session (written to JSON and printed at the end).
FIGURES: dict[str, Any] = {"fault_runs": [], "s3_failures": [], "crash_cases": []}
_FIGURES_LOCK = threading.Lock()


def add_figure(section: str, entry: dict[str, Any]) -> None:
    with _FIGURES_LOCK:
        FIGURES[section].append(entry)


class ManifestViolation(AssertionError):
    """A committed window (its manifest exists) whose parts are missing or differ from the manifest."""


def ts(value: datetime) -> str:
    """The layout's timestamp format: UTC, microseconds, ``Z``."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def expected_windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[str, str]]:
    """The windows ``[gte, lt)`` the operator must commit for ``[start, end)``: the UTC grid of ``size``,
    clipped at both ends (computed here independently of the package)."""
    cell = start - (start - EPOCH) % size
    out = []
    while cell < end:
        out.append((ts(max(cell, start)), ts(min(cell + size, end))))
        cell += size
    return out


def compact(record: dict[str, Any]) -> bytes:
    """A record as one line of a data object (the layout's JSONL form, without the newline)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class CommittedWindow:
    """A window as a manifest-following reader sees it."""

    manifest_key: str
    manifest: dict[str, Any]
    manifest_bytes: bytes
    lines: list[bytes] = field(default_factory=list)

    @property
    def bounds(self) -> tuple[str, str]:
        return self.manifest["created_at_gte"], self.manifest["created_at_lt"]

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


def snapshot(client: Any, bucket_name: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix`` with its bytes, skipping objects deleted between list and read."""
    out = {}
    for key in list_keys(client, bucket_name, prefix):
        body = _body(client, bucket_name, key)
        if body is not None:
            out[key] = body
    return out


def _body(client: Any, bucket_name: str, key: str) -> bytes | None:
    """An object's bytes, or ``None`` if it does not exist (e.g. deleted since it was listed)."""
    try:
        return client.get_object(Bucket=bucket_name, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


def list_keys(client: Any, bucket_name: str, prefix: str = "") -> dict[str, tuple[str, int]]:
    """Every key under ``prefix`` with its ETag (quotes stripped) and size, in one listing."""
    out: dict[str, tuple[str, int]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket_name, Prefix=prefix):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["ETag"].strip('"'), obj["Size"])
    return out


def is_manifest(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return name.startswith("_manifest-") and name.endswith(".json")


def read_through_manifests(client: Any, bucket_name: str, prefix: str) -> list[CommittedWindow]:
    """Read every committed window under ``prefix`` the documented way; raise on any inconsistency.

    Checks per manifest: version 1, ``complete``, its key matches its bounds' date folder, every
    listed part exists, and its bytes match ``bytes``/``md5``, its lines ``records``; the parts' sum is
    ``record_count``; the compression matches the keys' extension.
    """
    windows = []
    for key in sorted(k for k in list_keys(client, bucket_name, f"{prefix}/") if is_manifest(k)):
        raw = _body(client, bucket_name, key)
        if raw is None:
            continue  # deleted between the listing and the read: not committed any more
        manifest = json.loads(raw)
        if manifest.get("manifest_version") != 1 or manifest.get("complete") is not True:
            raise ManifestViolation(f"{key}: not a complete version-1 manifest: {manifest}")
        day = manifest["created_at_gte"][:10]
        if not key.startswith(f"{prefix}/date={day}/"):
            raise ManifestViolation(f"{key}: not in the partition of its window {manifest['created_at_gte']}")
        window = CommittedWindow(key, manifest, raw)
        total = 0
        ext = ".jsonl.gz" if manifest["compression"] == "gzip" else ".jsonl"
        for part in manifest["parts"]:
            body = _body(client, bucket_name, part["key"])
            if body is None:
                raise ManifestViolation(f"{key} lists {part['key']}, which does not exist")
            if len(body) != part["bytes"] or hashlib.md5(body).hexdigest() != part["md5"]:
                raise ManifestViolation(f"{key} lists {part['key']}, whose bytes differ from the manifest")
            if not part["key"].endswith(ext):
                raise ManifestViolation(
                    f"{part['key']}: extension does not match compression {manifest['compression']}"
                )
            text = gzip.decompress(body) if manifest["compression"] == "gzip" else body
            lines = text.split(b"\n")
            if lines[-1] != b"":
                raise ManifestViolation(f"{part['key']}: does not end in a newline")
            lines = lines[:-1]
            if len(lines) != part["records"] or not lines:
                raise ManifestViolation(f"{part['key']}: {len(lines)} line(s), the manifest says {part['records']}")
            window.lines += lines
            total += part["records"]
        if total != manifest["record_count"]:
            raise ManifestViolation(f"{key}: parts hold {total} records, record_count is {manifest['record_count']}")
        windows.append(window)
    return windows


class CommitChecker:
    """Checks the commit protocol's invariants after every S3 mutation (called by the proxy under its
    mutation lock, so it sees each intermediate state of the bucket, one mutation at a time):

    * each manifest under ``prefix`` lists only parts that exist with the manifest's size and MD5
      (from one listing: parts are single-part uploads, so the ETag is the MD5): a version is never
      visible before all its parts are staged, and a listed part is never deleted or overwritten;
    * a window once committed stays committed: a manifest seen in one state is in every later one
      (a rewrite replaces the manifest in place, it never deletes it first).

    Call it once before the run to record the windows committed beforehand. Violations are collected,
    not raised, as the check runs in a proxy thread."""

    def __init__(self, client: Any, bucket_name: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket_name, prefix
        self.checks = 0
        self.committed_seen = 0
        self.violations: list[str] = []
        self.committed: set[str] = set()  # manifests seen so far: they must never disappear
        self._manifests: dict[tuple[str, str], dict[str, Any]] = {}

    def __call__(self, exchange: Exchange | None = None) -> None:
        try:
            listing = list_keys(self.client, self.bucket, f"{self.prefix}/")
            for key in sorted(self.committed - set(listing)):
                self.violations.append(f"after {_what(exchange)}: the committed window {key} is gone")
            for key, (etag, _size) in listing.items():
                if not is_manifest(key):
                    continue
                manifest = self._manifests.get((key, etag))
                if manifest is None:
                    raw = _body(self.client, self.bucket, key)
                    if raw is None:
                        self.violations.append(f"after {_what(exchange)}: {key} listed but unreadable")
                        continue
                    manifest = self._manifests[(key, etag)] = json.loads(raw)
                self.committed.add(key)
                self.committed_seen += 1
                for part in manifest["parts"]:
                    found = listing.get(part["key"])
                    if found is None:
                        self.violations.append(f"after {_what(exchange)}: {key} lists missing {part['key']}")
                    elif found != (part["md5"], part["bytes"]):
                        self.violations.append(f"after {_what(exchange)}: {key} lists changed {part['key']}")
            self.checks += 1
        except Exception as err:  # a checker that cannot read S3 must not pass silently
            self.violations.append(f"checker failed after {_what(exchange)}: {err!r}")


def _what(exchange: Exchange | None) -> str:
    return f"{exchange.method} {exchange.path}" if exchange else "the run"


def aws_conn(endpoint: str, **config_kwargs: Any) -> str:
    """The JSON form of an ``aws`` connection to an S3 endpoint (moto, or the proxy in front of it)."""
    extra: dict[str, Any] = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    if config_kwargs:
        extra["config_kwargs"] = config_kwargs
    return json.dumps({"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra})


@pytest.fixture(scope="package", autouse=True)
def _share_botocore_data() -> Iterator[None]:
    """Speed only: each ``S3Hook`` builds a new boto3 session, whose loader parses botocore's JSON models
    again (~0.1 s per client, and the operator makes one per run). Share the parsed data between
    sessions, as one session already shares it between its clients (botocore's loader caches per
    instance and hands the same objects to every caller)."""
    from botocore import loaders

    cache: dict[Any, Any] = {}
    names = ("load_service_model", "load_data", "load_data_with_path", "list_available_services")
    with pytest.MonkeyPatch.context() as mp:
        for name in names:
            original = getattr(loaders.Loader, name)

            def shared(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
                # moto's loaders read their own models: share only between loaders of the same search paths
                key = (_name, tuple(getattr(self, "search_paths", ())), args, tuple(sorted(kwargs.items())))
                if key not in cache:
                    cache[key] = _original(self, *args, **kwargs)
                return cache[key]

            mp.setattr(loaders.Loader, name, shared)
        yield


@pytest.fixture
def make_bucket(s3_client: Any) -> Callable[[str], str]:
    """Create another bucket (for a clean run to compare with)."""
    import uuid

    def _make(tag: str = "clean") -> str:
        name = f"{tag}-{uuid.uuid4().hex[:12]}"
        s3_client.create_bucket(Bucket=name)
        return name

    return _make


@pytest.fixture
def s3_proxy_factory(s3_endpoint: str) -> Iterator[Callable[..., FaultyS3Proxy]]:
    """Start :class:`FaultyS3Proxy` instances in front of moto; all are stopped after the test."""
    made: list[FaultyS3Proxy] = []

    def _make(**kwargs: Any) -> FaultyS3Proxy:
        proxy = FaultyS3Proxy(s3_endpoint, **kwargs)
        made.append(proxy)
        return proxy.start()

    yield _make
    for proxy in reversed(made):
        proxy.stop()


# -- figures -----------------------------------------------------------------------------------------


def summarise(figures: dict[str, Any]) -> dict[str, Any]:
    runs = figures["fault_runs"]
    faults: dict[str, int] = {}
    for run in runs:
        for kind, n in run["faults"].items():
            faults[kind] = faults.get(kind, 0) + n
    summary: dict[str, Any] = {
        "fault_runs": {
            "runs": len(runs),
            "task_attempts": sum(r["attempts"] for r in runs),
            "failed_attempts": sum(r["failed_attempts"] for r in runs),
            "api_requests": sum(r["api_requests"] for r in runs),
            "faults_injected": dict(sorted(faults.items())),
            "faults_injected_total": sum(v for k, v in faults.items() if k != "delete"),
            "records_deleted_during_runs": faults.get("delete", 0),
            "records_in_range_before": sum(r["records_before"] for r in runs),
            "survivors": sum(r["survivors"] for r in runs),
            "records_checked": sum(r["records_checked"] for r in runs),
            "windows_checked": sum(r["windows"] for r in runs),
            "parts_checked": sum(r["parts"] for r in runs),
            "lost": sum(r["lost"] for r in runs),
            "duplicated": sum(r["duplicated"] for r in runs),
            "mismatched": sum(r["mismatched"] for r in runs),
            "runs_with_loss": [r["seed"] for r in runs if r["lost"]],
        },
        "s3_failures": figures["s3_failures"],
        "crash_cases": figures["crash_cases"],
    }
    return summary


@pytest.fixture(scope="package", autouse=True)
def _write_figures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    if not any(FIGURES.values()):
        return
    text = json.dumps({"summary": summarise(FIGURES), "details": FIGURES}, indent=2, sort_keys=True, default=str)
    path = tmp_path_factory.getbasetemp() / FIGURES_FILE
    path.write_text(text)
    FIGURES["_path"] = str(path)
    extra = os.environ.get("RELIABILITY_FIGURES")
    if extra:
        Path(extra).write_text(text)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not any(v for k, v in FIGURES.items() if not k.startswith("_")):
        return
    terminalreporter.section("reliability figures")
    terminalreporter.write_line(json.dumps(summarise(FIGURES), indent=2, sort_keys=True, default=str))
    with contextlib.suppress(KeyError):
        terminalreporter.write_line(f"details: {FIGURES['_path']}")
