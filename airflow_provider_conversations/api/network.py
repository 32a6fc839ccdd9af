"""Network settings shared by every transport: the proxy, TLS verification and the client certificate.

Resolved once per process from the connection's extras and the environment, without I/O on the
network, and applied the same way to the sync hook's ``requests`` session and the trigger's aiohttp
requests. Neither transport reads the environment or ``~/.netrc`` on its own: a ``.netrc`` entry
would replace the bearer token.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_conversations.exceptions import ConversationsConnectionError

if TYPE_CHECKING:
    import requests

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclass(frozen=True)
class NetworkSettings:
    """How requests reach the API: through which proxy, checking which certificates, showing which one.

    :param proxy: the proxy URL for the API's endpoint, or ``None`` to connect directly. It may hold
        credentials, so it is kept out of ``repr``.
    :param verify: ``True`` (the system's CAs), a CA bundle path, or ``False`` (no check).
    :param cert: a PEM client certificate file, or ``None``.
    :param cert_key: the client certificate's key file, when not in ``cert``.
    """

    proxy: str | None = field(default=None, repr=False)
    verify: bool | str = True
    cert: str | None = None
    cert_key: str | None = None

    @property
    def proxy_password(self) -> str | None:
        """The password in the proxy URL, if any (for the secrets masker)."""
        if not self.proxy:
            return None
        password = urlsplit(self.proxy).password
        return unquote(password) if password else None

    def configure(self, session: requests.Session) -> None:
        """Apply these settings to a ``requests`` session (and stop it reading the environment itself).

        :param session: the hook's session.
        """
        session.trust_env = False
        session.proxies = {"http": self.proxy, "https": self.proxy} if self.proxy else {}
        session.verify = self.verify
        if self.cert:
            session.cert = (self.cert, self.cert_key) if self.cert_key else self.cert

    def ssl_context(self) -> ssl.SSLContext | bool:
        """The TLS setting of an aiohttp request: a context (CA bundle, client certificate) or ``False``."""
        if self.verify is False:
            if not self.cert:
                return False
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif isinstance(self.verify, str):
            is_dir = os.path.isdir(self.verify)
            context = ssl.create_default_context(
                cafile=None if is_dir else self.verify, capath=self.verify if is_dir else None
            )
        else:
            context = ssl.create_default_context()
        if self.cert:
            context.load_cert_chain(self.cert, self.cert_key)
        return context

    def aiohttp_kwargs(self, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments of an aiohttp request to ``url``: ``headers``, ``ssl``, ``proxy`` and its credentials.

        Pass the headers here, per request, not as the session's default headers: aiohttp copies a
        session's ``Authorization`` into the ``Proxy-Authorization`` of a ``CONNECT``, which would hand
        the token to the proxy. The proxy's own credentials go in ``Proxy-Authorization``: on the
        ``CONNECT`` for https, on the request itself for plain http (aiohttp reads neither from the URL).

        :param url: the URL to be requested.
        :param headers: the request's headers (the ``Authorization`` bearer header included).
        """
        kwargs: dict[str, Any] = {"headers": dict(headers), "ssl": self.ssl_context()}
        if self.proxy:
            parts = urlsplit(self.proxy)
            netloc = parts.hostname or ""
            if ":" in netloc:
                netloc = f"[{netloc}]"
            if parts.port:
                netloc = f"{netloc}:{parts.port}"
            kwargs["proxy"] = f"{parts.scheme}://{netloc}"
            if parts.username is not None:
                user_pass = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                credentials = {"Proxy-Authorization": f"Basic {base64.b64encode(user_pass.encode()).decode('ascii')}"}
                if urlsplit(url).scheme == "https":
                    kwargs["proxy_headers"] = credentials
                else:
                    kwargs["headers"].update(credentials)
        return kwargs


def _check_file(name: str, path: str, *, directory_ok: bool = False) -> str:
    if os.path.isfile(path) or (directory_ok and os.path.isdir(path)):
        return path
    what = "file or directory" if directory_ok else "file"
    raise ConversationsConnectionError(f"extra {name}: no such {what} {path!r} on this machine")


def _check_proxy(value: str, *, source: str) -> str:
    try:
        parts = urlsplit(value)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a bad port or bracketed host
        usable = False
    if not usable:
        # The value may hold a password: name the field, not the value.
        raise ConversationsConnectionError(
            f"{source}: not a usable proxy URL; expected http://host:port or https://host:port "
            "(user:password@ allowed; SOCKS proxies are not supported)"
        )
    return value


def environment_proxy(url: str, environ: Mapping[str, str]) -> str | None:
    """The proxy the environment sets for ``url`` (``HTTPS_PROXY``/``HTTP_PROXY``, ``ALL_PROXY``), honouring ``NO_PROXY``.

    :param url: the URL to be requested.
    :param environ: the environment variables (``os.environ``).
    """
    import requests.utils

    scheme = urlsplit(url).scheme
    env = {k.lower(): v for k, v in environ.items() if k.lower().endswith("_proxy") and v}
    no_proxy = env.get("no_proxy")
    if no_proxy and requests.utils.should_bypass_proxies(url, no_proxy=no_proxy):
        return None
    proxy = env.get(f"{scheme}_proxy") or env.get("all_proxy")
    return _check_proxy(proxy, source=f"{scheme.upper()}_PROXY environment variable") if proxy else None


def network_from(extras: Mapping[str, Any], url: str, environ: Mapping[str, str] | None = None) -> NetworkSettings:
    """Check the connection's ``proxy``, ``verify``, ``cert`` and ``cert_key`` and resolve them for ``url``.

    Without a ``proxy`` extra the environment's proxy applies (``NO_PROXY`` included); without
    ``verify``, ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when set, else the system's CAs.

    :param extras: the extras, already read (``None`` or ``""`` means unset).
    :param url: the API endpoint the settings are for.
    :param environ: the environment; ``os.environ`` when omitted.
    """
    environ = os.environ if environ is None else environ
    proxy_value = extras.get("proxy")
    if proxy_value not in (None, "") and not isinstance(proxy_value, str):
        raise ConversationsConnectionError("extra proxy: expected a URL string")
    proxy = (
        _check_proxy(proxy_value.strip(), source="extra proxy")
        if proxy_value and proxy_value.strip()
        else environment_proxy(url, environ)
    )
    verify = _verify(extras.get("verify"), environ)
    cert, cert_key = (extras.get(name) for name in ("cert", "cert_key"))
    for name, value in (("cert", cert), ("cert_key", cert_key)):
        if value not in (None, "") and not isinstance(value, str):
            raise ConversationsConnectionError(f"extra {name}: expected a file path, got {type(value).__name__}")
    if cert_key and not cert:
        raise ConversationsConnectionError("extra cert_key: set cert (the client certificate) too")
    return NetworkSettings(
        proxy=proxy,
        verify=verify,
        cert=_check_file("cert", cert.strip()) if cert else None,
        cert_key=_check_file("cert_key", cert_key.strip()) if cert_key else None,
    )


def _verify(raw: Any, environ: Mapping[str, str]) -> bool | str:
    if isinstance(raw, bool):
        return raw
    if raw is not None and not isinstance(raw, str):
        raise ConversationsConnectionError(f"extra verify: expected true, false or a CA bundle path, got {raw!r}")
    text = (raw or "").strip()
    if text.lower() in _FALSE:
        return False
    if text and text.lower() not in _TRUE:
        return _check_file("verify", text, directory_ok=True)
    bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    return bundle or True
