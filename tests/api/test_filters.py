from __future__ import annotations

from datetime import datetime, timezone

import pendulum
import pytest

from airflow_provider_conversations.api.filters import (
    LANGUAGE_CODES,
    PLATFORMS,
    ConversationFilters,
    paging_params,
    validate_range,
)
from airflow_provider_conversations.exceptions import ConversationsFilterError

U1 = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
U2 = "9b2c3a1e-0000-4000-8000-000000000002"


def test_every_filter_maps_to_its_wire_name_and_value():
    flt = ConversationFilters(
        title="Intro call",
        title_starts_with="Intro",
        created_at_gte="2025-02-13T22:11:57.792Z",
        created_at_lt=datetime(2025, 2, 14, tzinfo=timezone.utc),
        updated_at_gt=pendulum.datetime(2025, 1, 1, 1, tz="Europe/Paris"),
        updated_at_lte="2025-03-01T00:00:00+00:00",
        duration_gte=1000,
        duration_lt="60000",
        language_code="en-US",
        platform="zoom",
        owner_ids=[U1],
        user_guids=[U1, U2],
        ids=U2,
        account_ids=[12, "34"],
        person_ids=["p-1"],
        is_api=False,
        media_type="video",
    )
    assert flt.to_params() == [
        ("title", "Intro call"),
        ("title[_starts_with]", "Intro"),
        ("created_at[lt]", "2025-02-14T00:00:00.000000Z"),
        ("created_at[gte]", "2025-02-13T22:11:57.792000Z"),
        ("updated_at[lte]", "2025-03-01T00:00:00.000000Z"),
        ("updated_at[gt]", "2025-01-01T00:00:00.000000Z"),
        ("duration[lt]", "60000"),
        ("duration[gte]", "1000"),
        ("language_code", "en-US"),
        ("platform", "zoom"),
        ("owner_ids[]", U1),
        ("user_guids[]", U1),
        ("user_guids[]", U2),
        ("ids[]", U2),
        ("account_ids[]", "12"),
        ("account_ids[]", "34"),
        ("person_ids[]", "p-1"),
        ("is_api", "false"),
        ("media_type", "video"),
    ]


def test_paging_params_are_validated_and_explicit():
    assert paging_params(sort_direction="desc", per_page=7, page=3, include_paging_counts=True) == [
        ("sort_by", "created_at"),
        ("sort_direction", "DESC"),
        ("per_page", "7"),
        ("page", "3"),
        ("include_paging_counts", "true"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"language_code": "en-XX"}, "language_code: 'en-XX' is not allowed; allowed values: en-AU"),
        ({"platform": "skype"}, "platform: 'skype' is not allowed; allowed values: bluejeans"),
        ({"media_type": "text"}, "media_type: 'text' is not allowed; allowed values: audio, video"),
        ({"created_at_gte": "2025-01-01T00:00:00"}, "created_at_gte: '2025-01-01T00:00:00' has no timezone"),
        (
            {"created_at_gte": datetime(2025, 1, 1)},
            "created_at_gte: datetime.datetime(2025, 1, 1, 0, 0) has no timezone",
        ),
        ({"updated_at_lt": "yesterday"}, "updated_at_lt: 'yesterday' is not an ISO-8601 timestamp"),
        ({"updated_at_lt": 12}, "updated_at_lt: expected a timezone-aware datetime"),
        ({"duration_gt": -1}, "duration_gt: -1 is out of range; allowed: >= 0"),
        ({"duration_gt": 1.5}, "duration_gt: expected an integer >= 0, got 1.5"),
        ({"duration_gt": True}, "duration_gt: expected an integer"),
        ({"is_api": "yes"}, "is_api: expected true or false, got 'yes'"),
        ({"owner_ids": ["not-a-uuid"]}, "owner_ids: 'not-a-uuid' is not a UUID"),
        ({"ids": []}, "ids: must not be empty"),
        ({"account_ids": [None]}, "account_ids: None is not a valid id"),
        ({"title": ""}, "title: expected a non-empty string"),
        (
            {"created_at_gte": "2025-02-01T00:00:00Z", "created_at_lt": "2025-01-01T00:00:00Z"},
            "created_at: the range is empty or inverted",
        ),
        (
            {"duration_gte": 10, "duration_lte": 5},
            "duration: the range is empty or inverted: the lower bound 10 is not before the upper bound 5",
        ),
        (
            {"updated_at_gte": "2025-01-01T00:00:00Z", "updated_at_lt": "2025-01-01T00:00:00Z"},
            "updated_at: the range is empty",
        ),
        ({"duration_gt": 5, "duration_lte": 5}, "duration: the range is empty"),
    ],
)
def test_invalid_filters_name_the_field_and_what_is_allowed(kwargs, message):
    with pytest.raises(ConversationsFilterError) as exc:
        ConversationFilters(**kwargs)
    assert message in str(exc.value)


def test_enum_error_lists_every_allowed_value():
    with pytest.raises(ConversationsFilterError) as exc:
        ConversationFilters(platform="skype")
    assert all(p in str(exc.value) for p in PLATFORMS)
    with pytest.raises(ConversationsFilterError) as exc:
        ConversationFilters(language_code="xx")
    assert all(c in str(exc.value) for c in LANGUAGE_CODES)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_page": 0}, "per_page: 0 is out of range; allowed: [1, 100]"),
        ({"per_page": 101}, "per_page: 101 is out of range"),
        ({"page": 0}, "page: 0 is out of range; allowed: >= 1"),
        ({"sort_by": "title"}, "sort_by: 'title' is not allowed; allowed values: created_at, updated_at, duration"),
        ({"sort_direction": "up"}, "sort_direction: 'up' is not allowed; allowed values: ASC, DESC"),
        ({"include_paging_counts": "maybe"}, "include_paging_counts: expected true or false"),
    ],
)
def test_invalid_paging_is_rejected(kwargs, message):
    with pytest.raises(ConversationsFilterError, match=None) as exc:
        paging_params(**kwargs)
    assert message in str(exc.value)


def test_from_mapping_rejects_unknown_names_with_the_allowed_list():
    with pytest.raises(ConversationsFilterError) as exc:
        ConversationFilters.from_mapping({"platfrom": "zoom"})
    assert "unknown filter(s) platfrom" in str(exc.value)
    assert "platform" in str(exc.value)


def test_from_mapping_accepts_rendered_strings():
    flt = ConversationFilters.from_mapping({"is_api": "true", "duration_gte": "100", "platform": "zoom", "title": None})
    assert flt.is_api is True and flt.duration_gte == 100 and flt.title is None


def test_validate_range_rejects_inverted_and_empty_ranges():
    with pytest.raises(ConversationsFilterError, match="empty or inverted"):
        validate_range("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z")
    with pytest.raises(ConversationsFilterError, match="empty or inverted"):
        validate_range("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z")
    with pytest.raises(ConversationsFilterError, match="created_at_lt: required"):
        validate_range("2025-01-01T00:00:00Z", None)
