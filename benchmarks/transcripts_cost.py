"""Transcripts: points, requests and speed of an export and of change syncs, against their floors.

Fake API on loopback (real HTTP, in this process so its accounting is read directly) and moto's S3
server (a child process). Three parts:

(a) an export of ``--days`` days of transcriptions, with sentence counts drawn as calls have them
    (mostly 100-600, some with none, some with exactly 100 or 101, some short);
(b) change syncs after reprocessing ``--reprocess`` shares of the transcriptions, plus some new and
    some deleted ones, each sync on the lake the previous one left;
(c) with ``--paced``: an export under a sped-up budget (``--budget`` points per ``--window`` seconds,
    ``--latency`` per answer), to show the points per window at the budget's ceiling.

The export's floor: ``ceil(transcriptions / 100)`` per window list plus ``max(1, ceil(sentences / 100))``
per transcription. The sync's floor: its scan (``ceil(listed / 100)``), each touched window's list, and
the sentence pages of the reprocessed and new transcriptions only. "Re-read days" is what the sync
would cost if it read every sentence of the touched windows again.

.venv/bin/python benchmarks/transcripts_cost.py            # prints JSON; exit status 1 if a bound is missed
.venv/bin/python benchmarks/transcripts_cost.py --paced    # with part (c)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import boto3
from _common import AWS_KEYS, WORK_DIR

from airflow_provider_conversations.operators.transcript_changes_to_s3 import ConversationsTranscriptChangesToS3Operator
from airflow_provider_conversations.operators.transcripts_to_s3 import ConversationsTranscriptsToS3Operator
from airflow_provider_conversations.testing import ChargeEvent, FakeConversationsAPI, generate_conversations
from airflow_provider_conversations.testing.processes import moto_s3_process

EXPORT_BOUND = 1.03  # the bounds: export and sync cost at most these multiples of their floors
SYNC_BOUND = 1.25
D0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
U0 = datetime(2025, 3, 1, tzinfo=timezone.utc)  # the first sync's interval: [U0, U0 + 1 h); the next an hour later
TOKEN = "bench-token"
BUCKET = "bench-transcripts"
DAY = timedelta(days=1)


def sentence_count(rng: random.Random) -> int:
    """A call's number of sentences: 4 % none, 3 % exactly 100, 3 % exactly 101, 5 % short, else 100-600."""
    draw = rng.random()
    if draw < 0.04:
        return 0
    if draw < 0.07:
        return 100
    if draw < 0.10:
        return 101
    if draw < 0.15:
        return rng.randint(1, 99)
    return round(rng.triangular(100, 600, 250))


def serve(days: int, per_day: int, seed: int, **kwargs: Any) -> FakeConversationsAPI:
    """A started fake API with ``per_day`` calls a day over ``days`` days and their transcripts (those
    created after the last day, minutes after a late call, are left out: every one is in the export)."""
    conversations = generate_conversations(days * per_day, seed=seed, start=D0, end=D0 + days * DAY)
    api = FakeConversationsAPI(conversations, token=TOKEN, seed=seed, **kwargs).start()
    end = f"{(D0 + days * DAY):%Y-%m-%d}"
    api.transcripts.delete(t["id"] for t in api.transcripts.records() if t["created_at"] >= end)
    rng = random.Random(f"sentence-counts-{seed}")
    for t in api.transcripts.records():
        api.transcripts.set_sentences(t["id"], sentence_count(rng))
    return api


def connect(api: FakeConversationsAPI, s3: str, **extra: Any) -> None:
    """Point ``conversations_default`` at the fake API and ``aws_default`` at the moto server."""
    os.environ["AIRFLOW_CONN_CONVERSATIONS_DEFAULT"] = json.dumps(
        {"conn_type": "conversations", "host": api.url, "password": TOKEN, "extra": extra}
    )
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps(
        {
            "conn_type": "aws",
            "login": AWS_KEYS["aws_access_key_id"],
            "password": AWS_KEYS["aws_secret_access_key"],
            "extra": {"endpoint_url": s3, "region_name": AWS_KEYS["region_name"]},
        }
    )


def interval(start: datetime, end: datetime) -> Any:
    """The task context of a run over ``[start, end)`` (all the operators read from it)."""
    return {"data_interval_start": start, "data_interval_end": end}


def pages(n: int) -> int:
    """Sentence pages of a transcription with ``n`` sentences (one request even without any)."""
    return max(1, math.ceil(n / 100))


def windows(api: FakeConversationsAPI) -> dict[str, list[str]]:
    """The API's transcription ids by UTC day of ``created_at`` (the default one-day windows)."""
    by_day: dict[str, list[str]] = {}
    for t in api.transcripts.records():
        by_day.setdefault(t["created_at"][:10], []).append(t["id"])
    return by_day


def export_floor(api: FakeConversationsAPI) -> int:
    """Each window's list plus every transcription's sentence pages."""
    return sum(
        math.ceil(len(ids) / 100) + sum(pages(len(api.transcripts.sentences(t))) for t in ids)
        for ids in windows(api).values()
    )


