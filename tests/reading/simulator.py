"""The one simulator of ``GET /v2/conversations`` for unit tests: the fake API's pure query engine
(:mod:`airflow_provider_conversations.testing.query`) behind the misbehaviours of a live API.

A test that answers once over a list of records calls
:func:`~airflow_provider_conversations.testing.query.answer_query` itself; :class:`SimulatedAPI`
keeps records between answers and can delete some before each answer, shuffle records that share a
``created_at``, apply the boundary quirk, cap ``per_page`` and leave fields out of
``metadata.paging``. Answers are computed when asked for, so a test that delivers them out of
order sees the deletions made meanwhile, as on a live API.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_conversations.testing.query import (
    QueryResult,
    Quirk,
    Row,
    parse_query,
    request_cost,
    run_query,
    sorted_rows,
    to_row,
)


class SimulatedAPI:
    """Records in memory, answered through the fake's query engine with a live API's misbehaviours.

    :param records: the records at the start.
    :param rng: the random source of every draw below.
    :param unstable_ties: order records that share a ``created_at`` at random in every answer.
    :param shift_quirk: share of answers computed over the range plus the row before the lower bound
        (shifts every page of that answer by one: the quirk's worst form).
    :param prepend_quirk: share of answers with the row before the lower bound put in front (the page
        itself is not shifted; the form the fake API's ``boundary_quirk_rate`` serves).
    :param delete_rate: chance that a random record is deleted before each answer.
    :param counts: send ``total_count`` and ``total_pages`` when asked.
    :param max_per_page: serve at most this many records a page, whatever was asked.
    :param echo_per_page: say in ``metadata.paging.per_page`` what page size was used.
    :param update_rate: chance that a random record is updated before each answer: its ``updated_at``
        moves to :attr:`clock`, which then advances by a millisecond (an update while a read runs).
    :param clock: the ``updated_at`` the first such update gets (default: the latest one in ``records``
        plus a second).
    """

    def __init__(
        self,
        records: Iterable[dict[str, Any]],
        rng: random.Random,
        *,
        unstable_ties: bool = False,
        shift_quirk: float = 0.0,
        prepend_quirk: float = 0.0,
        delete_rate: float = 0.0,
        counts: bool = True,
        max_per_page: int = 100,
        echo_per_page: bool = True,
        update_rate: float = 0.0,
        clock: datetime | None = None,
    ) -> None:
        self.rows: dict[str, Row] = {row.rid: row for row in map(to_row, records)}
        self.rng = rng
        self.unstable_ties = unstable_ties
        self.shift_quirk, self.prepend_quirk, self.delete_rate = shift_quirk, prepend_quirk, delete_rate
        self.counts, self.max_per_page, self.echo_per_page = counts, max_per_page, echo_per_page
        self.requests = 0
        self.cost = 0
        self.update_rate = update_rate
        latest = max((row.updated for row in self.rows.values()), default=None)
        self.clock = clock or (latest + timedelta(seconds=1) if latest else datetime(2030, 1, 1, tzinfo=timezone.utc))
        #: Ids updated by :attr:`update_rate`, in order.
        self.updated: list[str] = []

    def created_at(self) -> dict[str, datetime]:
        """``created_at`` of every record that exists now, by id."""
        return {rid: row.created for rid, row in self.rows.items()}

    def updated_at(self) -> dict[str, datetime]:
        """``updated_at`` of every record that exists now, by id."""
        return {rid: row.updated for rid, row in self.rows.items()}

    def update(self, rid: str) -> None:
        """Update one record now: its ``updated_at`` moves to :attr:`clock` (then a millisecond later).

        :param rid: its id.
        """
        row = self.rows[rid]
        stamp = self.clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.rows[rid] = dataclasses.replace(row, updated=self.clock, record={**row.record, "updated_at": stamp})
        self.clock += timedelta(milliseconds=1)
        self.updated.append(rid)

    def answer(self, params: Sequence[tuple[str, str]]) -> QueryResult:
        """Answer one request now.

        :param params: its query parameters.
        """
        self.requests += 1
        if self.rows and self.rng.random() < self.delete_rate:
            del self.rows[self.rng.choice(sorted(self.rows))]
        if self.rows and self.update_rate and self.rng.random() < self.update_rate:
            self.update(self.rng.choice(sorted(self.rows)))
        asked = dict(params)
        if "per_page" in asked and int(asked["per_page"]) > self.max_per_page:
            asked["per_page"] = str(self.max_per_page)
        q, _ = parse_query(list(asked.items()))
        self.cost += request_cost(q.page)
        if self.unstable_ties:
            rows = sorted(self.rows.values(), key=lambda r: (r.created, self.rng.random()))
        else:
            rows = sorted_rows(self.rows.values())
        quirk: Quirk | None = None
        if self.rng.random() < self.shift_quirk:
            quirk = "shift"
        elif self.rng.random() < self.prepend_quirk:
            quirk = "prepend"
        result = run_query(rows, q, quirk=quirk)
        if not self.echo_per_page:
            result.paging.pop("per_page")
        if not self.counts:
            result.paging.pop("total_count", None)
            result.paging.pop("total_pages", None)
        return result
