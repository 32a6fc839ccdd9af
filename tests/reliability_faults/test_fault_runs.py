"""Fault runs: the operator over seeded random windows against a faulty fake API, and a faulty S3.

Each ``test_fault_run[seedN]`` is one reproducible run (``-k seed17``): a plan drawn from
``random.Random(N)`` (data, range, window size, paging, parts, compression, concurrency, and a mix
of faults), one ``ConversationsToS3Operator.execute`` (retried like Airflow would, if it fails),
then S3 is read through the manifests and compared with the API's records. Set
``RELIABILITY_RUNS`` / ``RELIABILITY_FIRST_SEED`` to run more or other seeds.

With ``max_concurrency > 1`` the windows share the fake's seeded fault stream in an order the
threads decide, so the plan is reproducible but the exact request hit by each fault may differ.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.testing import Faults, generate_conversations, make_conversation
from tests.conftest import TOKEN
from tests.reliability_faults.conftest import (
    UTC,
    CommitChecker,
    add_figure,
    aws_conn,
    compact,
    comparable,
    expected_windows,
    read_objects,
    read_through_manifests,
)

DATA_DAY = datetime(2025, 3, 10, tzinfo=UTC)
WINDOW_MINUTES = (10, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440)  # all divide a day
MAX_WINDOWS = 6
MAX_ATTEMPTS = 4  # the task's tries, as Airflow's retries would give it
FIRST_SEED = int(os.environ.get("RELIABILITY_FIRST_SEED", "0"))
RUNS = int(os.environ.get("RELIABILITY_RUNS", "50"))


@dataclass
class Plan:
    seed: int
    records: int
    bursts: list[tuple[str, int]]
    start: datetime
    end: datetime
    window_minutes: int
    per_page: int
    max_records_per_file: int
    compression: str | None
    max_concurrency: int
    storm: bool
    faults: dict[str, float]

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        return out


def make_plan(seed: int) -> Plan:
    rng = random.Random(seed)
    span = rng.randint(60, 240)  # minutes
    start = DATA_DAY + timedelta(minutes=rng.randint(0, 24 * 60 - span))
    end = start + timedelta(minutes=span)
    sizes = [m for m in WINDOW_MINUTES if len(expected_windows(start, end, timedelta(minutes=m))) <= MAX_WINDOWS]
    window_minutes = rng.choice(sizes)
    # "Bulk imports": many records sharing one created_at, inside the range (keyset ties).
    bursts = []
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 2)):
            at = start + timedelta(microseconds=rng.randrange(span * 60_000_000))
            bursts.append((at.isoformat(), rng.randint(15, 80)))
    kinds = [
        k for k in ("error", "throttle", "drop", "slow", "delete", "non_json", "boundary_quirk") if rng.random() < 0.6
    ]
    while len(kinds) < 3:
        extra = rng.choice(("error", "throttle", "drop", "slow", "delete"))
        if extra not in kinds:
            kinds.append(extra)
    storm = "throttle" in kinds and rng.random() < 0.35
    faults: dict[str, float] = {}
    if "error" in kinds:
        faults["error_rate"] = round(rng.uniform(0.03, 0.15), 3)
    if "throttle" in kinds:  # a 429 storm: most answers throttled, with a short Retry-After
        faults["throttle_rate"] = round(rng.uniform(0.3, 0.5) if storm else rng.uniform(0.03, 0.15), 3)
        faults["throttle_retry_after"] = round(rng.uniform(0.002, 0.01), 3)
    if "drop" in kinds:
        faults["drop_rate"] = round(rng.uniform(0.02, 0.08), 3)
    if "slow" in kinds:  # answered after the client's 0.3 s timeout
        faults["slow_rate"] = round(rng.uniform(0.01, 0.03), 3)
        faults["slow_seconds"] = round(rng.uniform(0.35, 0.5), 3)
    if "delete" in kinds:
        faults["delete_per_request"] = rng.randint(1, 6)
    if "non_json" in kinds:
        faults["non_json_rate"] = round(rng.uniform(0.01, 0.05), 3)
    if "boundary_quirk" in kinds:
        faults["boundary_quirk_rate"] = round(rng.uniform(0.1, 0.4), 3)
    records = rng.randint(1000, 3000)
    in_range = records * span // 1440 + sum(size for _, size in bursts)
    return Plan(
        seed=seed,
        records=records,
        bursts=bursts,
        start=start,
        end=end,
        window_minutes=window_minutes,
        per_page=rng.choice((10, 25) if bursts else (10, 25, 50, 100, 100)),  # bursts: walk ties by page
        max_records_per_file=rng.choice((max(5, in_range // 8), 100, 100_000)),  # several parts, or one
        compression=rng.choice((None, "gzip")),
        max_concurrency=rng.choice((1, 2, 4)),
        storm=storm,
        faults=faults,
    )


def plan_records(plan: Plan) -> list[dict[str, Any]]:
    records = generate_conversations(plan.records, seed=plan.seed, start=DATA_DAY, end=DATA_DAY + timedelta(days=1))
    rng = random.Random(plan.seed ^ 0x5EED)
    for at, size in plan.bursts:
        records += [make_conversation(rng, datetime.fromisoformat(at)) for _ in range(size)]
    return records


def check_export(
    client: Any, bucket_name: str, prefix: str, plan: Plan, before: dict[str, dict[str, Any]], survivors: set[str]
) -> dict[str, Any]:
    """Read S3 through the manifests and compare with the API; return the run's figures (asserted by the caller)."""
    windows = read_through_manifests(client, bucket_name, prefix)
    expected = expected_windows(plan.start, plan.end, timedelta(minutes=plan.window_minutes))
    written: list[str] = []
    mismatched, misplaced, misordered = [], [], []
    for window in windows:
        gte, lt = window.bounds
        previous: tuple[str, str] | None = None
        for line, record in zip(window.lines, window.records()):
            written.append(record["id"])
            if not gte <= record["created_at"] < lt:
                misplaced.append(record["id"])
            key = (record["created_at"], record["id"])
            if previous is not None and key <= previous:
                misordered.append(record["id"])
            previous = key
            original = before.get(record["id"])
            if original is None or line != compact(original):
                mismatched.append(record["id"])
    counts = Counter(written)
    return {
        "windows_expected": expected,
        "windows_committed": [w.bounds for w in windows],
        "windows": len(windows),
        "parts": sum(len(w.manifest["parts"]) for w in windows),
        "written": len(written),
        "records_checked": len(written),
        "lost": len(survivors - set(written)),
        "lost_ids": sorted(survivors - set(written))[:20],
        "duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "not_in_range_before": len(set(written) - set(before)),
        "mismatched": len(mismatched),
        "misplaced": len(misplaced),
        "misordered": len(misordered),
    }


