"""KeptSentences: one forward pass over a window's committed sentence rows, one transcription at a time."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_conversations.exceptions import ConversationsDestinationError
from airflow_provider_conversations.lake.kept import KeptSentences

COUNTS = {"a": 2, "b": 0, "c": 3, "d": 1, "e": 2}


def rows(counts: dict[str, int] = COUNTS) -> list[dict]:
    return [
        {"transcription_id": tid, "sentence_index": i, "text": f"{tid}{i}"}
        for tid, n in counts.items()
        for i in range(n)
    ]


class Recorded:
    """The rows, handing them out one at a time and counting how many were asked for."""

    def __init__(self, items: list[dict], fail_at: int | None = None) -> None:
        self.items, self.fail_at, self.read = items, fail_at, 0

    def __iter__(self):
        for n, row in enumerate(self.items):
            if n == self.fail_at:
                raise ConversationsDestinationError("lake/date=2025-01-02/part-x.jsonl is missing")
            self.read += 1
            yield row


def texts(taken: list[dict] | None) -> list[str] | None:
    return None if taken is None else [r["text"] for r in taken]


def test_each_transcription_gets_its_rows_and_the_ones_between_are_passed_over():
    kept = KeptSentences(COUNTS, rows())
    assert texts(kept.take("a")) == ["a0", "a1"]
    assert texts(kept.take("b")) == []  # committed without sentences
    assert texts(kept.take("d")) == ["d0"]  # c was read again (or deleted): passed over
    assert texts(kept.take("e")) == ["e0", "e1"]


def test_rows_are_read_only_as_far_as_the_transcription_taken():
    source = Recorded(rows())
    kept = KeptSentences(COUNTS, source)
    kept.take("a")
    assert source.read == 3  # a0, a1 and the next row (c0), read ahead to see a's rows end
    kept.take("c")
    assert source.read == 6


@pytest.mark.parametrize("tid", ["zzz", "a"])
def test_a_transcription_not_committed_or_already_passed_is_none(tid):
    kept = KeptSentences(COUNTS, rows())
    assert kept.take("c") is not None
    assert kept.take(tid) is None
    assert texts(kept.take("e")) == ["e0", "e1"]  # the pass goes on


def test_rows_out_of_sequence_are_none_never_short():
    broken = [r for r in rows() if (r["transcription_id"], r["sentence_index"]) != ("c", 1)]
    kept = KeptSentences(COUNTS, broken)
    assert kept.take("c") is None
    assert texts(kept.take("d")) == ["d0"]


def test_a_part_that_cannot_be_read_makes_the_rest_none(caplog):
    kept = KeptSentences(COUNTS, Recorded(rows(), fail_at=3))
    assert texts(kept.take("a")) == ["a0", "a1"]
    with caplog.at_level(logging.WARNING):
        assert kept.take("c") is None
    assert kept.take("e") is None
    assert "read from the API" in caplog.text and "part-x.jsonl is missing" in caplog.text
