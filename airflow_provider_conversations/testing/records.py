"""The records of the fake ``GET /v2/conversations``: domain tables, timestamps, generation (stdlib only).

* Deterministic synthetic records: :func:`generate_conversations`, :func:`make_conversation`
  (seeded; the same ``seed`` always yields the same records).
* The endpoint's domain tables (platforms, media types, language codes) and the timestamp format
  the API writes and reads (:func:`format_timestamp`, :func:`parse_timestamp`).

The query language over these records is :mod:`.query`; serving it over HTTP is :mod:`.server`.
"""

from __future__ import annotations

import itertools
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "ACCOUNT_IDS",
    "API_BASE",
    "DEFAULT_START",
    "LANGUAGE_CODES",
    "MEDIA_TYPES",
    "NON_ASCII_SHARE",
    "ORGANIZATION_ID",
    "PERSON_IDS",
    "PLATFORMS",
    "USER_IDS",
    "format_timestamp",
    "generate_conversations",
    "make_conversation",
    "parse_timestamp",
]

#: Prefix of every ``_href`` in a record.
API_BASE = "https://api.salesloft.com/v2"

#: Platforms listed in the reference (``platform`` field and filter).
# fmt: off
PLATFORMS: tuple[str, ...] = (
    "bluejeans", "gotomeeting", "joinme", "manual_upload", "ms_teams", "salesloft",
    "uberconference", "webex", "zoom", "google_meet", "external_audio",
)
# fmt: on
_PLATFORM_CUM = tuple(itertools.accumulate((1, 2, 1, 3, 20, 8, 1, 4, 35, 22, 3)))

#: Media types listed in the reference.
MEDIA_TYPES: tuple[str, ...] = ("audio", "video")

#: Language codes listed in the reference (``language_code`` field and filter).
# fmt: off
LANGUAGE_CODES: tuple[str, ...] = (
    "en-AU", "en-AB", "en-GB", "en-IN", "en-IE", "en-NZ", "en-ZA", "en-US", "en-WL",
    "es-ES", "es-US", "nl-NL", "it-IT", "fr-FR", "fr-CA", "de-DE", "de-CH",
)
# fmt: on
_LANGUAGE_CUM = tuple(itertools.accumulate((3, 1, 8, 3, 1, 1, 1, 55, 1, 3, 3, 2, 2, 6, 2, 5, 1)))

#: Default start of the generated ``created_at`` range.
DEFAULT_START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _uuid(rng: random.Random) -> str:
    # Same value as str(uuid.UUID(int=rng.getrandbits(128), version=4)), without the object overhead.
    n = rng.getrandbits(128) & ~(0xC000 << 48) | (0x8000 << 48)
    h = f"{n & ~(0xF000 << 64) | (4 << 76):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Fixed pools (independent of the data seed) so that ``make_conversation`` needs only an rng and
# owner/user/account/person filters match several records.
_POOL_RNG = random.Random(20250101)
#: The single organization every generated conversation belongs to.
ORGANIZATION_ID: str = _uuid(_POOL_RNG)
#: Pool of 20 user uuids used for ``owner_id`` and ``user_guid``.
USER_IDS: tuple[str, ...] = tuple(_uuid(_POOL_RNG) for _ in range(20))
#: Pool of 60 account ids (numeric strings, as the vendor's ids are integers).
ACCOUNT_IDS: tuple[str, ...] = tuple(str(_POOL_RNG.randrange(10_000_000, 99_999_999)) for _ in range(60))
#: Pool of 200 person ids.
PERSON_IDS: tuple[str, ...] = tuple(str(_POOL_RNG.randrange(100_000_000, 999_999_999)) for _ in range(200))
del _POOL_RNG

# fmt: off
_COMPANIES = (
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Pied Piper", "Vandelay Industries", "Soylent", "Cyberdyne Systems", "Tyrell Corp",
    "Wonka Foods", "Gringotts Bank", "Oscorp", "Massive Dynamic", "Nakatomi Trading", "Aperture Labs",
    "Blue Sun", "Monarch Logistics", "Northwind Traders", "Contoso", "Fabrikam", "Litware",
)
# fmt: on
_FIRST_NAMES = ("Alex", "Sam", "Jordan", "Priya", "Chen", "Maria", "Tom", "Aisha", "Lukas", "Emma")
_TEMPLATES = (
    "Discovery call with {company}",
    "{company} <> Salesloft intro",
    "Demo for {company}",
    "Pricing review - {company}",
    "QBR: {company}",
    "Follow-up with {first} ({company})",
    "{company} renewal discussion",
    "Technical deep dive - {company}",
    "Contract negotiation with {company}",
    "Onboarding kickoff: {company}",
)
_NON_ASCII_TITLES = (
    "Réunion — Société Générale",
    "東京 demo",
    "Démo produit \u2013 Crédit Agricole",
    "Gespräch mit Müller & Söhne GmbH",
    "São Paulo pipeline review",
    "Renewal 🎉 Nordlys AS",
)

