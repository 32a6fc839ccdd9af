"""Provider metadata read by Airflow's ``ProvidersManager`` (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_conversations import __version__
from airflow_provider_conversations.api.form import CONN_TYPE, UI_FIELD_BEHAVIOUR, conn_fields

INTEGRATION = "Conversations"


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata: modules, connection type and its form."""
    return {
        "package-name": "airflow-provider-conversations",
        "name": "Conversations",
        "description": "Move call-recording conversations from the Conversations API (`GET /v2/conversations`, "
        "Salesloft v2) into an S3 data lake as JSONL or Parquet windows or an Apache Iceberg table, and keep it current.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://developers.salesloft.com/docs/api/conversations-find-all/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_conversations.hooks.conversations"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_conversations.operators.conversations_to_s3",
                    "airflow_provider_conversations.operators.conversations_changes_to_s3",
                    "airflow_provider_conversations.operators.transcripts_to_s3",
                    "airflow_provider_conversations.operators.transcript_changes_to_s3",
                    "airflow_provider_conversations.operators.conversations_to_iceberg",
                    "airflow_provider_conversations.operators.conversations_changes_to_iceberg",
                    "airflow_provider_conversations.operators.conversations_iceberg_maintenance",
                    "airflow_provider_conversations.operators.transcripts_to_iceberg",
                    "airflow_provider_conversations.operators.transcript_changes_to_iceberg",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_conversations.sensors.conversations"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["airflow_provider_conversations.triggers.conversations"],
            }
        ],
        "transfers": [
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_conversations.operators.conversations_to_s3",
            },
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_conversations.operators.conversations_changes_to_s3",
            },
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_conversations.operators.transcripts_to_s3",
            },
            {
                "source-integration-name": INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_conversations.operators.transcript_changes_to_s3",
            },
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_conversations.hooks.conversations.ConversationsHook",
                "hook-name": "Conversations",
                "conn-fields": conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": UI_FIELD_BEHAVIOUR["hidden_fields"],
                    "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
                    "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
                },
            }
        ],
    }
