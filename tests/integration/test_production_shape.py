"""The production shape without Docker: Airflow on the local PostgreSQL (a database this test
creates and drops) with the CeleryExecutor and a Celery worker on the local Redis, the real
api-server, scheduler, dag-processor and triggerer. news_ingest runs twice, triggered through
the REST API; news_quality follows each run through the asset; everything succeeds, and
every process the test started is gone afterwards.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from pipeline import store
from pipeline.airflow_local import (
    CELERY_EXECUTOR,
    AirflowSetup,
    LocalAirflow,
    instance_processes,
    service_reachable,
    throwaway_postgres_database,
)
from pipeline.demo import WRITER_POOL, pipeline_env, trigger_and_wait
from tests.conftest import PROJECT

POSTGRES = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)
# A Redis database of its own for the Celery broker, away from the pipeline's (0) and the
# harness test's (11); the harness also gives every instance its own queue.
CELERY_REDIS_DB = 12
INGEST, QUALITY = "news_ingest", "news_quality"
COMPONENTS = ("metadatabase", "scheduler", "dag_processor", "triggerer")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(not service_reachable(*POSTGRES), reason="no PostgreSQL at 127.0.0.1:5432"),
    pytest.mark.skipif(not service_reachable(*REDIS), reason="no Redis at 127.0.0.1:6379"),
]


def _database_exists(name: str) -> bool:
    import psycopg2

    connection = psycopg2.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname="postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None
    finally:
        connection.close()


def _triggering_runs(airflow: LocalAirflow, run_id: str) -> set[str]:
    """The producer runs whose asset events started this news_quality run."""
    path = f"/api/v2/dags/{QUALITY}/dagRuns/{quote(run_id, safe='')}/upstreamAssetEvents"
    return {event["source_run_id"] for event in airflow.request("GET", path)["asset_events"]}


def test_two_ingest_runs_on_postgres_and_celery_each_followed_by_quality(
    tmp_path: Path, fixture_web, fixture_server, labels
):
    from pipeline.fixtures import write_feeds_config

    config = write_feeds_config(fixture_web, fixture_server.base_url, tmp_path / "feeds.yaml", schedule=None)
    db = tmp_path / "data" / "news.duckdb"
    database = f"newspipe_production_{uuid.uuid4().hex[:12]}"
    with throwaway_postgres_database(database, host=POSTGRES[0], port=POSTGRES[1]) as url:
        setup = AirflowSetup(
            home=tmp_path / "airflow",
            dags_folder=PROJECT / "dags",
            database_url=url,
            executor=CELERY_EXECUTOR,
            broker_url=f"redis://{REDIS[0]}:{REDIS[1]}/{CELERY_REDIS_DB}",
            env=pipeline_env(config=config, db=db, reports=tmp_path / "reports"),
            pools={WRITER_POOL: 1},
            expect_dags=(INGEST, QUALITY),
        )
        airflow = LocalAirflow(setup)
        with airflow:
            health = airflow.request("GET", "/api/v2/monitor/health")
            assert {c: health[c]["status"] for c in COMPONENTS} == dict.fromkeys(COMPONENTS, "healthy")
            ingest_runs = [trigger_and_wait(airflow, INGEST, follower=QUALITY) for _ in range(2)]

            quality_runs = airflow.wait_for_runs(QUALITY, 2, 600)
            assert [(r["run_type"], r["state"]) for r in quality_runs] == [("asset_triggered", "success")] * 2
            followed = [_triggering_runs(airflow, r["run_id"]) for r in quality_runs]
            assert followed == [{ingest_runs[0]}, {ingest_runs[1]}]

            for run_id in ingest_runs:
                instances = airflow.task_instances(INGEST, run_id)
                assert {ti["state"] for ti in instances} == {"success"}
                tasks = Counter(ti["task_id"] for ti in instances)
                assert tasks["plan_shards"] == tasks["load"] == 1 and tasks["ingest_shard"] >= 2
                # Run by the Celery worker: tasks went through the instance's own queue.
                assert {ti["queue"] for ti in instances} == {airflow.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]}
        assert instance_processes(airflow.marker) == []
    assert not _database_exists(database)

    con = store.reader(db)
    try:
        loaded = dict(con.execute("SELECT run_id, articles_loaded FROM runs").fetchall())
        articles = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
    finally:
        con.close()
    assert loaded == {ingest_runs[0]: len(labels.articles), ingest_runs[1]: 0}
    assert articles == len(labels.articles)