@pytest.mark.parametrize("seed", range(FIRST_SEED, FIRST_SEED + RUNS), ids=lambda s: f"seed{s}")
def test_fault_run(seed, conversations_api_factory, set_conn, s3_client, bucket):
    plan = make_plan(seed)
    records = plan_records(plan)
    api = conversations_api_factory(records, token=TOKEN, seed=seed, faults=Faults(**plan.faults))
    set_conn(api.url, TOKEN, timeout=0.3, backoff_base=0.005, max_retries=10)
    prefix = f"faults/run-{seed}"
    snapshot = {r["id"]: r for r in records}  # what the API serves: the fake holds copies of these
    ids_before = api.ids_in_range(plan.start, plan.end)
    before = {rid: snapshot[rid] for rid in ids_before}
    op = ConversationsToS3Operator(
        task_id=f"fault_run_{seed}",
        s3_bucket=bucket,
        s3_prefix=prefix,
        window_size=timedelta(minutes=plan.window_minutes),
        per_page=plan.per_page,
        max_records_per_file=plan.max_records_per_file,
        compression=plan.compression,
        max_concurrency=plan.max_concurrency,
    )
    context = {"data_interval_start": plan.start, "data_interval_end": plan.end}
    errors: list[str] = []
    attempts = 0
    started = time.monotonic()
    for attempts in range(1, MAX_ATTEMPTS + 1):  # noqa: B007 (read after the loop)
        try:
            op.execute(context)
            break
        except Exception as err:
            errors.append(f"{type(err).__name__}: {str(err)[:200]}")
            # A failed try must leave only consistent committed windows behind.
            read_through_manifests(s3_client, bucket, prefix)
    seconds = round(time.monotonic() - started, 2)
    survivors = ids_before & api.ids_in_range(plan.start, plan.end)
    result = check_export(s3_client, bucket, prefix, plan, before, survivors)
    stats = api.stats.snapshot()
    add_figure(
        "fault_runs",
        {
            "seed": seed,
            "plan": plan.describe(),
            "attempts": attempts,
            "failed_attempts": len(errors),
            "seconds": seconds,
            "errors": errors,
            "api_requests": stats["requests"],
            "faults": {k: v for k, v in stats["faults"].items() if v},
            "tie_walk_with_deletions": any(size >= plan.per_page for _, size in plan.bursts)
            and "delete_per_request" in plan.faults,
            "records_before": len(ids_before),
            "survivors": len(survivors),
            **{k: v for k, v in result.items() if not k.startswith("windows_")},
        },
    )
    assert len(errors) < MAX_ATTEMPTS, f"every try failed: {errors}"
    assert result["windows_committed"] == result["windows_expected"]
    assert result["lost"] == 0, f"{result['lost']} record(s) that existed for the whole run are not in S3: {result}"
    assert result["duplicated"] == 0
    assert result["not_in_range_before"] == 0  # written ids ⊆ ids in range before the run
    assert result["mismatched"] == result["misplaced"] == result["misordered"] == 0


