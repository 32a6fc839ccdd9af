"""Read and check a ``conversations`` Airflow connection, without any I/O.

Shared by the sync hook and the async trigger. The token lives in ``password``; tunables live in
``extra`` under their plain name (or the older ``extra__conversations__<name>`` form).
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_conversations.api.form import CONN_TYPE, DEFAULT_BASE_URL, EXTRA_FIELDS, ExtraField
from airflow_provider_conversations.exceptions import ConversationsConnectionError

ENDPOINT_PATH = "/v2/conversations"


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a client needs from the connection. The token is kept out of ``repr``.

    :param base_url: API base URL, scheme included, no trailing slash.
    :param token: API key or OAuth bearer token.
    """

    base_url: str
    token: str = field(repr=False)
    timeout: float = 30.0
    max_retries: int = 5
    backoff_base: float = 1.0
    budget_per_minute: int = 600
    budget_share: float = 1.0
    rate_limit_window_seconds: float = 60.0
    max_concurrency: int = 4

    @property
    def endpoint(self) -> str:
        """Full URL of ``GET /v2/conversations``."""
        base = self.base_url[: -len("/v2")] if self.base_url.endswith("/v2") else self.base_url
        return base + ENDPOINT_PATH

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, the ``Authorization`` bearer header included."""
        from airflow_provider_conversations import __version__

        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": f"airflow-provider-conversations/{__version__}",
        }


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def base_url_from(host: str | None, *, schema: str | None = None, port: int | None = None) -> str:
    """Build and check the API base URL from the connection's host (and optional schema/port).

    :param host: ``https://api.salesloft.com``, ``api.salesloft.com`` or empty for the default.
    :param schema: ``http``/``https`` when ``host`` has no scheme.
    :param port: a port to add when ``host`` has none (0 and ``None`` mean none).
    """
    host = (host or "").strip()
    if not host:
        return DEFAULT_BASE_URL
    if "://" not in host:
        host = f"{schema or 'https'}://{host}"
    try:
        parts = urlsplit(host)
        hostname, url_port = parts.hostname, parts.port
    except ValueError as err:
        raise ConversationsConnectionError(f"host: {host!r} is not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConversationsConnectionError(
            f"host: {host!r} is not a valid API base URL; expected e.g. {DEFAULT_BASE_URL}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConversationsConnectionError("host: the API base URL must not hold a query, fragment or credentials")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise ConversationsConnectionError(
            f"host: refusing to send the API token over plain http to {hostname}; use https "
            "(plain http is only allowed to loopback addresses, e.g. a local fake API)"
        )
    netloc = parts.netloc
    if url_port is None and port:
        netloc = f"{netloc}:{int(port)}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _extra_value(extra: Mapping[str, Any], spec: ExtraField) -> float | int:
    raw = extra.get(spec.name, extra.get(f"extra__{CONN_TYPE}__{spec.name}"))
    if raw is None or raw == "":
        return spec.default
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = float(raw)
        if not math.isfinite(number) or (spec.kind is int and not number.is_integer()):
            raise ValueError
        value: float | int = int(number) if spec.kind is int else number
    except (TypeError, ValueError, OverflowError):
        raise ConversationsConnectionError(
            f"extra {spec.name}: expected {'an integer' if spec.kind is int else 'a number'}, got {raw!r}"
        ) from None
    low_ok = value > spec.minimum if spec.exclusive_minimum else value >= spec.minimum
    if not low_ok or (spec.maximum is not None and value > spec.maximum):
        low = f"> {spec.minimum}" if spec.exclusive_minimum else f">= {spec.minimum}"
        high = f" and <= {spec.maximum}" if spec.maximum is not None else ""
        raise ConversationsConnectionError(f"extra {spec.name}: {value} is out of range; allowed: {low}{high}")
    return value


def settings_from_connection(
    conn: Any, *, mask: Callable[[str], None] | None = None, extra: Mapping[str, Any] | None = None
) -> ConnectionSettings:
    """Check an Airflow connection and return its :class:`ConnectionSettings`.

    :param conn: an Airflow ``Connection`` (anything with host/schema/port/password/extra_dejson).
    :param mask: registers the token with the secrets masker before anything else can log it.
    :param extra: the connection's extra, already read (a trigger reads it asynchronously);
        ``conn.extra_dejson`` when omitted.
    """
    token = (conn.password or "").strip()
    if not token:
        raise ConversationsConnectionError(
            f"connection {conn.conn_id!r}: no API token; put the API key or OAuth access token in the Password field"
        )
    if mask is not None:
        mask(token)
    if extra is None:
        # Airflow's extra_dejson logs invalid JSON and returns {}: a typo would silently drop every setting.
        raw = getattr(conn, "extra", None)
        try:
            extra = json.loads(raw) if isinstance(raw, str) and raw.strip() else conn.extra_dejson
        except ValueError:
            raise ConversationsConnectionError(f"connection {conn.conn_id!r}: extra is not valid JSON") from None
    if not isinstance(extra, Mapping):
        raise ConversationsConnectionError(f"connection {conn.conn_id!r}: extra must be a JSON object")
    values = {spec.name: _extra_value(extra, spec) for spec in EXTRA_FIELDS}
    base_url = base_url_from(conn.host, schema=conn.schema, port=conn.port)
    return ConnectionSettings(base_url=base_url, token=token, **values)  # type: ignore[arg-type]