_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


def format_timestamp(value: datetime) -> str:
    """Format a datetime the way the API does: UTC, microseconds, ``Z`` suffix.

    :param value: an aware datetime (a naive one is taken as UTC).
    :return: e.g. ``"2025-02-13T22:11:57.792123Z"``.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime with microsecond precision.

    Accepts a ``Z`` or ``+hh:mm`` offset (no offset means UTC), 0 to 9 fractional digits (digits
    past the sixth are truncated) and a bare date (midnight UTC).

    :param value: the text to parse.
    :return: the aware datetime in UTC.
    :raises ValueError: if ``value`` is not an ISO-8601 timestamp.
    """
    if len(value) == 27 and value[-1] == "Z" and value[10] == "T":  # the API's own format: fast path
        try:
            return datetime.fromisoformat(value[:-1]).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    match = _TS_RE.match(value.strip())
    if not match:
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = timezone.utc
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or "0"))
        tz = timezone(delta if offset[0] == "+" else -delta)
    parsed = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro, tzinfo=tz
    )
    return parsed.astimezone(timezone.utc)


def _ref(kind: str, ident: str) -> dict[str, str]:
    return {"id": ident, "_href": f"{API_BASE}/{kind}/{ident}"}


# Words that lengthen a title to ``title_chars`` (the shape of a real meeting's agenda-like title).
# fmt: off
_FILLER = (
    "agenda", "pricing", "security", "review", "roadmap", "renewal", "integration", "timeline",
    "stakeholders", "budget", "pilot", "rollout", "next", "steps", "procurement", "legal",
)
_NON_ASCII_FILLER = ("réunion", "Überblick", "précis", "東京", "São", "Größe", "naïve", "🎉")
# fmt: on

#: Share of generated titles with non-ASCII characters, by default.
NON_ASCII_SHARE = 0.04


def _title(rng: random.Random, title_chars: int = 0, non_ascii_share: float = NON_ASCII_SHARE) -> str:
    non_ascii = rng.random() < non_ascii_share
    if non_ascii:
        title = rng.choice(_NON_ASCII_TITLES)
    else:
        template = rng.choice(_TEMPLATES)
        title = template.format(company=rng.choice(_COMPANIES), first=rng.choice(_FIRST_NAMES))
    if len(title) < title_chars:
        words = _NON_ASCII_FILLER + _FILLER if non_ascii else _FILLER
        parts = [title, "-"]
        size = len(title) + 1
        while size < title_chars:
            parts.append(rng.choice(words))
            size += len(parts[-1]) + 1
        title = " ".join(parts)[:title_chars]
    return title


