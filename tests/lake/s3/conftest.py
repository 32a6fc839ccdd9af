"""moto's S3 server and a fresh bucket per test, shared with the integration tests."""

from tests.integration.conftest import bucket, s3_client, s3_endpoint  # noqa: F401
