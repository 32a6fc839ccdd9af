"""Read and check a ``conversations`` Airflow connection, without any network I/O.

Shared by the sync hook and the async trigger. The token lives in ``password``; tunables and network
settings live in ``extra`` under their plain name (or the older ``extra__conversations__<name>`` form).
No error raised here quotes the password, the token or a proxy's credentials.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_conversations.api.form import (
    CONN_TYPE,
    DEFAULT_BASE_URL,
    EXTRA_DEFAULTS,
    EXTRA_FIELDS,
    ExtraField,
)
from airflow_provider_conversations.api.network import NetworkSettings, network_from
from airflow_provider_conversations.exceptions import ConversationsConnectionError

ENDPOINT_PATH = "/v2/conversations"


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a client needs from the connection. The token is kept out of ``repr``.

    The numeric settings default to :data:`~airflow_provider_conversations.api.form.EXTRA_FIELDS`'
    defaults.

    :param base_url: API base URL, scheme included, no trailing slash.
    :param token: API key or OAuth bearer token.
    :param network: proxy, TLS verification and client certificate (see :mod:`.network`).
    """

    base_url: str
    token: str = field(repr=False)
    timeout: float = EXTRA_DEFAULTS["timeout"]  # type: ignore[assignment]
    max_retries: int = EXTRA_DEFAULTS["max_retries"]  # type: ignore[assignment]
    backoff_base: float = EXTRA_DEFAULTS["backoff_base"]  # type: ignore[assignment]
    budget_per_minute: int = EXTRA_DEFAULTS["budget_per_minute"]  # type: ignore[assignment]
    budget_share: float = EXTRA_DEFAULTS["budget_share"]  # type: ignore[assignment]
    rate_limit_window_seconds: float = EXTRA_DEFAULTS["rate_limit_window_seconds"]  # type: ignore[assignment]
    max_concurrency: int = EXTRA_DEFAULTS["max_concurrency"]  # type: ignore[assignment]
    network: NetworkSettings = field(default_factory=NetworkSettings)

    @property
    def endpoint(self) -> str:
        """Full URL of ``GET /v2/conversations``."""
        return self.url(ENDPOINT_PATH)

    def url(self, path: str) -> str:
        """Full URL of an API path such as ``/v2/transcriptions`` (below the base URL's own path).

        :param path: the path, starting with ``/v2/``.
        """
        base = self.base_url[: -len("/v2")] if self.base_url.endswith("/v2") else self.base_url
        return base + path

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, the ``Authorization`` bearer header included."""
        from airflow_provider_conversations import __version__

        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": f"airflow-provider-conversations/{__version__}",
        }

    def own_url(self, url: str) -> str:
        """Return ``url`` (absolute, or a path on the base URL) if the token may be sent to it, else raise.

        A URL the API hands back (such as a record's ``_href``) is only requested when it has the
        base URL's scheme, host and port: the token never goes to another host.

        :param url: an absolute URL or an absolute path.
        :raises ConversationsConnectionError: the URL points at another host (the message names the
            host, never the query).
        """
        base = urlsplit(self.base_url)
        if url.startswith("/") and not url.startswith("//"):
            return f"{base.scheme}://{base.netloc}{url}"
        try:
            parts = urlsplit(url)
            same = (parts.scheme, parts.hostname, parts.port) == (base.scheme, base.hostname, base.port)
        except ValueError:
            same = False
        if not same or parts.username is not None:
            raise ConversationsConnectionError(
                f"refusing to send the API token to {_display(url)}: only URLs on {self.base_url} are requested"
            )
        return url


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _display(url: str) -> str:
    """``url`` without user info, query or fragment: safe to put into a message."""
    return re.sub(r"^[^@]*@", "***@", re.split(r"[?#]", url, maxsplit=1)[0])


_BAD_HOST_CHARS = re.compile(r"[\s\x00-\x1f\"<>\\^`{|}%]")


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
    if any(char in host for char in "@?#"):
        # Whatever is around the "@" may be a password: the message quotes none of the value.
        raise ConversationsConnectionError(
            "host: the API base URL must not hold a query, fragment or credentials (user:password@); "
            "put the token in the Password field"
        )
    shown = _display(host)
    try:
        parts = urlsplit(host)
        hostname, url_port = parts.hostname, parts.port
    except ValueError as err:
        raise ConversationsConnectionError(f"host: {shown!r} is not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConversationsConnectionError(
            f"host: {shown!r} is not a valid API base URL; expected e.g. {DEFAULT_BASE_URL}"
        )
    if _BAD_HOST_CHARS.search(hostname):
        raise ConversationsConnectionError(f"host: {shown!r} does not hold a valid host name")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise ConversationsConnectionError(
            f"host: refusing to send the API token over plain http to {hostname}; use https "
            "(plain http is only allowed to loopback addresses, e.g. a local fake API)"
        )
    netloc = parts.netloc
    if url_port is None and port:
        netloc = f"{netloc}:{int(port)}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _raw_extra(extra: Mapping[str, Any], spec: ExtraField) -> Any:
    return extra.get(spec.name, extra.get(f"extra__{CONN_TYPE}__{spec.name}"))


def _extra_value(extra: Mapping[str, Any], spec: ExtraField) -> float | int | None:
    raw = _raw_extra(extra, spec)
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
    minimum = spec.minimum if spec.minimum is not None else -math.inf
    low_ok = value > minimum if spec.exclusive_minimum else value >= minimum
    if not low_ok or (spec.maximum is not None and value > spec.maximum):
        low = f"> {spec.minimum}" if spec.exclusive_minimum else f">= {spec.minimum}"
        high = f" and <= {spec.maximum}" if spec.maximum is not None else ""
        raise ConversationsConnectionError(f"extra {spec.name}: {value} is out of range; allowed: {low}{high}")
    return value


def settings_from_connection(
    conn: Any, *, mask: Callable[[str], None] | None = None, extra: Mapping[str, Any] | None = None
) -> ConnectionSettings:
    """Check an Airflow connection and return its :class:`ConnectionSettings`.

    The connection must be of type ``conversations``: the password of any other type (an ``http``
    or ``aws`` connection given by mistake) is never sent anywhere.

    :param conn: an Airflow ``Connection`` (anything with conn_type/host/schema/port/password/extra_dejson).
    :param mask: registers the token (and a proxy's password) with the secrets masker before anything
        else can log it.
    :param extra: the connection's extra, already read (a trigger reads it asynchronously);
        ``conn.extra_dejson`` when omitted.
    :raises ConversationsConnectionError: a wrong type, no token, a bad URL or extra.
    """
    conn_type = getattr(conn, "conn_type", None)
    if conn_type != CONN_TYPE:
        raise ConversationsConnectionError(
            f"connection {conn.conn_id!r} is of type {conn_type!r}; expected a connection of type {CONN_TYPE!r} "
            "(its password is sent to the Conversations API as the token, so no other type is used)"
        )
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
    numbers = {spec.name: _extra_value(extra, spec) for spec in EXTRA_FIELDS if spec.kind is not str}
    base_url = base_url_from(conn.host, schema=conn.schema, port=conn.port)
    settings = ConnectionSettings(base_url=base_url, token=token, **numbers)  # type: ignore[arg-type]
    texts = {spec.name: _raw_extra(extra, spec) for spec in EXTRA_FIELDS if spec.kind is str}
    network = network_from(texts, settings.endpoint)
    if mask is not None and network.proxy_password:
        mask(network.proxy_password)
    return replace(settings, network=network)
