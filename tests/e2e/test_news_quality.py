"""news_quality through a real Airflow: it follows each load, and a critical failure turns it red."""

from __future__ import annotations

import duckdb
import pytest

from pipeline import store
from pipeline.demo import RUN_TIMEOUT_SECONDS, trigger_and_wait

pytestmark = pytest.mark.e2e


def _task_states(airflow, dag_id: str, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in airflow.task_instances(dag_id, run_id)}


def test_quality_follows_the_load_through_the_asset(airflow, e2e_deployment):
    ingest_run = trigger_and_wait(airflow, "news_ingest", follower="news_quality")
    latest = airflow.runs("news_quality")[-1]
    assert latest["run_type"] == "asset_triggered" and latest["state"] == "success"
    con = store.reader(e2e_deployment.db)
    verdicts = con.execute("SELECT count(*), bool_and(success) FROM quality_results WHERE run_id = ?",
                           [ingest_run]).fetchall()
    con.close()
    assert verdicts[0][0] > 0 and verdicts[0][1] is True
    index = e2e_deployment.reports / "data_docs" / "index.html"
    assert index.exists()
    assert list((e2e_deployment.reports / "runs").glob("*.html"))


def test_a_critical_failure_fails_check_and_still_reports(airflow, e2e_deployment):
    # Corrupt the published snapshot only: the check reads it; its own write then publishes
    # the writer's clean copy again, so later tests see sound data.
    con = duckdb.connect(str(e2e_deployment.db))
    con.execute("UPDATE articles SET published_at = now() + INTERVAL 3 DAY "
                "WHERE article_id = (SELECT min(article_id) FROM articles)")
    con.close()
    airflow.unpause("news_quality")
    run_id = airflow.trigger("news_quality")
    assert airflow.wait_for_run("news_quality", run_id, RUN_TIMEOUT_SECONDS) == "failed"
    states = _task_states(airflow, "news_quality", run_id)
    assert states["check"] == "failed" and states["report"] == "success"
    con = store.reader(e2e_deployment.db)
    future = con.execute("SELECT count(*) FROM articles WHERE published_at > now()").fetchall()
    con.close()
    assert future == [(0,)]
