"""Every example DAG imports cleanly and has the tasks the docs describe."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_conversations.version_compat import AIRFLOW_V_3_2_PLUS

if AIRFLOW_V_3_2_PLUS:
    from airflow.dag_processing.dagbag import DagBag
else:  # the file-parsing DagBag moved in 3.2
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

EXAMPLES = Path(__file__).resolve().parents[1] / "example_dags"


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(EXAMPLES))


def test_no_import_errors(dagbag: DagBag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len([p for p in EXAMPLES.glob("example_*.py")])


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
    (outlet,) = producer.task_dict["export_conversations"].outlets
    assert outlet.uri == "s3://conversations-lake/raw/conversations"
    # the timetable's condition is asset_condition on Airflow 3, dataset_condition on 2.11
    condition = getattr(consumer.timetable, "asset_condition", None) or consumer.timetable.dataset_condition
    assert "s3://conversations-lake/raw/conversations" in repr(condition)
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
