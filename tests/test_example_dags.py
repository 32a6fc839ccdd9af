"""Every example DAG imports cleanly, has the tasks the docs describe, and the examples compose.

Composing: every table (bucket and prefix) the examples write is written with one window size, one
format and compression, and one filter set, so running them side by side is never refused and never
mixes two shapes of data in one table (``tests/integration/test_example_dags_compose.py`` runs them).
"""

from __future__ import annotations

import inspect
import json
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator
from airflow_provider_conversations.operators.conversations_to_s3 import ConversationsToS3Operator
from airflow_provider_conversations.version_compat import AIRFLOW_V_3_2_PLUS

if AIRFLOW_V_3_2_PLUS:
    from airflow.dag_processing.dagbag import DagBag
else:  # the file-parsing DagBag moved in 3.2
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

EXAMPLES = Path(__file__).resolve().parents[1] / "example_dags"


WRITERS = (ConversationsToS3Operator, ConversationsChangesToS3Operator)
#: What a Variable lookup renders to when the Variable is not set: its default.
UNSET_VARIABLES = SimpleNamespace(value=SimpleNamespace(get=lambda name, default=None: default))


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(EXAMPLES))


def writer_arguments(task: Any) -> dict[str, Any] | None:
    """The table arguments of a task that writes a table (mapped or not), defaults filled in; else None."""
    cls = getattr(task, "operator_class", type(task))
    if not (isinstance(cls, type) and issubclass(cls, WRITERS)):
        return None
    names = ("s3_bucket", "s3_prefix", "window_size", "file_format", "compression", "filters")
    if not hasattr(task, "partial_kwargs"):
        return {name: getattr(task, name) for name in names}
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):  # a subclass's default wins
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if param.default is not param.empty:
                defaults[name] = param.default
    return {name: task.partial_kwargs.get(name, defaults.get(name)) for name in names}


def rendered(value: str) -> str:
    """A templated bucket or prefix as it renders with no Variables set."""
    return jinja2.Template(value).render(var=UNSET_VARIABLES)


def tables(dagbag: DagBag) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """``s3://bucket/prefix`` -> the (task, arguments) of every example task writing it."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            args = writer_arguments(task)
            if args is not None:
                out[f"s3://{rendered(args['s3_bucket'])}/{rendered(args['s3_prefix'])}"].append(
                    (f"{dag.dag_id}.{task.task_id}", args)
                )
    return out


def test_every_table_has_one_window_size_format_and_filter_set(dagbag: DagBag):
    found = tables(dagbag)
    # daily, backfill, changes, reconcile, producer, the conversations tasks of the transcripts examples; and
    # the partitioned export where Airflow has partitions
    assert sum(len(writers) for writers in found.values()) == 7 + AIRFLOW_V_3_2_PLUS
    for table, writers in found.items():
        shapes = {
            task: (args["window_size"], args["file_format"], args["compression"], json.dumps(args["filters"] or {}))
            for task, args in writers
        }
        assert len(set(shapes.values())) == 1, f"{table} is written in more than one shape: {shapes}"


def test_the_daily_export_change_sync_and_reconcile_share_one_daily_jsonl_table(dagbag: DagBag):
    found = tables(dagbag)
    writers = {task for task, _args in found["s3://conversations-lake/raw/conversations"]}
    assert writers == {
        "example_conversations_daily.export_conversations",
        "example_conversations_backfill.export_day",
        "example_conversations_changes.sync_changes",
        "example_conversations_reconcile.reconcile_last_days",
        "example_conversations_transcripts.export_conversations",
        "example_conversations_transcript_changes.sync_conversations",
    }
    ((_task, args),) = found["s3://conversations-lake/raw/conversations"][:1]
    assert (args["window_size"].total_seconds(), args["file_format"]) == (86_400, "jsonl")


def test_no_import_errors(dagbag: DagBag):
    assert dagbag.import_errors == {}
    partitioned = 0 if AIRFLOW_V_3_2_PLUS else 1  # example_conversations_partitioned defines none before 3.2
    assert len(dagbag.dags) == len([p for p in EXAMPLES.glob("example_*.py")]) - partitioned


def test_daily_example_exports_its_data_interval(dagbag: DagBag):
    dag = dagbag.dags["example_conversations_daily"]
    assert dag.task_dict["wait_for_conversations"].downstream_task_ids == {"export_conversations"}
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"


def test_backfill_example_maps_one_task_per_day(dagbag: DagBag):
    dag = dagbag.dags["example_conversations_backfill"]
    assert {"day_ranges", "export_day"} <= set(dag.task_dict)


def test_asset_consumer_is_scheduled_on_the_producers_outlet(dagbag: DagBag):
    producer = dagbag.dags["example_conversations_asset_producer"]
    consumer = dagbag.dags["example_conversations_asset_consumer"]
    export = producer.task_dict["export_conversations"]
    (outlet,) = export.outlets
    assert outlet.uri == f"s3://{export.s3_bucket}/{export.s3_prefix}"  # the table the task writes
    # the timetable's condition is asset_condition on Airflow 3, dataset_condition on 2.11
    condition = getattr(consumer.timetable, "asset_condition", None) or consumer.timetable.dataset_condition
    assert f"'{outlet.uri}'" in repr(condition)
    assert "committed_parts" in consumer.task_dict


def test_change_sync_example_runs_one_at_a_time_over_hourly_intervals(dagbag: DagBag):
    from airflow_provider_conversations.operators.conversations_changes_to_s3 import ConversationsChangesToS3Operator

    dag = dagbag.dags["example_conversations_changes"]
    assert dag.max_active_runs == 1 and type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    task = dag.task_dict["sync_changes"]
    assert task.task_type == ConversationsChangesToS3Operator.__name__
    assert (task.updated_at_gte, task.updated_at_lt) == (None, None)  # the data interval


def test_reconcile_example_rewrites_whole_days_ending_at_the_run(dagbag: DagBag):
    dag = dagbag.dags["example_conversations_reconcile"]
    task = dag.task_dict["reconcile_last_days"]
    assert "params.days" in task.created_at_gte and "data_interval_end" in task.created_at_lt
    assert dag.max_active_runs == 1 and dag.params["days"] == 30


def test_partitioned_example_keys_each_run_by_the_utc_day_it_exports(dagbag: DagBag):
    if not AIRFLOW_V_3_2_PLUS:  # asset partitions arrived in Airflow 3.2: the example defines no DAG before
        assert "example_conversations_partitioned" not in dagbag.dags
        return
    dag = dagbag.dags["example_conversations_partitioned"]
    assert type(dag.timetable).__name__ == "CronPartitionTimetable"
    export = dag.task_dict["export_partition"]
    (outlet,) = export.outlets
    assert outlet.uri == f"s3://{export.s3_bucket}/{export.s3_prefix}"
    assert (export.created_at_gte, export.created_at_lt) == (None, None)  # the partition's day
