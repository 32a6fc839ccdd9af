from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.exceptions import ConversationsFilterError
from airflow_provider_conversations.lake.windows import Window, split_range, split_windows

UTC = timezone.utc
D = datetime(2025, 1, 1, tzinfo=UTC)


def test_windows_cover_the_range_without_gap_or_overlap_on_the_utc_grid():
    windows = split_windows("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", timedelta(hours=1))
    assert len(windows) == 24
    assert windows[0] == Window(D, D + timedelta(hours=1))
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert all(w.is_aligned(timedelta(hours=1)) for w in windows)


def test_unaligned_range_clips_edge_windows():
    windows = split_windows("2025-01-01T00:30:00+00:00", "2025-01-01T02:15:00Z", timedelta(hours=1))
    assert [(w.start.strftime("%H:%M"), w.end.strftime("%H:%M")) for w in windows] == [
        ("00:30", "01:00"),
        ("01:00", "02:00"),
        ("02:00", "02:15"),
    ]
    assert [w.is_aligned(timedelta(hours=1)) for w in windows] == [False, True, False]


def test_non_utc_input_is_aligned_on_utc():
    windows = split_windows("2025-01-01T01:00:00+01:00", "2025-01-01T03:00:00+01:00", timedelta(hours=1))
    assert windows[0].start == D and windows[-1].end == D + timedelta(hours=2)


@pytest.mark.parametrize("size", [timedelta(0), timedelta(hours=7), timedelta(days=2), timedelta(seconds=1.5), "1h"])
def test_window_size_must_divide_a_day(size):
    with pytest.raises(ConversationsFilterError, match="window_size"):
        split_windows(D, D + timedelta(days=1), size)


def test_split_range_gives_mapping_kwargs_per_chunk():
    ranges = split_range(D, D + timedelta(days=3, hours=5), timedelta(days=1))
    assert ranges[0] == {
        "created_at_gte": "2025-01-01T00:00:00.000000Z",
        "created_at_lt": "2025-01-02T00:00:00.000000Z",
    }
    assert ranges[-1]["created_at_lt"] == "2025-01-04T05:00:00.000000Z" and len(ranges) == 4


def test_split_range_of_a_year_maps_365_tasks_not_8760():
    assert len(split_range(D, D.replace(year=2026))) == 365
    assert len(split_range(D, D.replace(year=2026), timedelta(days=7))) == 53


def test_split_range_chunk_must_be_a_multiple_of_the_window():
    with pytest.raises(ConversationsFilterError, match="chunk_size"):
        split_range(D, D + timedelta(days=1), timedelta(minutes=90), timedelta(hours=1))


def test_window_of_and_contiguous_runs_group_adjacent_windows() -> None:
    from airflow_provider_conversations.lake.windows import Window, contiguous_runs, window_of

    day = datetime(2025, 1, 3, tzinfo=timezone.utc)
    hour = timedelta(hours=1)
    assert window_of(day + timedelta(minutes=90, microseconds=1), hour) == Window(day + hour, day + 2 * hour)
    cells = [window_of(day + timedelta(hours=h), hour) for h in (10, 2, 3, 3, 15, 4)]
    runs = contiguous_runs(cells)
    assert [[w.start.hour for w in run] for run in runs] == [[2, 3, 4], [10], [15]]
