"""Airflow names that moved between 2.11 and 3.x, imported from one place.

Every module of the provider imports Airflow's base classes, configuration, exceptions and secret
masking from here, never from ``airflow.sdk`` or ``airflow.models`` directly: the task SDK of 3.0 has
no ``BaseHook``, ``conf`` and the SDK exceptions arrive in 3.2, and Airflow 2.11 has no ``airflow.sdk``
at all. Most names come through ``airflow.providers.common.compat.sdk`` (the official providers' shim,
which tries the newest path first); the rest are chosen here by version or by feature, in the manner of
the official providers' ``version_compat.py``.

DAG files that must parse on every supported Airflow can import :class:`CronDataIntervalTimetable`
from here too (a cron schedule *with* a data interval; Airflow 3 gives plain cron strings none), and
``Asset`` (``airflow.sdk.Asset`` on 3.x, ``airflow.datasets.Dataset`` on 2.11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """Return the installed Airflow's ``(major, minor, micro)``, without pre-release or local parts."""
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_0_PLUS: bool = get_base_airflow_version_tuple() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)

from airflow.providers.common.compat.sdk import (  # noqa: E402
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    Asset,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    Connection,
    Context,
    PokeReturnValue,
    conf,
)

# The rest is chosen here, not taken from common-compat: its releases for Python 3.10 stop at 1.20,
# which has neither mask_secret nor get_async_extra_dejson.
if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import CronDataIntervalTimetable
else:  # the scheduler's own class; the task SDK gained its copy in 3.2
    from airflow.timetables.interval import CronDataIntervalTimetable

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.sdk.log import mask_secret
else:
    from airflow.utils.log.secrets_masker import mask_secret


def _async_lookup_is_safe() -> bool:
    """Whether Airflow's own async connection look-up is safe on a shared event loop.

    Before ``Connection.aextra_dejson`` (Airflow 3.3.2), ``BaseHook.aget_connection`` masks the secrets
    with a synchronous call to the supervisor, which raises ``DeadlockImminentError`` when another async
    call is in flight; and 2.11 and 3.0 have no ``aget_connection`` at all.
    """
    return hasattr(Connection, "aextra_dejson") and hasattr(BaseHook, "aget_connection")


async def get_async_connection(conn_id: str) -> Connection:
    """Read a connection from a coroutine (a trigger) in the way the installed Airflow allows.

    Airflow 3 refuses a synchronous look-up on the triggerer's event loop: use Airflow's async look-up
    where it is safe, else the synchronous one in a worker thread (as common-compat >= 1.21 does).
    """
    from asgiref.sync import sync_to_async

    if _async_lookup_is_safe():
        return await BaseHook.aget_connection(conn_id=conn_id)
    return await sync_to_async(BaseHook.get_connection)(conn_id)


async def get_async_extra_dejson(conn: Connection) -> dict[str, Any]:
    """The connection's extra as a dict, without blocking the event loop (secrets masked by Airflow)."""
    if hasattr(conn, "aextra_dejson"):
        return await conn.aextra_dejson()
    from asgiref.sync import sync_to_async

    return await sync_to_async(lambda: conn.extra_dejson)()


__all__ = [
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "Connection",
    "Context",
    "CronDataIntervalTimetable",
    "PokeReturnValue",
    "conf",
    "get_async_connection",
    "get_async_extra_dejson",
    "mask_secret",
]