def test_deleted_records_inside_a_tie_larger_than_a_page_do_not_hide_survivors(
    conversations_api_factory, set_conn, s3_client, bucket
):
    """A focused case of the fault runs: 40 records share one created_at (a bulk import), the page holds 10,
    and the API deletes one random record after each answer. Survivors must all land in S3."""
    rng = random.Random(3)
    at = DATA_DAY + timedelta(hours=1, minutes=30)
    tie = [make_conversation(rng, at) for _ in range(40)]
    others = generate_conversations(20, seed=3, start=DATA_DAY + timedelta(hours=1), end=DATA_DAY + timedelta(hours=2))
    api = conversations_api_factory(tie + others, token=TOKEN, seed=3, faults=Faults(delete_per_request=1))
    set_conn(api.url, TOKEN, timeout=5, backoff_base=0.005, max_retries=10)
    start, end = DATA_DAY + timedelta(hours=1), DATA_DAY + timedelta(hours=2)
    before_ids = api.ids_in_range(start, end)
    before = {r["id"]: r for r in api.records() if r["id"] in before_ids}
    ConversationsToS3Operator(
        task_id="tie", s3_bucket=bucket, s3_prefix="tie", window_size=timedelta(hours=1), per_page=10
    ).execute({"data_interval_start": start, "data_interval_end": end})
    survivors = before_ids & api.ids_in_range(start, end)
    written = [r["id"] for w in read_through_manifests(s3_client, bucket, "tie") for r in w.records()]
    assert len(written) == len(set(written)) and set(written) <= set(before)
    lost = survivors - set(written)
    assert not lost, f"{len(lost)} of {len(survivors)} survivors missing after {api.stats.faults['delete']} deletions"


# -- S3 failures ---------------------------------------------------------------------------------------

S3_CASES = [
    # (seed, share of requests failed, boto3 attempts per request, failure kinds, methods that may fail,
    #  a previous version of every window in the bucket)
    pytest.param(11, 0.8, 1, ("500", "503", "drop", "drop_after"), {"PUT"}, False, id="most-puts-fail-no-boto-retry"),
    pytest.param(12, 0.5, 1, ("drop_after",), {"PUT"}, True, id="answers-lost-after-s3-applied-the-put"),
    pytest.param(13, 0.2, 3, ("500", "503", "drop", "drop_after"), {"PUT"}, True, id="some-puts-fail-boto-retries"),
    pytest.param(
        14, 0.15, 1, ("500", "503", "drop_after"), {"PUT", "POST", "DELETE"}, True, id="puts-and-deletes-fail"
    ),
    # every commit over the previous version lands, then its DeleteObjects of the old parts and its lease's
    # release fail (a failed release is only a warning; the lease is left for the rerun to take over)
    pytest.param(
        15, 1.0, 1, ("500", "503", "drop_after"), {"POST", "DELETE"}, True, id="old-parts-deletes-and-releases-fail"
    ),
]


_CLEAN_S3_RUNS: dict[int, dict[str, bytes]] = {}


