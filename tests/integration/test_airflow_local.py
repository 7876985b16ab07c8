"""The local Airflow harness against a real scheduler: mapped tasks, an asset-triggered DAG,
clear and re-run, readable failures, and every process gone afterwards; on SQLite with the
LocalExecutor and on PostgreSQL with the CeleryExecutor."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.airflow_local import (
    CELERY_EXECUTOR,
    AirflowError,
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
PARSE_TIMEOUT = 60.0

# DAG files written at run time into the instance's own copy of the DAG folder.
BROKEN_DAG = "import pendulum\nfrom airflow.sdk import dag\nimport newspipe_no_such_module\n"
FAILING_DAG = """
import pendulum
from airflow.sdk import dag, task

@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def smoke_failing():
    @task(retries=0)
    def explode():
        raise ValueError("smoke task failed on purpose")

    @task
    def after(value):
        return value

    after(explode())

smoke_failing()
"""

# An event-driven DAG (issue 10's shape): the triggerer wakes it on a Redis pub/sub message.
WATCHED_DAG = """
import pendulum
from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
from airflow.sdk import Asset, AssetWatcher, dag, task

TRIGGER = MessageQueueTrigger(scheme="redis+pubsub", channels=["{channel}"], poll_interval=0.2)
WAKEUP = Asset("{channel}", watchers=[AssetWatcher(name="{channel}_watcher", trigger=TRIGGER)])

