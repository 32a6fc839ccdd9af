"""The cProfile runs of regime C, summarised: seconds by category of code, by stage, top functions."""

from __future__ import annotations

import pstats
from collections import defaultdict

from _common import ROOT

CATEGORIES = (
    ("socket: waiting for the API or S3", ("recv_into", "sendall", "'connect'", "_socket")),
    ("threads waiting (locks)", ("acquire' of '_thread",)),
    ("JSON decode", ("json/decoder", "json/__init__.py:299")),
    ("JSON encode", ("json/encoder", "json/__init__.py:183")),
    ("our package", ("airflow_provider_conversations",)),
    ("S3 client (boto3, botocore, s3transfer)", ("botocore", "boto3", "s3transfer")),
    ("HTTP client (requests, urllib3, http.client)", ("requests/", "urllib3", "http/client", "urllib/")),
    ("Airflow (hooks, connections, logging)", ("airflow/", "structlog", "logging")),
    ("files, temp dirs, hashing", ("tempfile", "shutil", "posix", "_io", "_hashlib", "gzip")),
)


STAGES: dict[str, list[tuple[str, str, str]]] = {
    "ours": [
        ("the task: `execute()`", "conversations_to_s3.py", "execute"),
        ("S3 client + `check_for_bucket`", "aws/hooks/s3.py", "check_for_bucket"),
        ("fetch pages: `ConversationsHook._get` (pacing, HTTP, waiting, parsing)", "hooks/conversations.py", "_get"),
        ("&nbsp;&nbsp;`requests` `Session.get` (HTTP + waiting for the API)", "requests/sessions.py", "get"),
        ("&nbsp;&nbsp;`wire.parse_page` (JSON decode, checks)", "wire.py", "parse_page"),
        ("range read: `NumberedChunkRead.pop` (checks, order)", "walk_chunks.py", "pop"),
        ("write parts: `PartWriter.write` (JSONL or Parquet)", "lake/parts.py", "write"),
        ("publish to S3: `WindowPublisher.publish` (per window)", "export.py", "publish"),
        ("&nbsp;&nbsp;`S3Hook.delete_objects` (manifest, stale parts)", "aws/hooks/s3.py", "delete_objects"),
        ("&nbsp;&nbsp;`S3Hook.load_file` (parts)", "aws/hooks/s3.py", "load_file"),
        ("&nbsp;&nbsp;`S3Hook.list_keys`", "aws/hooks/s3.py", "list_keys"),
        ("&nbsp;&nbsp;`S3Hook.load_bytes` (manifest)", "aws/hooks/s3.py", "load_bytes"),
        ("temp dirs: `TemporaryDirectory` cleanup", "tempfile.py", "cleanup"),
    ],
    "handwritten": [
        ("the task: `export_conversations`", "handwritten.py", "export_conversations"),
        ("fetch pages: `HttpHook.run_and_check`", "http/hooks/http.py", "run_and_check"),
        ("`Session.prepare_request`", "requests/sessions.py", "prepare_request"),
        ("JSON decode: `Response.json`", "requests/models.py", "json"),
        ("JSON encode: `json.dumps`", "json/__init__.py", "dumps"),
        ("`S3Hook.load_string` (incl. S3 client)", "aws/hooks/s3.py", "load_string"),
    ],
    "raw": [
        ("the task: `export`", "rawloop.py", "export"),
        ("fetch pages: `Session.get`", "requests/sessions.py", "get"),
        ("JSON decode: `json.loads`", "json/__init__.py", "loads"),
        ("JSON encode: `json.dumps`", "json/__init__.py", "dumps"),
        ("S3 client: `boto3.client`", "boto3/__init__.py", "client"),
        ("S3 calls: botocore `_api_call`", "botocore/client.py", "_api_call"),
    ],
}


def stage_times(path: str, stages: list[tuple[str, str, str]]) -> list[tuple[str, int, float]]:
    """Calls and cumulative seconds of each stage's function in a cProfile file."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    out = []
    for label, file_part, func in stages:
        # The outermost function of that name in that file (e.g. JsonlPartWriter.write, not the file's write).
        found = [
            (ct, nc)
            for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in stats.items()
            if name == func and file_part in filename
        ]
        seconds, calls = max(found, default=(0.0, 0))
        out.append((label, calls, seconds))
    return out


def summarize_profile(path: str) -> tuple[dict[str, float], list[list[str]]]:
    stats = pstats.Stats(path)
    cats: dict[str, float] = defaultdict(float)
    entries = []
    for (filename, line, name), (_cc, nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        key = f"{filename}:{line}({name})"
        for cat, needles in CATEGORIES:
            if any(n in key for n in needles):
                cats[cat] += tt
                break
        else:
            cats["other"] += tt
        entries.append((tt, nc, key))
    cats["total"] = sum(tt for tt, _, _ in entries)
    entries.sort(reverse=True)
    return dict(cats), [[f"{tt:.3f}", str(nc), short(key)] for tt, nc, key in entries[:10]]


def short(key: str) -> str:
    for marker in ("site-packages/", "python3.11/", f"{ROOT}/"):
        if marker in key:
            key = key.split(marker, 1)[1]
    return "`" + key.replace("|", "\\|") + "`"
