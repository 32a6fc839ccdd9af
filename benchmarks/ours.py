"""Our operator as one benchmark task: ``ConversationsToS3Operator(...).execute(context)``.

Run by ``benchmarks/tasks.py`` in a child process (see :func:`prepare`); the timed part is
``execute()`` alone, so the interpreter's start-up and Airflow's import are not counted.
Options (``Spec.options``): ``window_seconds`` (default 3600: hourly windows; the operator's default is a day),
``max_concurrency`` (default: the connection's ``max_concurrency``), ``compression`` (default none,
like the other clients), ``warmup`` (run an empty range first so the RSS baseline holds the clients),
``publish_inline`` (publish each window on the task's thread, for the single-thread profile).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from _common import Endpoints, Spec


def prepare(spec: Spec, endpoints: Endpoints) -> Callable[[], dict[str, Any]]:
    """Import and build the operator; return the task to time."""
    # execute() imports these lazily; import them now so the timed part excludes import time, as for
    # the other clients (whose imports are at module level).
    import airflow.providers.amazon.aws.hooks.s3  # noqa: F401

    import airflow_provider_conversations.hooks.conversations  # noqa: F401
    from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator

    opts = spec.options
    if opts.get("publish_inline"):
        import functools

        import airflow_provider_conversations.operators.base as module
        from airflow_provider_conversations.lake.export import export_range

        module.export_range = functools.partial(export_range, publish_concurrency=0)  # type: ignore[assignment]

    def make(task_id: str, prefix: str, gte: str, lt: str) -> ConversationsToS3Operator:
        return ConversationsToS3Operator(
            task_id=task_id,
            s3_bucket=endpoints.bucket,
            s3_prefix=prefix,
            created_at_gte=gte,
            created_at_lt=lt,
            window_size=timedelta(seconds=opts.get("window_seconds", 3600)),
            compression=opts.get("compression"),
            max_concurrency=opts.get("max_concurrency"),
        )

    op = make("export", spec.prefix, spec.gte, spec.lt)
    if opts.get("warmup"):
        make("warmup", spec.prefix + "-warmup", "2030-01-01T00:00:00Z", "2030-01-01T01:00:00Z").execute({})

    def run() -> dict[str, Any]:
        summary = op.execute({})
        return {
            "records": summary["records"],
            "client_requests": summary["requests"],
            "client_cost": summary["cost"],
            "windows": [(w["records"], w["pages"]) for w in summary["windows"]],
        }

    return run
