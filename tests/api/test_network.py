"""network: one proxy/TLS configuration, resolved once, applied alike to requests and aiohttp."""

from __future__ import annotations

import base64
import datetime
import ssl
from pathlib import Path

import pytest
import requests

from airflow_provider_conversations.api.network import NetworkSettings, environment_proxy, network_from
from airflow_provider_conversations.exceptions import ConversationsConnectionError

URL = "https://api.salesloft.com/v2/conversations"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"HTTPS_PROXY": "http://proxy:3128"}, "http://proxy:3128"),
        ({"https_proxy": "http://lower:3128", "HTTP_PROXY": "http://plain:3128"}, "http://lower:3128"),
        ({"HTTP_PROXY": "http://plain:3128"}, None),  # an https URL takes HTTPS_PROXY only
        ({"ALL_PROXY": "http://all:3128"}, "http://all:3128"),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "salesloft.com"}, None),
        ({"HTTPS_PROXY": "http://proxy:3128", "no_proxy": "example.com, api.salesloft.com"}, None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "*"}, None),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "example.com"}, "http://proxy:3128"),
    ],
)
def test_the_environment_proxy_honours_no_proxy(environ, expected):
    assert environment_proxy(URL, environ) == expected
    assert network_from({}, URL, environ).proxy == expected


def test_the_connections_proxy_wins_over_the_environment_and_no_proxy():
    environ = {"HTTPS_PROXY": "http://env:3128", "NO_PROXY": "api.salesloft.com"}
    assert network_from({"proxy": " http://conn:8080 "}, URL, environ).proxy == "http://conn:8080"


@pytest.mark.parametrize(
    "value", ["socks5://u:pw-NEEDLE@proxy:1080", "proxy:3128", "http://u:pw-NEEDLE@:3128", "http://[::1"]
)
def test_a_bad_proxy_is_refused_without_quoting_it(value):
    with pytest.raises(ConversationsConnectionError, match="extra proxy: not a usable proxy URL") as exc:
        network_from({"proxy": value}, URL, {})
    assert "NEEDLE" not in str(exc.value)


def test_a_bad_environment_proxy_names_the_variable():
    with pytest.raises(ConversationsConnectionError, match="HTTPS_PROXY environment variable"):
        network_from({}, URL, {"HTTPS_PROXY": "socks5://proxy:1080"})


def test_verify_forms(tmp_path: Path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert network_from({}, URL, {}).verify is True
    assert network_from({"verify": "true"}, URL, {}).verify is True
    assert network_from({"verify": False}, URL, {}).verify is False
    assert network_from({"verify": "false"}, URL, {"REQUESTS_CA_BUNDLE": str(bundle)}).verify is False
    assert network_from({"verify": str(bundle)}, URL, {}).verify == str(bundle)
    assert network_from({"verify": str(tmp_path)}, URL, {}).verify == str(tmp_path)  # a CA directory
    assert network_from({}, URL, {"REQUESTS_CA_BUNDLE": str(bundle)}).verify == str(bundle)
    assert network_from({}, URL, {"CURL_CA_BUNDLE": str(bundle)}).verify == str(bundle)


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ({"verify": "/no/such/ca.pem"}, "extra verify: no such file or directory '/no/such/ca.pem'"),
        ({"verify": 3}, "extra verify: expected true, false or a CA bundle path, got 3"),
        ({"cert": "/no/such/cert.pem"}, "extra cert: no such file '/no/such/cert.pem'"),
        ({"cert_key": "/no/such/key.pem"}, "extra cert_key: set cert"),
        ({"cert": ["a"]}, "extra cert: expected a file path, got list"),
        ({"proxy": 8080}, "extra proxy: expected a URL string"),
    ],
)
def test_bad_network_extras_name_the_field(extras, message):
    with pytest.raises(ConversationsConnectionError) as exc:
        network_from(extras, URL, {})
    assert message in str(exc.value)


def test_requests_session_gets_proxy_tls_and_certificate_and_stops_reading_the_environment(tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    settings = NetworkSettings(proxy="http://u:p@proxy:3128", verify=False, cert=cert, cert_key=key)
    session = requests.Session()
    settings.configure(session)
    assert session.trust_env is False
    assert session.proxies == {"http": "http://u:p@proxy:3128", "https": "http://u:p@proxy:3128"}
    assert session.verify is False and session.cert == (cert, key)


def test_aiohttp_kwargs_carry_the_proxy_credentials_and_a_tls_context(tmp_path: Path):
    cert, key = _self_signed(tmp_path)
    settings = NetworkSettings(proxy="http://us%40er:p%3Aw@proxy:3128", cert=cert, cert_key=key)
    basic = {"Proxy-Authorization": "Basic " + base64.b64encode(b"us@er:p:w").decode()}
    https = settings.aiohttp_kwargs(URL, {"Authorization": "Bearer t"})
    assert https["proxy"] == "http://proxy:3128"
    assert https["proxy_headers"] == basic and https["headers"] == {"Authorization": "Bearer t"}  # CONNECT
    plain = settings.aiohttp_kwargs("http://127.0.0.1:8000/v2/conversations", {"Authorization": "Bearer t"})
    assert "proxy_headers" not in plain and plain["headers"] == {"Authorization": "Bearer t", **basic}
    context = https["ssl"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED
    assert NetworkSettings(verify=False).aiohttp_kwargs(URL, {}) == {"headers": {}, "ssl": False}
    unverified = NetworkSettings(verify=False, cert=cert, cert_key=key).ssl_context()
    assert isinstance(unverified, ssl.SSLContext) and unverified.verify_mode == ssl.CERT_NONE


def test_the_proxy_password_is_known_for_masking_and_kept_out_of_repr():
    settings = NetworkSettings(proxy="http://u:s%21cret@proxy:3128")
    assert settings.proxy_password == "s!cret" and "cret" not in repr(settings)
    assert NetworkSettings(proxy="http://proxy:3128").proxy_password is None


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    """A client certificate and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "client.pem", tmp_path / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)
