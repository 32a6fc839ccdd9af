"""The transcriptions and sentences of the fake API: deterministic synthetic records (stdlib only).

Every generated conversation refers to its transcription (``transcription.id``); a transcription
refers back to its conversation and to its sentences and artifact. Sentences are built on demand
from a :class:`SentencePlan` (how many, whether they carry ``order_number``, and a seed key), so a
fake with many conversations holds no sentence until one is read, and the same seed always gives
the same sentences.

Some transcriptions always have :data:`SPECIAL_SIZES` sentences (0, 1 and the sizes around one page
of 100); a share of them (:data:`LEGACY_SHARE`, and always the one of 101) has sentences without
``order_number``, as older data on the real API has.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from .records import API_BASE, format_timestamp, parse_timestamp

__all__ = [
    "LEGACY_SHARE",
    "SPECIAL_SIZES",
    "SentencePlan",
    "artifact_url",
    "generate_transcriptions",
    "make_sentences",
    "make_transcription",
]

#: Sentence counts that generated data always holds (when it has at least this many transcriptions).
SPECIAL_SIZES: tuple[int, ...] = (0, 1, 99, 100, 101)
#: Share of generated transcriptions whose sentences have no ``order_number`` (older data).
LEGACY_SHARE = 0.2
#: Host of the signed artifact URLs.
ARTIFACT_HOST = "https://transcripts.fake-conversations.test"

# fmt: off
_WORDS = (
    "we", "you", "the", "team", "pricing", "contract", "renewal", "timeline", "budget", "security",
    "review", "integration", "pilot", "next", "steps", "quarter", "roadmap", "demo", "legal", "rollout",
    "think", "need", "can", "should", "would", "really", "great", "question", "about", "with",
)
_NON_ASCII_WORDS = ("réunion", "Überblick", "déjà", "São", "naïve", "東京", "Größe")
# fmt: on


@dataclass(frozen=True)
class SentencePlan:
    """How a transcription's sentences are built on demand by :func:`make_sentences`.

    :param transcription_id: the transcription's id (every sentence's ``id``).
    :param conversation_id: the conversation every sentence refers to (``None``: no ``conversation``).
    :param count: how many sentences.
    :param legacy: build them without ``order_number``.
    :param key: the seed of their content; a re-transcription changes it.
    """

    transcription_id: str
    conversation_id: str | None
    count: int
    legacy: bool = False
    key: str = ""

    def retranscribed(self, count: int | None = None) -> SentencePlan:
        """The plan of a reprocessed transcript: new content, ``count`` sentences (default: as many).

        :param count: the new number of sentences.
        """
        return replace(self, count=self.count if count is None else count, key=f"{self.key}+")


def _ref(path: str, ident: str) -> dict[str, str]:
    return {"id": ident, "_href": f"{API_BASE}/{path}"}


def make_transcription(
    conversation: dict[str, Any], rng: random.Random, *, transcription_id: str | None = None
) -> dict[str, Any]:
    """Build the transcription of ``conversation``: created a few minutes after it, same language.

    :param conversation: the conversation; its ``transcription`` ref gives the id (unless given).
    :param rng: the random source (seed it for reproducible records).
    :param transcription_id: the id to use; default the conversation's ``transcription.id``.
    :return: a record with ``id``, ``language_code``, ``created_at``, ``updated_at`` and the refs
        ``conversation``, ``transcription_sentences`` and ``transcription_artifact``.
    :raises ValueError: when no id is given and the conversation refers to no transcription.
    """
    ref = conversation.get("transcription")
    tid = transcription_id or (ref.get("id") if isinstance(ref, dict) else None)
    if not isinstance(tid, str) or not tid:
        raise ValueError(f"conversation {conversation.get('id')!r} refers to no transcription (no 'transcription.id')")
    created = parse_timestamp(str(conversation["created_at"])) + timedelta(
        microseconds=rng.randrange(30_000_000, 1_200_000_000)
    )
    updated = created
    if rng.random() >= 0.4:
        updated += timedelta(microseconds=rng.randrange(1_000_000, 86_400_000_000))
    sentences = conversation.get("transcription_sentences")
    artifact = conversation.get("transcription_artifact")
    return {
        "id": tid,
        "language_code": conversation.get("language_code"),
        "created_at": format_timestamp(created),
        "updated_at": format_timestamp(updated),
        "conversation": _ref(f"conversations/{conversation['id']}", str(conversation["id"])),
        "transcription_sentences": {
            "id": sentences["id"] if isinstance(sentences, dict) and "id" in sentences else tid,
            "_href": f"{API_BASE}/transcriptions/{tid}/sentences",
        },
        "transcription_artifact": {
            "id": artifact["id"] if isinstance(artifact, dict) and "id" in artifact else tid,
            "_href": f"{API_BASE}/transcriptions/{tid}/artifact",
        },
    }


def generate_transcriptions(
    conversations: Sequence[dict[str, Any]], *, seed: int = 0
) -> list[tuple[dict[str, Any], SentencePlan]]:
    """The transcription of every conversation that refers to one, and the plan of its sentences.

    Deterministic: the same conversations and ``seed`` give the same transcriptions and sentences.
    The transcriptions at evenly spread positions of the conversations' order get
    :data:`SPECIAL_SIZES` sentences; the others about one sentence per 10 seconds of the call.

    :param conversations: the conversations (those without a ``transcription.id`` are skipped).
    :param seed: the data seed.
    :return: ``(transcription, plan)`` pairs, in the conversations' order.
    """
    rng = random.Random(f"transcriptions-{seed}")
    linked = [c for c in conversations if isinstance(c.get("transcription"), dict) and c["transcription"].get("id")]
    special = {(2 * k + 1) * len(linked) // (2 * len(SPECIAL_SIZES)): size for k, size in enumerate(SPECIAL_SIZES)}
    if len(linked) < len(SPECIAL_SIZES):
        special = dict(enumerate(SPECIAL_SIZES[: len(linked)]))
    result = []
    for i, conversation in enumerate(linked):
        transcription = make_transcription(conversation, rng)
        seconds = float(conversation.get("duration") or 0) / 1000
        count = special.get(i, max(2, round(seconds / rng.uniform(7.0, 13.0))))
        legacy = count == 101 if i in special else rng.random() < LEGACY_SHARE
        key = f"{seed}:{transcription['id']}"
        result.append((transcription, SentencePlan(transcription["id"], str(conversation["id"]), count, legacy, key)))
    return result


def make_sentences(plan: SentencePlan) -> list[dict[str, Any]]:
    """Build the sentences of a plan, in the API's order (by ``start_time``).

    :param plan: what to build.
    :return: fresh dicts: ``id`` (the transcription's), ``start_time``, ``end_time`` (seconds from the
        call's start), ``order_number`` (1-based; absent for a legacy plan), ``recording_attendee_id``,
        ``text`` and ``conversation``.
    """
    rng = random.Random(f"sentences-{plan.key or plan.transcription_id}")
    attendees = [str(rng.randrange(10_000_000, 99_999_999)) for _ in range(rng.randint(2, 4))]
    conversation = None
    if plan.conversation_id is not None:
        conversation = _ref(f"conversations/{plan.conversation_id}", plan.conversation_id)
    sentences, clock = [], rng.uniform(0.2, 3.0)
    for n in range(plan.count):
        start = round(clock, 2)
        end = round(start + rng.uniform(1.2, 9.0), 2)
        clock = end + rng.uniform(0.0, 1.5)
        words = rng.choices(_WORDS, k=rng.randint(3, 16))
        if rng.random() < 0.05:
            words[rng.randrange(len(words))] = rng.choice(_NON_ASCII_WORDS)
        sentence: dict[str, Any] = {"id": plan.transcription_id, "start_time": start, "end_time": end}
        if not plan.legacy:
            sentence["order_number"] = n + 1
        sentence["recording_attendee_id"] = rng.choice(attendees)
        sentence["text"] = " ".join(words).capitalize() + rng.choice((".", ".", "?", "!"))
        if conversation is not None:
            sentence["conversation"] = dict(conversation)
        sentences.append(sentence)
    return sentences


def artifact_url(plan: SentencePlan) -> str:
    """The signed URL of a transcription's transcript file (a secret: it grants access on its own).

    :param plan: the transcription's sentence plan (a re-transcription signs a new URL).
    """
    signature = hashlib.sha256(f"artifact-{plan.key or plan.transcription_id}".encode()).hexdigest()
    return (
        f"{ARTIFACT_HOST}/transcriptions/{plan.transcription_id}.json"
        f"?X-Amz-Expires=600&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
    )
