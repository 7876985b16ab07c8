"""The local Airflow harness against a real scheduler: mapped tasks, an asset-triggered DAG,
and every process gone afterwards; on SQLite + LocalExecutor and on PostgreSQL + Celery."""

from __future__ import annotations

import subprocess
import uuid
from collections import Counter
from pathlib import Path

import pytest

from pipeline.airflow_local import (
    CELERY_EXECUTOR,
    AirflowSetup,
    LocalAirflow,
    instance_processes,
    service_reachable,
    throwaway_postgres_database,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SMOKE_DAGS = Path(__file__).parent / "airflow_smoke_dags"
PRODUCER, CONSUMER = "smoke_producer", "smoke_consumer"
MAPPED_TASK, SHARD_COUNT = "work", 4
POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
# A Redis database of its own for the Celery broker, away from the pipeline's (0).
CELERY_REDIS_DB = 11
RUN_TIMEOUT = 180.0


def drive_smoke_run(airflow: LocalAirflow) -> None:
    """Trigger the producer, then check its mapped tasks and the consumer's asset run."""
    airflow.unpause(PRODUCER)
    airflow.unpause(CONSUMER)
    run_id = airflow.trigger(PRODUCER)
    state = airflow.wait_for_run(PRODUCER, run_id, RUN_TIMEOUT)
    assert state == "success", airflow.failure_report(PRODUCER, run_id)

    instances = airflow.task_instances(PRODUCER, run_id)
    assert {ti["state"] for ti in instances} == {"success"}
    per_task = Counter(ti["task_id"] for ti in instances)
    assert per_task == {"plan": 1, MAPPED_TASK: SHARD_COUNT, "reduce": 1}
    mapped = sorted(ti["map_index"] for ti in instances if ti["task_id"] == MAPPED_TASK)
    assert mapped == list(range(SHARD_COUNT))

    consumer_runs = airflow.wait_for_runs(CONSUMER, 1, RUN_TIMEOUT)
    assert [(r["run_type"], r["state"]) for r in consumer_runs] == [("asset_triggered", "success")]


def assert_nothing_left(airflow: LocalAirflow, home: Path) -> None:
    assert instance_processes(airflow.marker) == []
    leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True)
    assert leftovers.stdout == ""


def test_sqlite_local_executor_runs_mapped_dag_and_asset_consumer(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    setup = AirflowSetup(
        home=home,
        dags_folder=SMOKE_DAGS,
        pools={"duckdb_writer": 1},
        expect_dags=(PRODUCER, CONSUMER),
    )
    airflow = LocalAirflow(setup)
    with airflow:
        pools = airflow.request("GET", "/api/v2/pools/duckdb_writer")
        assert pools["slots"] == 1
        drive_smoke_run(airflow)
    assert_nothing_left(airflow, home)


@pytest.mark.skipif(
    not service_reachable(*POSTGRES), reason="PostgreSQL is not reachable at 127.0.0.1:5432"
)
@pytest.mark.skipif(
    not service_reachable(*REDIS), reason="Redis is not reachable at 127.0.0.1:6379"
)
def test_postgres_celery_executor_runs_mapped_dag_and_asset_consumer(tmp_path: Path) -> None:
    home = tmp_path / "airflow"
    database = f"newspipe_harness_{uuid.uuid4().hex[:12]}"
    with throwaway_postgres_database(database, host=POSTGRES[0], port=POSTGRES[1]) as url:
        setup = AirflowSetup(
            home=home,
            dags_folder=SMOKE_DAGS,
            database_url=url,
            executor=CELERY_EXECUTOR,
            broker_url=f"redis://{REDIS[0]}:{REDIS[1]}/{CELERY_REDIS_DB}",
            expect_dags=(PRODUCER, CONSUMER),
        )
        airflow = LocalAirflow(setup)
        with airflow:
            drive_smoke_run(airflow)
        assert_nothing_left(airflow, home)