@dag(schedule=[WAKEUP], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def smoke_watched():
    @task
    def payloads(triggering_asset_events=None):
        return [e.extra["payload"]["data"] for es in triggering_asset_events.values() for e in es]

    payloads()

smoke_watched()
"""


def assert_nothing_left(airflow: LocalAirflow, home: Path) -> None:
    assert instance_processes(airflow.marker) == []
    leftovers = subprocess.run(["pgrep", "-f", str(home)], capture_output=True, text=True)
    assert leftovers.stdout == ""


def drive_smoke_run(airflow: LocalAirflow) -> str:
    """Trigger the producer, check its mapped tasks and the consumer's asset run; its run_id."""
    airflow.unpause(PRODUCER)
    airflow.unpause(CONSUMER)
    run_id = airflow.trigger(PRODUCER)
    state = airflow.wait_for_run(PRODUCER, run_id, RUN_TIMEOUT)
    assert state == "success", airflow.failure_report(PRODUCER, run_id)

    instances = airflow.task_instances(PRODUCER, run_id)
    assert {ti["state"] for ti in instances} == {"success"}
    assert Counter(ti["task_id"] for ti in instances) == {
        "plan": 1,
        MAPPED_TASK: SHARD_COUNT,
        "reduce": 1,
    }
    mapped = sorted(ti["map_index"] for ti in instances if ti["task_id"] == MAPPED_TASK)
    assert mapped == list(range(SHARD_COUNT))

    assert airflow.xcom(PRODUCER, run_id, "reduce") == sum(i * i for i in range(SHARD_COUNT))

    consumer_runs = airflow.wait_for_runs(CONSUMER, 1, RUN_TIMEOUT)
    assert [(r["run_type"], r["state"]) for r in consumer_runs] == [("asset_triggered", "success")]
    return run_id


@pytest.fixture(scope="module")
def sqlite_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    """One SQLite + LocalExecutor Airflow for this module, on a copy of the smoke DAGs."""
    root = tmp_path_factory.mktemp("local-airflow")
    dags = root / "dags"
    shutil.copytree(SMOKE_DAGS, dags, ignore=shutil.ignore_patterns("__pycache__"))
    setup = AirflowSetup(
        home=root / "home",
        dags_folder=dags,
        pools={"duckdb_writer": 1},
        connections={"redis_default": f"redis://{REDIS[0]}:{REDIS[1]}/{CELERY_REDIS_DB}"},
        expect_dags=(PRODUCER, CONSUMER),
    )
    airflow = LocalAirflow(setup)
    with airflow:
        yield airflow
    assert_nothing_left(airflow, setup.home)


def test_sqlite_runs_mapped_dag_asset_consumer_and_clear(sqlite_airflow: LocalAirflow) -> None:
    pool = sqlite_airflow.request("GET", "/api/v2/pools/duckdb_writer")
    assert pool["slots"] == 1
    run_id = drive_smoke_run(sqlite_airflow)

    sqlite_airflow.clear(PRODUCER, run_id, task_ids=[MAPPED_TASK])
    assert sqlite_airflow.wait_for_run(PRODUCER, run_id, RUN_TIMEOUT) == "success"
    tries = {
        (ti["task_id"], ti["map_index"]): ti["try_number"]
        for ti in sqlite_airflow.task_instances(PRODUCER, run_id)
    }
    assert {tries[(MAPPED_TASK, i)] for i in range(SHARD_COUNT)} == {2}
    assert tries[("plan", -1)] == 1


def test_import_error_is_raised_with_its_text(sqlite_airflow: LocalAirflow) -> None:
    broken = sqlite_airflow.setup.dags_folder / "smoke_broken.py"
    broken.write_text(BROKEN_DAG)
    try:
        with pytest.raises(AirflowError, match="newspipe_no_such_module"):
            sqlite_airflow.wait_for_dags(["smoke_broken"], PARSE_TIMEOUT)
    finally:
        broken.unlink()


def test_failed_run_reports_failed_task_and_log(sqlite_airflow: LocalAirflow) -> None:
    (sqlite_airflow.setup.dags_folder / "smoke_failing.py").write_text(FAILING_DAG)
    sqlite_airflow.wait_for_dags(["smoke_failing"], PARSE_TIMEOUT)
    sqlite_airflow.unpause("smoke_failing")
    run_id = sqlite_airflow.trigger("smoke_failing")

    assert sqlite_airflow.wait_for_run("smoke_failing", run_id, RUN_TIMEOUT) == "failed"
    report = sqlite_airflow.failure_report("smoke_failing", run_id)
    assert "explode: failed" in report
    assert "smoke task failed on purpose" in report
    assert "after: upstream_failed" in report


@pytest.mark.skipif(not service_reachable(*REDIS), reason="no Redis at 127.0.0.1:6379")
def test_triggerer_starts_watched_dag_on_redis_message(sqlite_airflow: LocalAirflow) -> None:
    import redis

    channel = f"newspipe_smoke_{uuid.uuid4().hex[:12]}"
    dags = sqlite_airflow.setup.dags_folder
    (dags / "smoke_watched.py").write_text(WATCHED_DAG.replace("{channel}", channel))
    sqlite_airflow.wait_for_dags(["smoke_watched"], PARSE_TIMEOUT)
    sqlite_airflow.unpause("smoke_watched")

    client = redis.Redis(host=REDIS[0], port=REDIS[1])
    deadline = time.monotonic() + PARSE_TIMEOUT
    # publish() counts receivers: it says when the triggerer has subscribed.
    while client.publish(channel, "wake up") == 0:
        assert time.monotonic() < deadline, "the triggerer never subscribed to " + channel
        time.sleep(0.5)
    client.close()

    runs = sqlite_airflow.wait_for_runs("smoke_watched", 1, RUN_TIMEOUT)
    assert [(r["run_type"], r["state"]) for r in runs] == [("asset_triggered", "success")]
    assert sqlite_airflow.xcom("smoke_watched", runs[0]["run_id"], "payloads") == ["wake up"]


@pytest.mark.skipif(not service_reachable(*POSTGRES), reason="no PostgreSQL at 127.0.0.1:5432")
@pytest.mark.skipif(not service_reachable(*REDIS), reason="no Redis at 127.0.0.1:6379")
def test_postgres_celery_runs_mapped_dag_and_asset_consumer(tmp_path: Path) -> None:
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
