"""The ``conversations`` connection's form: extra fields and UI behaviour, in one table.

Imported by ``get_provider_info`` while Airflow itself is still loading: it must not import Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONN_TYPE = "conversations"
DEFAULT_BASE_URL = "https://api.salesloft.com"


@dataclass(frozen=True)
class ExtraField:
    """One extra field of the connection: its type, default, bounds and form text.

    :param kind: ``int`` or ``float`` (a number with bounds), or ``str`` (text; empty means unset).
    :param default: the value when the field is missing or empty (``None``: unset).
    :param minimum: the lowest number allowed (numbers only).
    """

    name: str
    label: str
    description: str
    kind: type
    default: float | int | None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False


#: The connection's extra fields, in form order. One table for parsing, the UI form and the docs.
EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "timeout",
        "Request timeout (s)",
        "Seconds to wait for the API to answer one request.",
        float,
        30.0,
        0,
        exclusive_minimum=True,
    ),
    ExtraField(
        "max_retries",
        "Max retries",
        "Retries of one request on 429, 5xx, timeouts and lost "
        "connections, with exponential backoff and jitter (0 disables).",
        int,
        5,
        0,
        50,
    ),
    ExtraField(
        "backoff_base", "Backoff base (s)", "First backoff in seconds; it doubles on each retry.", float, 1.0, 0
    ),
    ExtraField(
        "budget_per_minute",
        "Rate-limit budget per minute",
        "The team's cost budget per minute (600 on the real API).",
        int,
        600,
        1,
    ),
    ExtraField(
        "budget_share",
        "Budget share",
        "Share of the team's budget one task may spend per minute (0-1]; leave the rest to the team's "
        "other integrations.",
        float,
        1.0,
        0,
        1,
        exclusive_minimum=True,
    ),
    ExtraField(
        "rate_limit_window_seconds",
        "Rate-limit window (s)",
        "Length of the rate-limit window (60 on the real API).",
        float,
        60.0,
        0,
        exclusive_minimum=True,
    ),
    ExtraField(
        "max_concurrency",
        "Max concurrent requests",
        "API requests in flight at once within one task, so requests overlap the API's latency (the "
        "rate-limit budget is still respected). 1 sends one request at a time.",
        int,
        4,
        1,
        32,
    ),
    ExtraField(
        "proxy",
        "Proxy URL",
        "HTTP(S) proxy for every API request, e.g. http://proxy.example.com:3128 (user:password@ allowed). "
        "Empty: HTTPS_PROXY/HTTP_PROXY of the environment, with NO_PROXY.",
        str,
        None,
    ),
    ExtraField(
        "verify",
        "TLS verification",
        "Empty or true: check the API's certificate against the system's CAs (or REQUESTS_CA_BUNDLE); a "
        "path: a CA bundle file or directory; false: no check (logged as a warning on every task).",
        str,
        None,
    ),
    ExtraField(
        "cert",
        "Client certificate file",
        "Path of a PEM client certificate (mutual TLS), on every worker and triggerer; it may hold the key too.",
        str,
        None,
    ),
    ExtraField(
        "cert_key",
        "Client certificate key file",
        "Path of the client certificate's private key (PEM), when it is not in the certificate file.",
        str,
        None,
    ),
)

#: The default of every extra field, by name: the one place defaults are set.
EXTRA_DEFAULTS: dict[str, float | int | None] = {spec.name: spec.default for spec in EXTRA_FIELDS}


def conn_fields() -> dict[str, Any]:
    """The declarative ``conn-fields`` of the connection form (Airflow >= 3.2)."""
    result: dict[str, Any] = {}
    for spec in EXTRA_FIELDS:
        if spec.kind is str:
            result[spec.name] = {
                "label": spec.label,
                "description": spec.description,
                "schema": {"type": ["string", "null"]},
            }
            continue
        schema: dict[str, Any] = {
            "type": ["integer" if spec.kind is int else "number", "null"],
            "default": spec.default,
        }
        if spec.minimum is not None:
            schema["exclusiveMinimum" if spec.exclusive_minimum else "minimum"] = spec.minimum
        if spec.maximum is not None:
            schema["maximum"] = spec.maximum
        result[spec.name] = {"label": spec.label, "description": spec.description, "schema": schema}
    return result


UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "login"],
    "relabeling": {"host": "API base URL", "password": "API key / OAuth token"},
    "placeholders": {
        "host": DEFAULT_BASE_URL,
        "port": "optional; leave empty",
        "password": "API key or OAuth access token",
    },
}


def form_widgets() -> dict[str, Any]:
    """Return the wtforms widgets of :data:`EXTRA_FIELDS` (Airflow 3.0/3.1's connection form; imports wtforms)."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import NumberRange, Optional

    widgets: dict[str, Any] = {}
    for spec in EXTRA_FIELDS:
        field_class = IntegerField if spec.kind is int else StringField
        validators = [Optional(), NumberRange(min=spec.minimum, max=spec.maximum)] if spec.kind is int else []
        widgets[spec.name] = field_class(
            lazy_gettext(spec.label),
            validators=validators,
            widget=BS3TextFieldWidget(),
            description=spec.description,
        )
    return widgets
