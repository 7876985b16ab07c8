"""Re-running leaves the database as one run would: a retried load, a cleared and re-run
run, in-process through the runner and through a real Airflow's clear. Every table's
contents are compared by checksum.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import store
from pipeline.airflow_local import AirflowSetup, LocalAirflow
from pipeline.config import load_config
from pipeline.demo import WRITER_POOL, pipeline_env
from pipeline.load import RunInfo
from pipeline.runner import load_staged, run_once
from tests.conftest import PROJECT

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

INGEST, QUALITY = "news_ingest", "news_quality"
RUN_TIMEOUT = 300.0


def table_checksums(db: Path, *, skip_timestamps: bool = False) -> dict[str, tuple[int, str]]:
    """table -> (row count, order-independent digest of its rows) for every table of the
    published snapshot. `skip_timestamps` leaves out timestamp columns, for comparing two
    databases loaded from the same batches at different times (the loader stamps rows)."""
    con = store.reader(db)
    try:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' ORDER BY 1"
            ).fetchall()
        ]
        sums = {}
        for table in tables:
            columns = [
                name
                for name, kind in con.execute(
                    "SELECT column_name, data_type FROM duckdb_columns() "
                    "WHERE database_name = current_database() AND schema_name = 'main' "
                    "AND table_name = ? ORDER BY column_index",
                    [table],
                ).fetchall()
                if not (skip_timestamps and kind.startswith("TIMESTAMP"))
            ]
            row = ", ".join(f'"{c}"' for c in columns)
            count, digest = con.execute(
                f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
                f'FROM (SELECT md5(CAST(ROW({row}) AS VARCHAR)) AS h FROM "{table}")'
            ).fetchall()[0]
            sums[table] = (count, digest)
        return sums
    finally:
        con.close()


@pytest.fixture
def fixture_config(fixture_web, fixture_server, tmp_path) -> Path:
    from pipeline.fixtures import write_feeds_config

    return write_feeds_config(fixture_web, fixture_server.base_url, tmp_path / "feeds.yaml", schedule=None)


def test_retried_load_and_rerun_leave_every_table_identical(fixture_config, tmp_path, labels):
    config = load_config(fixture_config)
    db, staging = tmp_path / "news.duckdb", tmp_path / "staging"
    first = run_once(config, db_path=db, staging_dir=staging, run_id="run-1")
    once = table_checksums(db)
    assert once["articles"][0] == first.load.articles_loaded == len(labels.articles)

    # The load task retried after it succeeded (e.g. a worker lost before reporting success).
    retried = load_staged(
        db, first.shards, run=RunInfo("run-1", "manual", datetime.now(UTC)), dedup=config.dedup
    )
    assert retried.batches_loaded == 0 and retried.batches_skipped == len(first.shards)
    assert table_checksums(db) == once

    # The whole run cleared and run again: the shards reuse their batches, the load skips them.
    run_once(config, db_path=db, staging_dir=staging, run_id="run-1")
    assert table_checksums(db) == once

    # The checksum does see a change: a new run adds its `runs` row (and no articles).
    run_once(config, db_path=db, staging_dir=staging, run_id="run-2")
    after = table_checksums(db)
    assert after["runs"] != once["runs"]
    assert after["articles"] == once["articles"]


@pytest.fixture(scope="module")
def airflow_deployment(tmp_path_factory, fixture_web, fixture_server) -> Iterator[tuple[LocalAirflow, Path]]:
    """A SQLite Airflow with the project's DAGs; news_quality stays paused, so only
    news_ingest writes the database."""
    from pipeline.fixtures import write_feeds_config

    root = tmp_path_factory.mktemp("idempotency")
    config = write_feeds_config(fixture_web, fixture_server.base_url, root / "feeds.yaml", schedule=None)
    db = root / "news.duckdb"
    setup = AirflowSetup(
        home=root / "airflow",
        dags_folder=PROJECT / "dags",
        env=pipeline_env(config=config, db=db, reports=root / "reports"),
        pools={WRITER_POOL: 1},
        expect_dags=(INGEST, QUALITY),
    )
    with LocalAirflow(setup) as airflow:
        yield airflow, db


def _tries(airflow: LocalAirflow, run_id: str) -> dict[tuple[str, int], int]:
    return {
        (ti["task_id"], ti["map_index"]): ti["try_number"] for ti in airflow.task_instances(INGEST, run_id)
    }


def test_clearing_a_finished_run_through_airflow_changes_no_table(airflow_deployment, labels):
    airflow, db = airflow_deployment
    airflow.unpause(INGEST)
    run_id = airflow.trigger(INGEST)
    assert airflow.wait_for_run(INGEST, run_id, RUN_TIMEOUT) == "success", airflow.failure_report(
        INGEST, run_id
    )
    once = table_checksums(db)
    assert once["articles"][0] == len(labels.articles)
    first_tries = _tries(airflow, run_id)

    airflow.clear(INGEST, run_id)  # every task of the run, mapped shards included
    assert airflow.wait_for_run(INGEST, run_id, RUN_TIMEOUT) == "success", airflow.failure_report(
        INGEST, run_id
    )
    cleared_tries = _tries(airflow, run_id)
    assert cleared_tries.keys() == first_tries.keys()
    assert all(cleared_tries[k] == first_tries[k] + 1 for k in first_tries)  # each ran again
    assert table_checksums(db) == once

    airflow.clear(INGEST, run_id, task_ids=["load"])  # the load task alone, as a retry would
    assert airflow.wait_for_run(INGEST, run_id, RUN_TIMEOUT) == "success", airflow.failure_report(
        INGEST, run_id
    )
    assert _tries(airflow, run_id)[("load", -1)] == cleared_tries[("load", -1)] + 1
    assert table_checksums(db) == once
