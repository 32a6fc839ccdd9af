"""Check integer arguments the same way everywhere: the API's paging values, filters and task arguments."""

from __future__ import annotations

from typing import Any

from airflow_provider_conversations.exceptions import ConversationsFilterError


def check_int(value: Any, name: str, *, minimum: int, maximum: int | None = None, strings: bool = False) -> int:
    """Return ``value`` as an integer within ``[minimum, maximum]``, or raise an error naming ``name``.

    ``bool`` is refused (``True`` is not a count).

    :param value: the value to check.
    :param name: the argument's name, for the error message.
    :param minimum: smallest allowed value.
    :param maximum: largest allowed value (``None``: no upper bound).
    :param strings: also accept a string of digits (a rendered template, or a filter given as text).
    :raises ConversationsFilterError: naming the argument, the value and the allowed range.
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif strings and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    bounds = f"[{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
    if number is None:
        raise ConversationsFilterError(f"{name}: expected an integer {bounds}, got {value!r}")
    if number < minimum or (maximum is not None and number > maximum):
        raise ConversationsFilterError(f"{name}: {number} is out of range; allowed: {bounds}")
    return number


def check_positive(value: Any, name: str) -> int:
    """Return ``value`` if it is an integer >= 1 (a count or a size), or raise an error naming ``name``.

    :param value: the value to check.
    :param name: the argument's name, for the error message.
    :raises ConversationsFilterError: ``"<name>: expected an integer >= 1, got <value>"``.
    """
    try:
        return check_int(value, name, minimum=1)
    except ConversationsFilterError:
        raise ConversationsFilterError(f"{name}: expected an integer >= 1, got {value!r}") from None
