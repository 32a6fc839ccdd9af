"""Apache Airflow provider for the Conversations API (``GET /v2/conversations``)."""

from __future__ import annotations

__version__ = "0.1.0"
