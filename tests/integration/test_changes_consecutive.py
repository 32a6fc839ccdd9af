"""Consecutive change-sync intervals against a fake API that changes between and during runs, with faults.

Conversations are updated, inserted, back-dated and deleted between runs, and updated while a run scans;
the API answers 429s, 5xx, drops connections and applies the boundary quirk. After each run, every
window the interval's changes touched equals the API's content, and every other window is
byte-identical to before. A final reconcile of the day leaves the table equal to the API: no
conversation lost, none in a stale version, none twice.
"""

from __future__ import annotations

import random
from datetime import timedelta

from airflow_provider_conversations.testing import Faults, format_timestamp, parse_timestamp
from tests.conftest import TOKEN
from tests.integration.conftest import read_objects
from tests.integration.test_changes_operator import (
    DAY,
    U0,
    backfill,
    make_records,
    sync,
    window_objects,
    window_rows,
)

HOUR = timedelta(hours=1)


def api_rows(api, hour: int) -> list[dict]:
    lo, hi = DAY + hour * HOUR, DAY + (hour + 1) * HOUR
    rows = [r for r in api.records() if lo <= parse_timestamp(r["created_at"]) < hi]
    return sorted(rows, key=lambda r: (r["created_at"], r["id"]))


def test_consecutive_intervals_keep_every_touched_window_equal_to_the_api(
    conversations_api_factory, set_conn, s3_client, bucket
):
    rng = random.Random(12)
    faults = Faults(
        error_rate=0.08, throttle_rate=0.08, throttle_retry_after=0.01, drop_rate=0.04, boundary_quirk_rate=0.3
    )
    api = conversations_api_factory(records=make_records(900, 7), token=TOKEN, seed=12, faults=faults)
    set_conn(api.url, TOKEN, backoff_base=0.005, max_retries=12, timeout=5)
    backfill(bucket)
    backdated: set[int] = set()  # hours that a back-dated conversation left (stale until the reconcile)
    deleted_from: set[int] = set()
    serial = 0
    for k in range(4):
        start = U0 + k * HOUR
        touched: set[int] = set()
        ids = [r["id"] for r in api.records()]

        def hour_of(rid: str) -> int:
            return int((parse_timestamp(next(r for r in api.records() if r["id"] == rid)["created_at"]) - DAY) // HOUR)

        for rid in rng.sample(ids, 8):  # updates inside the interval
            serial += 1
            api.update_record(rid, {"title": f"edit {serial}"}, updated_at=start + timedelta(minutes=rng.randrange(60)))
            touched.add(hour_of(rid))
        new_hour = rng.randrange(24)
        serial += 1
        created = DAY + new_hour * HOUR + timedelta(seconds=rng.randrange(3600))
        api.insert_records(
            [{"id": f"new-{serial}", "created_at": format_timestamp(created), "title": "new"}],
            updated_at=start + timedelta(minutes=30),
        )
        touched.add(new_hour)
        gone = rng.choice(ids)
        deleted_from.add(hour_of(gone))
        api.delete_records([gone])
        if k == 2:  # back-dated into another window
            rid = rng.choice([r for r in ids if r != gone])
            backdated.add(hour_of(rid))
            target = (hour_of(rid) + 7) % 24
            moved = DAY + target * HOUR + timedelta(minutes=1)
            api.update_record(rid, {"created_at": format_timestamp(moved)}, updated_at=start + timedelta(minutes=5))
            touched.add(target)
        # While the run scans: an edit that lands past this interval's end (the next run picks it up).
        late = rng.choice([r for r in ids if r != gone])
        api.after_request(
            1,
            lambda a, rid=late, at=start + HOUR + timedelta(minutes=3): a.update_record(
                rid, {"title": "late"}, updated_at=at
            ),
        )
        before = read_objects(s3_client, bucket)
        summary = sync(bucket, start, start + HOUR, max_concurrency=4)
        after = read_objects(s3_client, bucket)
        got = {int(w["created_at_gte"][11:13]) for w in summary["windows"]}
        assert got >= touched  # nothing lost (it may also hold last run's late edit)
        for hour in range(24):
            if hour in got:
                assert window_rows(after, hour) == api_rows(api, hour), f"run {k}: window {hour} differs from the API"
            else:
                assert window_objects(after, hour) == window_objects(before, hour), f"run {k}: window {hour} rewritten"
    # The last run's late edit is caught by the next interval.
    summary = sync(bucket, U0 + 4 * HOUR, U0 + 5 * HOUR)
    assert summary["changed"] == 1
    assert backdated and deleted_from and api.stats.faults.get("error", 0) and api.stats.faults.get("boundary_quirk", 0)
    # The weekly reconcile clears what no change announces (deletions, back-dated conversations' old copies).
    faults.error_rate = faults.throttle_rate = faults.drop_rate = 0.0
    backfill(bucket)
    table = [row for hour in range(24) for row in window_rows(read_objects(s3_client, bucket), hour)]
    assert len(table) == len({r["id"] for r in table})  # 0 duplicated
    assert sorted(table, key=lambda r: r["id"]) == sorted(api.records(), key=lambda r: r["id"])  # 0 lost, 0 stale
