"""Fault injection knobs of the fake API (:class:`Faults`), the same on every path it serves."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAULT_KINDS", "Faults"]

#: Keys of :attr:`Stats.faults <airflow_provider_conversations.testing.Stats>`.
FAULT_KINDS = ("error", "throttle", "drop", "slow", "non_json", "delete", "boundary_quirk", "redirect")


@dataclass
class Faults:
    """Fault injection knobs; mutate the server's instance at runtime (draws use the server's seed).

    Rates are shares in [0, 1] drawn per authenticated request to the endpoint, in the order drop,
    error, throttle, non_json, slow (at most one of these per request). Injected faults cost no budget.

    :param error_rate: answer 500/502/503 with a JSON or an HTML body.
    :param throttle_rate: answer an injected 429 (``Retry-After: throttle_retry_after``).
    :param throttle_retry_after: seconds sent in the injected 429's ``Retry-After``.
    :param drop_rate: close the connection without sending any response.
    :param slow_rate: answer normally but only after ``slow_seconds`` (to exceed a client timeout).
    :param slow_seconds: delay of a slow answer.
    :param non_json_rate: answer 200 with an HTML body.
    :param delete_per_request: after each successful data request delete this many random records.
    :param boundary_quirk_rate: when ``created_at[gte]``/``[gt]`` is given (or ``updated_at[gte]``/``[gt]``
        on a read sorted by ``updated_at``), prepend the record just before the lower bound (the real
        API's known quirk).
    :param redirect_to: if set, answer every request with 302 to ``redirect_to + path?query``.
    """

    error_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_retry_after: float = 0.05
    drop_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    non_json_rate: float = 0.0
    delete_per_request: int = 0
    boundary_quirk_rate: float = 0.0
    redirect_to: str | None = None

    def request_rates(self) -> tuple[tuple[str, float], ...]:
        """``(kind, rate)`` of the request-level faults, in the order they are drawn."""
        return (
            ("drop", self.drop_rate),
            ("error", self.error_rate),
            ("throttle", self.throttle_rate),
            ("non_json", self.non_json_rate),
        )
