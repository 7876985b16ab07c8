"""One real local Airflow per session, with the project's DAGs, against the fixture server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT


@dataclass(frozen=True)
class Deployment:
    """The paths one e2e session's pipeline reads and writes."""

    config: Path
    db: Path
    reports: Path


@pytest.fixture(scope="session")
def e2e_deployment(tmp_path_factory, fixture_web, fixture_server) -> Deployment:
    from pipeline.fixtures import write_feeds_config

    state = tmp_path_factory.mktemp("e2e-state")
    config = state / "feeds.yaml"
    write_feeds_config(fixture_web, fixture_server.base_url, config, schedule=None)
    return Deployment(config=config, db=state / "news.duckdb", reports=state / "reports")


@pytest.fixture(scope="session")
def airflow(tmp_path_factory, e2e_deployment: Deployment):
    from pipeline.airflow_local import AirflowSetup, LocalAirflow
    from pipeline.demo import WRITER_POOL, pipeline_env

    home = tmp_path_factory.mktemp("airflow-home")
    dag_ids = tuple(p.stem for p in sorted((PROJECT / "dags").glob("news_*.py")))
    setup = AirflowSetup(
        home=home,
        dags_folder=PROJECT / "dags",
        env=pipeline_env(config=e2e_deployment.config, db=e2e_deployment.db,
                         reports=e2e_deployment.reports),
        pools={WRITER_POOL: 1},
        expect_dags=dag_ids,
    )
    with LocalAirflow(setup) as instance:
        yield instance