def make_conversation(
    rng: random.Random, created_at: datetime, *, title_chars: int = 0, non_ascii_share: float = NON_ASCII_SHARE
) -> dict[str, Any]:
    """Build one realistic conversation record created at ``created_at``.

    The call ends a few minutes before ``created_at`` (processing delay), ``duration`` equals
    ``event_end_date - event_start_date`` in milliseconds and ``updated_at >= created_at``.

    :param rng: the random source (seed it for reproducible records).
    :param created_at: creation time; a naive datetime is taken as UTC.
    :param title_chars: lengthen shorter titles to this many characters with filler words (0: as drawn,
        about 25 characters): the knob of a record's size.
    :param non_ascii_share: share of titles with non-ASCII characters (0: ASCII-only text).
    :return: a record with every field of the reference schema.
    """
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    conversation_id = _uuid(rng)
    owner_id = rng.choice(USER_IDS)
    user_guid = owner_id if rng.random() < 0.8 else rng.choice(USER_IDS)
    duration_ms = int(rng.triangular(45, 3600, 1500) * 1000) + rng.randrange(1000)
    event_end = created_at - timedelta(microseconds=rng.randrange(20_000_000, 900_000_000))
    event_end = event_end.replace(microsecond=event_end.microsecond // 1000 * 1000)
    event_start = event_end - timedelta(milliseconds=duration_ms)
    if rng.random() < 0.3:
        updated_at = created_at
    else:
        updated_at = created_at + timedelta(microseconds=rng.randrange(1_000_000, 3 * 86_400_000_000))
    transcription_id = _uuid(rng)
    return {
        "id": conversation_id,
        "duration": duration_ms,
        "is_api": rng.random() < 0.1,
        "platform": rng.choices(PLATFORMS, cum_weights=_PLATFORM_CUM)[0],
        "media_type": "video" if rng.random() < 0.7 else "audio",
        "organization_id": ORGANIZATION_ID,
        "title": _title(rng, title_chars, non_ascii_share),
        "owner_id": owner_id,
        "user_guid": user_guid,
        "started_recording_at": int(event_start.timestamp() * 1000),
        "event_end_date": format_timestamp(event_end),
        "event_start_date": format_timestamp(event_start),
        "language_code": rng.choices(LANGUAGE_CODES, cum_weights=_LANGUAGE_CUM)[0],
        "created_at": format_timestamp(created_at),
        "updated_at": format_timestamp(updated_at),
        "call_id": str(rng.randrange(1_000_000_000, 9_999_999_999)),
        "account": _ref("accounts", rng.choice(ACCOUNT_IDS)),
        "person": _ref("people", rng.choice(PERSON_IDS)),
        "recording": {"id": _uuid(rng), "_href": f"{API_BASE}/conversations/{conversation_id}/recording"},
        "transcription": _ref("transcriptions", transcription_id),
        "transcription_sentences": {
            "id": _uuid(rng),
            "_href": f"{API_BASE}/transcriptions/{transcription_id}/sentences",
        },
        "transcription_artifact": {
            "id": _uuid(rng),
            "_href": f"{API_BASE}/transcriptions/{transcription_id}/artifact",
        },
    }


def generate_conversations(
    n: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    end: datetime | None = None,
    tie_share: float = 0.05,
    title_chars: int = 0,
    non_ascii_share: float = NON_ASCII_SHARE,
) -> list[dict[str, Any]]:
    """Generate ``n`` deterministic conversations, sorted by ``created_at`` then ``id``.

    :param n: number of records.
    :param seed: random seed; the same seed gives the same records.
    :param start: lower bound (inclusive) of ``created_at``; default 2025-01-01T00:00Z.
    :param end: upper bound (exclusive) of ``created_at``; default ``start`` + 7 days.
    :param tie_share: share of records whose ``created_at`` is exactly another record's.
    :param title_chars: see :func:`make_conversation` (0: titles as drawn).
    :param non_ascii_share: share of titles with non-ASCII characters (0: ASCII-only text).
    :return: the records (fresh dicts, safe to mutate).
    :raises ValueError: on a negative ``n`` or ``title_chars``, an empty range or a share outside [0, 1].
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if title_chars < 0:
        raise ValueError(f"title_chars: {title_chars} is out of range; allowed: >= 0")
    if not 0.0 <= tie_share <= 1.0:
        raise ValueError("tie_share must be in [0, 1]")
    if not 0.0 <= non_ascii_share <= 1.0:
        raise ValueError(f"non_ascii_share: {non_ascii_share} is out of range; allowed: 0 <= non_ascii_share <= 1")
    start = DEFAULT_START if start is None else start
    start = start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start
    end = start + timedelta(days=7) if end is None else end
    end = end.replace(tzinfo=timezone.utc) if end.tzinfo is None else end
    span_us = (end - start) // timedelta(microseconds=1)
    if span_us <= 0:
        raise ValueError("end must be after start")
    rng = random.Random(seed)
    offsets = [rng.randrange(span_us) for _ in range(n)]
    if n >= 2:
        for i in rng.sample(range(n), min(n - 1, round(n * tie_share))):
            j = rng.randrange(n - 1)
            offsets[i] = offsets[j if j < i else j + 1]
    records = [
        make_conversation(
            rng, start + timedelta(microseconds=off), title_chars=title_chars, non_ascii_share=non_ascii_share
        )
        for off in offsets
    ]
    records.sort(key=lambda r: (r["created_at"], r["id"]))  # one fixed-width format: text order is time order
    return records