@pytest.mark.parametrize(("seed", "share", "boto_attempts", "kinds", "methods", "over_old_data"), S3_CASES)
def test_s3_failures_fail_cleanly_and_a_rerun_converges(
    seed, share, boto_attempts, kinds, methods, over_old_data, conversations_api_factory, set_conn, s3_client,
    bucket, make_bucket, s3_proxy_factory, monkeypatch,
):  # fmt: skip
    records = generate_conversations(1500, seed=11, start=DATA_DAY, end=DATA_DAY + timedelta(days=1))
    api = conversations_api_factory(records, token=TOKEN, seed=11)  # the same data in every case
    set_conn(api.url, TOKEN, timeout=5, backoff_base=0.005, max_retries=10)
    prefix = "lake/conversations"
    checker = CommitChecker(s3_client, bucket, prefix)
    proxy = s3_proxy_factory(
        seed=seed, failure_rate=share, failure_kinds=kinds, fault_methods=methods, after_mutation=checker
    )
    retries = {"total_max_attempts": boto_attempts, "mode": "standard"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_FLAKY", aws_conn(proxy.url, retries=retries))
    start, end = DATA_DAY + timedelta(hours=4), DATA_DAY + timedelta(hours=7)
    kwargs = {
        "s3_prefix": prefix,
        "window_size": timedelta(hours=1),
        "compression": "gzip",
        "created_at_gte": start,
        "created_at_lt": end,
    }
    context: dict[str, Any] = {}

    def clean_run(max_records_per_file: int) -> dict[str, bytes]:
        """An uninterrupted run into an empty bucket, straight to moto (once per module)."""
        if max_records_per_file not in _CLEAN_S3_RUNS:
            clean = make_bucket()
            ConversationsToS3Operator(
                task_id="clean",
                s3_bucket=clean,
                aws_conn_id="aws_default",
                max_records_per_file=max_records_per_file,
                **kwargs,
            ).execute(context)
            _CLEAN_S3_RUNS[max_records_per_file] = read_objects(s3_client, clean)
        return _CLEAN_S3_RUNS[max_records_per_file]

    want, old = comparable(clean_run(25)), comparable(clean_run(10)) if over_old_data else {}
    if over_old_data:  # a previous version of each window, in more and other parts
        for key, body in clean_run(10).items():
            s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    kwargs["max_records_per_file"] = 25
    outcomes = []
    checker()
    # One task instance tried three times, as Airflow retries it: the same task (and so the same owner of the
    # windows' leases, which a try whose lease DELETE failed leaves behind).
    for _attempt in range(2):  # two tries while S3 is faulty
        try:
            ConversationsToS3Operator(task_id="flaky", s3_bucket=bucket, aws_conn_id="aws_flaky", **kwargs).execute(
                context
            )
            outcomes.append("success")
        except Exception as err:
            outcomes.append(type(err).__name__)
        checker()
        for window in read_through_manifests(s3_client, bucket, prefix):  # whatever is committed is whole ...
            version = comparable({window.manifest_key: window.manifest_bytes})[window.manifest_key]
            assert version in (want[window.manifest_key], old.get(window.manifest_key)), window.manifest_key
    injected = {f"{m} {k}": v for m in sorted(methods) for k, v in proxy.outcomes(m).items() if k != "forwarded"}
    proxy.failure_rate = 0.0  # S3 healthy again: the rerun (Airflow's retry) must converge
    ConversationsToS3Operator(task_id="flaky", s3_bucket=bucket, aws_conn_id="aws_flaky", **kwargs).execute(context)
    got = comparable(read_objects(s3_client, bucket))
    add_figure(
        "s3_failures",
        {
            "case": f"seed={seed} share={share} of {'/'.join(sorted(methods))} "
            f"boto_attempts={boto_attempts} kinds={','.join(kinds)}",
            "faulty_tries": outcomes,
            "requests_failed": injected,
            "puts_total": sum(proxy.outcomes("PUT").values()),
            "states_checked": checker.checks,
            "violations": len(checker.violations),
            "converged": got == want,
            "objects": len(want),
        },
    )
    assert checker.violations == []
    assert sum(injected.values()) > 0
    if share == 1.0:  # every request of these methods failed: each method was hit
        assert all(any(k.startswith(f"{m} ") for k in injected) for m in methods), injected
    assert sorted(got) == sorted(want)  # no orphan part, no lease left
    assert got == want  # data objects byte for byte, manifests but for read_started_at
    windows = read_through_manifests(s3_client, bucket, prefix)
    ids = [r["id"] for w in windows for r in w.records()]
    assert len(ids) == len(set(ids)) and set(ids) == api.ids_in_range(start, end)
