"""Paths and filters of /v2/transcriptions: ids checked before they reach a URL, wire names pinned."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from airflow_provider_conversations.api.transcriptions import (
    TranscriptionFilters,
    artifact_path,
    check_transcription_id,
    sentences_path,
    transcription_path,
)
from airflow_provider_conversations.exceptions import ConversationsFilterError

TID = "5f0c6f0e-7d7c-4e0b-9a51-1c2b3d4e5f60"


def test_paths() -> None:
    assert transcription_path(TID) == f"/v2/transcriptions/{TID}"
    assert sentences_path(TID) == f"/v2/transcriptions/{TID}/sentences"
    assert artifact_path(12345) == "/v2/transcriptions/12345/artifact"


@pytest.mark.parametrize(
    "bad", ["", "../conversations", "a/b", "a?b=1", "a b", "-x", "x" * 129, None, True, 1.5, ["a"]]
)
def test_ids_that_would_change_the_path_are_refused(bad: Any) -> None:
    with pytest.raises(ConversationsFilterError, match=r"^transcription_id: .* is not a transcription id; allowed"):
        check_transcription_id(bad)
    with pytest.raises(ConversationsFilterError):
        sentences_path(bad)


def test_filters_pin_the_wire_names() -> None:
    filters = TranscriptionFilters(
        created_at_gte="2025-01-01T00:00:00+01:00",
        created_at_lt=datetime(2025, 1, 2, tzinfo=timezone.utc),
        updated_at_gt="2025-01-01T00:00:00Z",
        ids=[TID, "42"],
        language_code="fr-FR",
    )
    assert filters.to_params() == [
        ("created_at[lt]", "2025-01-02T00:00:00.000000Z"),
        ("created_at[gte]", "2024-12-31T23:00:00.000000Z"),
        ("updated_at[gt]", "2025-01-01T00:00:00.000000Z"),
        ("ids[]", TID),
        ("ids[]", "42"),
        ("language_code", "fr-FR"),
    ]
    assert TranscriptionFilters.from_mapping({"ids": TID, "language_code": None}).to_params() == [("ids[]", TID)]


@pytest.mark.parametrize(
    ("mapping", "needle"),
    [
        ({"platform": "zoom"}, "filters: unknown transcription filter(s) platform; allowed: created_at_gt"),
        ({"language_code": "xx"}, "language_code: 'xx' is not allowed; allowed values: en-AU"),
        ({"ids": []}, "ids: must not be empty"),
        ({"ids": ["../x"]}, "ids: '../x' is not a transcription id"),
        ({"created_at_gte": "2025-01-01T00:00:00"}, "created_at_gte"),
        (
            {"updated_at_gte": "2025-01-02T00:00:00Z", "updated_at_lt": "2025-01-01T00:00:00Z"},
            "updated_at: the range is empty",
        ),
    ],
)
def test_bad_filters_name_the_field_and_what_is_allowed(mapping: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConversationsFilterError) as caught:
        TranscriptionFilters.from_mapping(mapping)
    assert needle in str(caught.value)