def lake_equals_api(api: FakeConversationsAPI, s3: str, prefix: str) -> bool:
    """Whether both tables, read through their manifests, hold exactly the API's rows, in order."""
    client = boto3.client("s3", endpoint_url=s3, **AWS_KEYS)
    ts = api.transcripts.records()
    expected = {
        "transcriptions": ts,
        "sentences": [row for t in ts for row in api.transcripts.sentence_rows(t["id"])],
    }
    for table, rows in expected.items():
        keys = sorted(
            o["Key"]
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/{table}/")
            for o in page.get("Contents", [])
            if "/_manifest-" in o["Key"]
        )
        lake: list[dict[str, Any]] = []
        for key in keys:
            for part in json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())["parts"]:
                body = client.get_object(Bucket=BUCKET, Key=part["key"])["Body"].read()
                lake += [json.loads(line) for line in body.splitlines()]
        if lake != rows:
            return False
    return True


def run_export(api: FakeConversationsAPI, s3: str, prefix: str, days: int) -> dict[str, Any]:
    """Part (a): export every day once; its cost, requests and speed against the floor."""
    api.reset_stats()
    op = ConversationsTranscriptsToS3Operator(task_id="export", s3_bucket=BUCKET, s3_prefix=prefix, compression=None)
    t0 = time.perf_counter()
    out = op.execute(interval(D0, D0 + days * DAY))
    seconds = time.perf_counter() - t0
    counts = [len(api.transcripts.sentences(t["id"])) for t in api.transcripts.records()]
    floor = export_floor(api)
    return {
        "days": days,
        "transcriptions": len(counts),
        "sentences": sum(counts),
        "sentence_counts": {
            "none": counts.count(0),
            "exactly 100": counts.count(100),
            "exactly 101": counts.count(101),
            "1-99": sum(1 <= c < 100 for c in counts),
            "102-600": sum(c > 101 for c in counts),
            "median": sorted(counts)[len(counts) // 2],
        },
        "requests": api.stats.requests,
        "points": api.stats.total_cost,
        "points_returned": out["cost"],
        "floor": floor,
        "ratio": round(api.stats.total_cost / floor, 4),
        "seconds": round(seconds, 2),
        "sentences_per_second": round(sum(counts) / seconds),
        "sentences_per_point": round(sum(counts) / api.stats.total_cost, 1),
        "lake_equals_api": lake_equals_api(api, s3, prefix),
    }


def change(
    api: FakeConversationsAPI, rng: random.Random, share: float, new: int, deleted: int, at: datetime
) -> set[str]:
    """Reprocess ``share`` of the transcriptions, insert ``new`` and delete ``deleted`` ones, all
    updated in ``[at, at + 1 h)``; return the ids whose sentences a sync must read."""
    ids = sorted(t["id"] for t in api.transcripts.records())
    picked = rng.sample(ids, round(len(ids) * share) + deleted)
    reprocessed, gone = picked[deleted:], picked[:deleted]
    step = timedelta(hours=1) / (len(reprocessed) + new + 1)
    for n, tid in enumerate(reprocessed):
        api.transcripts.retranscribe(tid, updated_at=at + step * n, sentences=sentence_count(rng))
    api.transcripts.delete(gone)
    template = next(t for t in api.transcripts.records())
    days = sorted({t["created_at"][:10] for t in api.transcripts.records()})
    inserted = [
        {
            **template,
            "id": f"new-{at:%H}-{n}",
            "created_at": f"{rng.choice(days)}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000000Z",
        }
        for n in range(new)
    ]
    api.transcripts.insert(
        inserted,
        sentences={t["id"]: sentence_count(rng) for t in inserted},
        updated_at=at + step * len(reprocessed),
    )
    return set(reprocessed) | {t["id"] for t in inserted}


def run_sync(
    api: FakeConversationsAPI,
    s3: str,
    prefix: str,
    rng: random.Random,
    share: float,
    new: int,
    deleted: int,
    at: datetime,
    memory: bool = False,
) -> dict[str, Any]:
    """Part (b): one change sync after the changes; its cost against the floor and against re-reading the days."""
    read = change(api, rng, share, new, deleted, at)
    by_day = windows(api)
    touched = {day for day, ids in by_day.items() if read & set(ids)}
    scan = math.ceil(len(read) / 100)
    lists = sum(math.ceil(len(by_day[d]) / 100) for d in touched)
    floor = scan + lists + sum(pages(len(api.transcripts.sentences(t))) for t in read)
    reread = scan + lists + sum(pages(len(api.transcripts.sentences(t))) for d in touched for t in by_day[d])
    api.reset_stats()
    op = ConversationsTranscriptChangesToS3Operator(
        task_id="sync", s3_bucket=BUCKET, s3_prefix=prefix, compression=None
    )
    if memory:
        tracemalloc.start()
    t0 = time.perf_counter()
    out = op.execute(interval(at, at + timedelta(hours=1)))
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] if memory else None
    tracemalloc.stop()
    return {
        # Python allocations at their peak during the sync (fake API threads included), with --memory
        "peak_traced_mb": None if peak is None else round(peak / 1e6, 1),
        "reprocessed_share": share,
        "reprocessed": len(read) - new,
        "new": new,
        "deleted": deleted,
        "touched_windows": len(touched),
        "transcriptions_read": out["transcripts"]["read"],  # their sentences from the API
        "transcriptions_kept": out["transcripts"]["kept"],  # their sentences from the lake
        "requests": api.stats.requests,
        "points": api.stats.total_cost,
        "points_returned": out["cost"],
        "floor": floor,
        "ratio": round(api.stats.total_cost / floor, 4),
        "reread_days_cost": reread,
        "share_of_reread": round(api.stats.total_cost / reread, 4),
        "seconds": round(seconds, 2),
        "lake_equals_api": lake_equals_api(api, s3, prefix),
    }


