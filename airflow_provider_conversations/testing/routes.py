"""The paths the fake API serves (:func:`resolve`) and its answers about one transcription.

* ``GET /v2/conversations`` and ``GET /v2/transcriptions``: lists, answered by the query engine
  (:mod:`.query`) over the records of their store;
* ``GET /v2/transcriptions/{id}``: ``{"data": transcription}``;
* ``GET /v2/transcriptions/{id}/sentences``: the sentences in the API's order, paged like a list
  (``per_page``, ``page``, ``include_paging_counts``) in the same envelope;
* ``GET /v2/transcriptions/{id}/artifact``: ``{"data": "<signed URL>"}``.

An unknown transcription id is a 404 with the API's error body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from .answers import error_body
from .params import CONVERSATIONS, SENTENCES, TRANSCRIPTIONS, ParamSpec
from .query import Query, paging_metadata
from .transcript_store import TranscriptStore

__all__ = ["CONVERSATIONS_PATH", "TRANSCRIPTIONS_PATH", "Route", "RouteKind", "answer_transcription", "resolve"]

#: The conversations list.
CONVERSATIONS_PATH = "/v2/conversations"
#: The transcriptions list; one transcription is ``{TRANSCRIPTIONS_PATH}/{id}``.
TRANSCRIPTIONS_PATH = "/v2/transcriptions"

#: What a path asks for.
RouteKind = Literal["conversations", "transcriptions", "transcription", "sentences", "artifact"]
_ITEM_SPEC = ParamSpec()  # one object: only the paging names are known (and ignored)


@dataclass(frozen=True)
class Route:
    """A served path.

    :param kind: what it asks for.
    :param spec: the query parameters it understands.
    :param ident: the transcription id in the path, if any.
    """

    kind: RouteKind
    spec: ParamSpec
    ident: str | None = None

    @property
    def listing(self) -> bool:
        """Whether the route is a list endpoint answered by the query engine."""
        return self.kind in ("conversations", "transcriptions")

    @property
    def paged(self) -> bool:
        """Whether the route pages (then deep pages cost more)."""
        return self.kind != "transcription" and self.kind != "artifact"


def resolve(method: str, path: str) -> Route | None:
    """The route of a request, or ``None`` when the fake serves no such path (a 404).

    :param method: the HTTP method (only ``GET`` is served).
    :param path: the request's path, without the query string.
    """
    if method != "GET":
        return None
    path = path.rstrip("/")
    if path == CONVERSATIONS_PATH:
        return Route("conversations", CONVERSATIONS)
    if path == TRANSCRIPTIONS_PATH:
        return Route("transcriptions", TRANSCRIPTIONS)
    if not path.startswith(TRANSCRIPTIONS_PATH + "/"):
        return None
    parts = path[len(TRANSCRIPTIONS_PATH) + 1 :].split("/")
    ident = unquote(parts[0])
    if not ident or len(parts) > 2:
        return None
    if len(parts) == 1:
        return Route("transcription", _ITEM_SPEC, ident)
    if parts[1] == "sentences":
        return Route("sentences", SENTENCES, ident)
    if parts[1] == "artifact":
        return Route("artifact", _ITEM_SPEC, ident)
    return None


def answer_transcription(route: Route, q: Query, transcripts: TranscriptStore) -> tuple[int, dict[str, Any]]:
    """The status and body answering a route about one transcription.

    :param route: a ``transcription``, ``sentences`` or ``artifact`` route.
    :param q: the request's query (paging, for sentences).
    :param transcripts: the transcriptions.
    :return: ``(200, body)``, or ``(404, error body)`` for an unknown id.
    """
    tid = str(route.ident)
    try:
        if route.kind == "transcription":
            record = transcripts.get(tid)
            if record is None:
                raise KeyError(tid)
            return 200, {"data": record}
        if route.kind == "artifact":
            return 200, {"data": transcripts.artifact(tid)}
        sentences = transcripts.sentences(tid)
    except KeyError:
        return 404, error_body(404, f"Transcription {tid} not found")
    first = (q.page - 1) * q.per_page
    metadata = {"filtering": {}, "paging": paging_metadata(q, len(sentences))}
    return 200, {"metadata": metadata, "data": sentences[first : first + q.per_page]}
