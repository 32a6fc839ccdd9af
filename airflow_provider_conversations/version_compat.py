"""Airflow names that moved between 2.11 and 3.x, imported from one place.

Every module of the provider imports Airflow's base classes, configuration, exceptions and secret
masking from here, never from ``airflow.sdk`` or ``airflow.models`` directly: the task SDK of 3.0 has
no ``BaseHook``, ``conf`` and the SDK exceptions arrive in 3.2, and Airflow 2.11 has no ``airflow.sdk``
at all. Most names come through ``airflow.providers.common.compat`` (the official providers' shim,
which tries the newest path first); the rest are chosen here by version, in the manner of the official
providers' ``version_compat.py``.

DAG files that must parse on every supported Airflow can import :class:`CronDataIntervalTimetable`
from here too (a cron schedule *with* a data interval; Airflow 3 gives plain cron strings none), and
``Asset`` (``airflow.sdk.Asset`` on 3.x, ``airflow.datasets.Dataset`` on 2.11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING


def get_base_airflow_version_tuple() -> tuple[int, int, int]:
    """Return the installed Airflow's ``(major, minor, micro)``, without pre-release or local parts."""
    from airflow import __version__
    from packaging.version import Version

    version = Version(__version__)
    return version.major, version.minor, version.micro


AIRFLOW_V_3_0_PLUS: bool = get_base_airflow_version_tuple() >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = get_base_airflow_version_tuple() >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = get_base_airflow_version_tuple() >= (3, 2, 0)

from airflow.providers.common.compat.connection import (  # noqa: E402
    get_async_connection,
    get_async_extra_dejson,
)
from airflow.providers.common.compat.sdk import (  # noqa: E402
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    Asset,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    Context,
    PokeReturnValue,
    conf,
    mask_secret,
)

if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import CronDataIntervalTimetable
else:  # the scheduler's own class; the task SDK gained its copy in 3.2
    from airflow.timetables.interval import CronDataIntervalTimetable

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
    "Context",
    "CronDataIntervalTimetable",
    "PokeReturnValue",
    "conf",
    "get_async_connection",
    "get_async_extra_dejson",
    "mask_secret",
]