def run_paced(args: argparse.Namespace, s3: str) -> dict[str, Any]:
    """Part (c): one day exported under a sped-up budget; points per server window."""
    api = serve(
        1,
        args.paced_per_day,
        args.seed + 1,
        rate_limit_per_minute=args.budget,
        minute_seconds=args.window,
        latency=args.latency,
        retry_after=False,
    )
    events: list[ChargeEvent] = []
    api.add_observer(lambda e: events.append(e) if isinstance(e, ChargeEvent) else None)
    try:
        connect(api, s3, budget_per_minute=args.budget, rate_limit_window_seconds=args.window)
        op = ConversationsTranscriptsToS3Operator(
            task_id="paced", s3_bucket=BUCKET, s3_prefix="paced", compression=None
        )
        t0 = time.perf_counter()
        out = op.execute(interval(D0, D0 + DAY))
        seconds = time.perf_counter() - t0
        floor = export_floor(api)
    finally:
        api.stop()
    per_window = Counter(int(e.time // args.window) for e in events if e.allowed)
    spent = [per_window[w] for w in sorted(per_window)]
    full = spent[1:-1]  # the first and last windows are partly outside the run
    return {
        "budget": f"{args.budget} points per {args.window:g} s, {args.latency * 1000:g} ms per answer",
        "transcriptions": out["transcripts"]["transcriptions"],
        "sentences": out["sentences"],
        "points": sum(spent),
        "floor": floor,
        "throttled": sum(not e.allowed for e in events),
        "seconds": round(seconds, 2),
        "points_per_window": spent,
        "budget_used_full_windows": round(sum(full) / (len(full) * args.budget), 4) if full else None,
        "sentences_per_600_points": round(out["sentences"] / sum(spent) * 600),
    }


def bounds_met(results: dict[str, Any]) -> Iterator[bool]:
    """Whether each run stayed within its bound and left the lake equal to the API."""
    yield results["export"]["ratio"] <= EXPORT_BOUND and results["export"]["lake_equals_api"]
    for sync in results["syncs"]:
        yield sync["ratio"] <= SYNC_BOUND and sync["lake_equals_api"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=250, help="calls (each with a transcription) per day")
    parser.add_argument("--reprocess", type=float, nargs="+", default=[0.01, 0.10], help="shares, one sync each")
    parser.add_argument("--new", type=int, default=5, help="transcriptions inserted before each sync")
    parser.add_argument("--deleted", type=int, default=5, help="transcriptions deleted before each sync")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--paced", action="store_true", help="part (c): an export under a sped-up budget")
    parser.add_argument("--paced-per-day", type=int, default=500)
    parser.add_argument("--budget", type=int, default=300, help="(c): points per rate-limit window")
    parser.add_argument("--window", type=float, default=3.0, help="(c): rate-limit window, seconds")
    parser.add_argument("--latency", type=float, default=0.015, help="(c): seconds per answer")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--memory", action="store_true", help="(b): trace Python allocations during each sync")
    args = parser.parse_args()
    WORK_DIR.mkdir(exist_ok=True)
    results: dict[str, Any] = {"bounds": {"export": EXPORT_BOUND, "sync": SYNC_BOUND}, "load_at_start": os.getloadavg()}
    started = time.perf_counter()
    with moto_s3_process(log=WORK_DIR / "moto-transcripts.log") as s3:
        boto3.client("s3", endpoint_url=s3, **AWS_KEYS).create_bucket(Bucket=BUCKET)
        api = serve(args.days, args.per_day, args.seed, rate_limit_per_minute=10**9)
        try:
            connect(api, s3)
            results["export"] = run_export(api, s3, "t", args.days)
            rng = random.Random(args.seed)
            results["syncs"] = [
                run_sync(api, s3, "t", rng, share, args.new, args.deleted, U0 + n * timedelta(hours=2), args.memory)
                for n, share in enumerate(args.reprocess)
            ]
        finally:
            api.stop()
        if args.paced:
            results["paced"] = run_paced(args, s3)
    results["seconds_total"] = round(time.perf_counter() - started, 1)
    results["load_at_end"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if all(bounds_met(results)) else 1


if __name__ == "__main__":
    sys.exit(main())
