from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_conversations.api.connection import base_url_from, settings_from_connection
from airflow_provider_conversations.exceptions import ConversationsConnectionError


def conn(host: str | None = "https://api.salesloft.com", password: str | None = "tok", **kw: Any) -> SimpleNamespace:
    extra = kw.pop("extra", {})
    return SimpleNamespace(
        conn_id="c",
        conn_type=kw.get("conn_type", "conversations"),
        host=host,
        password=password,
        schema=kw.get("schema"),
        port=kw.get("port"),
        extra_dejson=extra,
    )


@pytest.mark.parametrize(
    ("host", "schema", "port", "expected"),
    [
        (None, None, None, "https://api.salesloft.com"),
        ("", None, None, "https://api.salesloft.com"),
        ("api.salesloft.com", None, None, "https://api.salesloft.com"),
        ("https://api.salesloft.com/", None, None, "https://api.salesloft.com"),
        ("http://127.0.0.1:8089", None, None, "http://127.0.0.1:8089"),
        ("http://localhost", None, 8089, "http://localhost:8089"),
        ("127.0.0.1", "http", 9000, "http://127.0.0.1:9000"),
        ("https://proxy.example.com/salesloft/", None, 0, "https://proxy.example.com/salesloft"),
        ("http://[::1]:8000", None, None, "http://[::1]:8000"),
    ],
)
def test_base_url_forms(host, schema, port, expected):
    assert base_url_from(host, schema=schema, port=port) == expected


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("http://api.salesloft.com", "refusing to send the API token over plain http to api.salesloft.com"),
        ("http://10.0.0.5:8080", "plain http"),
        ("ftp://api.salesloft.com", "is not a valid API base URL"),
        ("https://", "is not a valid API base URL"),
        ("https://user:pw@api.salesloft.com", "must not hold a query, fragment or credentials"),
        ("https://api.salesloft.com:99999", "is not a valid URL"),
        ("https://bad host", "does not hold a valid host name"),
    ],
)
def test_bad_hosts_are_refused_with_a_reason(host, message):
    with pytest.raises(ConversationsConnectionError) as exc:
        base_url_from(host)
    assert message in str(exc.value)


def test_endpoint_is_not_doubled_when_host_ends_in_v2():
    assert settings_from_connection(conn("https://api.salesloft.com/v2")).endpoint == (
        "https://api.salesloft.com/v2/conversations"
    )


def test_missing_token_is_a_clear_error():
    with pytest.raises(ConversationsConnectionError, match="no API token; put the API key"):
        settings_from_connection(conn(password=""))


def test_extras_are_read_in_plain_and_prefixed_form_and_coerced():
    settings = settings_from_connection(
        conn(extra={"timeout": "12.5", "extra__conversations__max_retries": 2, "budget_share": 0.5, "backoff_base": ""})
    )
    assert (settings.timeout, settings.max_retries, settings.budget_share, settings.backoff_base) == (12.5, 2, 0.5, 1.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"timeout": 0}, "extra timeout: 0.0 is out of range; allowed: > 0"),
        ({"timeout": "soon"}, "extra timeout: expected a number, got 'soon'"),
        ({"max_retries": 2.5}, "extra max_retries: expected an integer, got 2.5"),
        ({"max_retries": -1}, "extra max_retries: -1 is out of range"),
        ({"budget_share": 1.5}, "extra budget_share: 1.5 is out of range; allowed: > 0 and <= 1"),
        ({"max_retries": True}, "extra max_retries: expected an integer"),
    ],
)
def test_bad_extras_name_the_field(extra, message):
    with pytest.raises(ConversationsConnectionError) as exc:
        settings_from_connection(conn(extra=extra))
    assert message in str(exc.value)


def test_token_is_masked_first_and_never_in_repr():
    masked: list[str] = []
    settings = settings_from_connection(conn(password="tok-SECRET"), mask=masked.append)
    assert masked == ["tok-SECRET"]
    assert "tok-SECRET" not in repr(settings)
    assert settings.headers["Authorization"] == "Bearer tok-SECRET"


@pytest.mark.parametrize("conn_type", ["http", "aws", "https", "", None, "Conversations"])
def test_a_connection_of_another_type_is_refused_naming_both_types(conn_type):
    masked: list[str] = []
    with pytest.raises(ConversationsConnectionError) as exc:
        settings_from_connection(conn(password="aws-SECRET-key", conn_type=conn_type), mask=masked.append)
    assert f"is of type {conn_type!r}; expected a connection of type 'conversations'" in str(exc.value)
    assert "aws-SECRET-key" not in str(exc.value) and masked == []  # refused before the password is read


def test_a_wrong_type_is_a_failure_without_retries():
    from airflow_provider_conversations.version_compat import AirflowFailException

    with pytest.raises(AirflowFailException):
        settings_from_connection(conn(conn_type="http"))


PASSWORD = "pw-NEEDLE-71c"


@pytest.mark.parametrize(
    ("host", "schema", "port"),
    [
        (f"https://user:{PASSWORD}@bad host", None, None),
        (f"https://user:{PASSWORD}@api.salesloft.com", None, None),
        (f"https://user:{PASSWORD}@api.salesloft.com:99999", None, None),
        (f"user:{PASSWORD}@api.salesloft.com", None, None),
        (f"user:{PASSWORD}@[::1", None, None),
        (f"ftp://user:{PASSWORD}@x", None, None),
        (f"http://user:{PASSWORD}@api.salesloft.com", None, None),
        (f"https:/user:{PASSWORD}@host", None, None),
        (f"https://api.salesloft.com/?token={PASSWORD}", None, None),
        (f"https://api.salesloft.com/#{PASSWORD}", None, None),
        (f"user:{PASSWORD}@api.salesloft.com", "ftp", 443),
        (f"https://user:{PASSWORD}@", None, None),
    ],
)
def test_no_error_path_of_a_bad_host_quotes_its_password(host, schema, port):
    with pytest.raises(ConversationsConnectionError) as exc:
        settings_from_connection(conn(host=host, schema=schema, port=port))
    text = str(exc.value) + repr(exc.value) + repr(exc.value.__cause__) + repr(exc.value.__context__)
    assert PASSWORD not in text and "NEEDLE" not in text
    assert str(exc.value).startswith("host:")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.salesloft.com/v2/transcriptions/1/sentences",
            "https://api.salesloft.com/v2/transcriptions/1/sentences",
        ),
        ("/v2/conversations/1/recording", "https://api.salesloft.com/v2/conversations/1/recording"),
    ],
)
def test_own_url_accepts_urls_on_the_base_urls_host(url, expected):
    assert settings_from_connection(conn()).own_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/v2/conversations",
        "http://api.salesloft.com/v2/conversations",  # another scheme
        "https://api.salesloft.com:8443/v2/conversations",  # another port
        "https://api.salesloft.com.evil.example.com/x",
        "https://user:pw@api.salesloft.com/x",
        "//evil.example.com/x",
        "api.salesloft.com/x",
    ],
)
def test_own_url_refuses_any_other_host_without_quoting_the_query(url):
    with pytest.raises(ConversationsConnectionError, match="refusing to send the API token to") as exc:
        settings_from_connection(conn()).own_url(url + "?secret=q-NEEDLE")
    assert "NEEDLE" not in str(exc.value) and "pw" not in str(exc.value)
