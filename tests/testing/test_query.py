"""The fake API's query engine as a pure function (``airflow_provider_conversations.testing.query``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_conversations.testing import QueryError, answer_query, format_timestamp
from airflow_provider_conversations.testing.query import parse_query, run_query, to_row

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def rec(i: int, seconds: float = 0.0) -> dict:
    return {"id": f"r{i:03d}", "created_at": format_timestamp(T0 + timedelta(seconds=seconds or i))}


RECORDS = [rec(i) for i in range(1, 31)]  # r001 at T0+1s ... r030 at T0+30s
ASC = [("sort_by", "created_at"), ("sort_direction", "ASC"), ("per_page", "10")]


def ids(records: list[dict]) -> list[str]:
    return [r["id"] for r in records]


def test_a_page_its_total_and_the_envelope() -> None:
    gte = ("created_at[gte]", format_timestamp(T0 + timedelta(seconds=11)))
    result = answer_query(reversed(RECORDS), [*ASC, gte, ("page", "2"), ("include_paging_counts", "true")])
    assert ids(result.data) == [f"r{i:03d}" for i in range(21, 31)]
    assert result.total == 20 and not result.quirked
    assert result.paging == {
        "per_page": 10,
        "current_page": 2,
        "next_page": None,
        "prev_page": 1,
        "total_pages": 2,
        "total_count": 20,
    }
    body = result.body
    assert body["data"] is result.data and body["metadata"]["paging"] is result.paging
    assert body["metadata"]["sorting"] == {"sort_by": "created_at", "sort_direction": "ASC"}
    assert body["metadata"]["filtering"] == {"created_at[gte]": gte[1]}


@pytest.mark.parametrize(
    ("quirk", "page", "expected"),
    [
        (None, "1", ["r011", "r012", "r013"]),
        (None, "2", ["r014", "r015", "r016"]),
        ("prepend", "1", ["r010", "r011", "r012", "r013"]),
        ("prepend", "2", ["r010", "r014", "r015", "r016"]),  # the page itself does not move
        ("shift", "1", ["r010", "r011", "r012"]),
        ("shift", "2", ["r013", "r014", "r015"]),  # every page moves by one
    ],
)
def test_boundary_quirk_forms(quirk: str | None, page: str, expected: list[str]) -> None:
    gte = format_timestamp(T0 + timedelta(seconds=11))
    params = [*ASC[:2], ("per_page", "3"), ("page", page), ("created_at[gte]", gte), ("include_paging_counts", "true")]
    result = answer_query(RECORDS, params, quirk=quirk)  # type: ignore[arg-type]
    assert ids(result.data) == expected
    assert result.total == 20 and result.quirked is (quirk is not None)


def test_no_quirk_without_a_lower_bound_or_a_row_before_it() -> None:
    assert not answer_query(RECORDS, ASC, quirk="shift").quirked
    first = format_timestamp(T0 + timedelta(seconds=1))
    assert not answer_query(RECORDS, [*ASC, ("created_at[gte]", first)], quirk="prepend").quirked


def test_ties_are_answered_in_the_order_given() -> None:
    tied = [to_row(rec(i, seconds=5.0)) for i in (3, 1, 2)]
    q, _ = parse_query(ASC)
    assert ids(run_query(tied, q).data) == ["r003", "r001", "r002"]
    assert ids(answer_query([r.record for r in tied], ASC).data) == ["r001", "r002", "r003"]  # by id


def test_records_are_not_mutated_and_descending_is_the_default() -> None:
    result = answer_query(RECORDS, [("per_page", "2")])
    assert ids(result.data) == ["r030", "r029"]
    result.data[0]["id"] = "changed"
    assert RECORDS[-1]["id"] == "r030"


@pytest.mark.parametrize(
    ("params", "status", "names"),
    [
        ([("per_page", "101")], 422, "per_page"),
        ([("sort_direction", "UP")], 422, "sort_direction"),
        ([("created_at[gte]", "yesterday")], 422, "created_at[gte]"),
        ([("colour", "blue")], 400, "colour"),
    ],
)
def test_bad_params_raise_the_status_the_api_answers(params: list[tuple[str, str]], status: int, names: str) -> None:
    with pytest.raises(QueryError, match=names.replace("[", r"\[")) as err:
        answer_query(RECORDS, params, strict=True)
    assert err.value.status == status


def test_unknown_names_are_ignored_unless_strict() -> None:
    assert len(answer_query(RECORDS, [("colour", "blue")]).data) == 25
