"""Iceberg operator runs: the fake API over HTTP, the embedded catalog over moto's S3 server.

Not part of the compat suite (tests/compat's Makefile list): pyiceberg's SQL catalog needs SQLAlchemy 2,
which Airflow 2.11 and 3.0 do not allow.
"""

from tests.integration.conftest import airflow_db  # noqa: F401 (fixture)
from tests.lake.iceberg.conftest import catalog, iceberg_conn, s3_endpoint, warehouse  # noqa: F401 (fixtures)
