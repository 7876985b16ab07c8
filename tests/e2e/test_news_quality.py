"""news_quality through a real Airflow: it follows each load, and a critical failure turns it red."""

from __future__ import annotations

import duckdb
import pytest

from pipeline import store
from pipeline.demo import RUN_TIMEOUT_SECONDS, follower_runs, trigger_and_wait

pytestmark = pytest.mark.e2e


def _task_states(airflow, dag_id: str, run_id: str) -> dict[str, str]:
    return {t["task_id"]: t["state"] for t in airflow.task_instances(dag_id, run_id)}


def test_quality_follows_the_load_through_the_asset(airflow, e2e_deployment):
    ingest_run = trigger_and_wait(airflow, "news_ingest", follower="news_quality")
    latest = follower_runs(airflow, "news_quality", ingest_run)[-1]
    assert latest["run_type"] == "asset_triggered" and latest["state"] == "success"
    assert _task_states(airflow, "news_quality", latest["run_id"])["verdict"] == "skipped"
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
    # the writer's clean copy again, so later tests see sound data. A manual run checks the
    # last loaded run, so the defect must be one the whole-table suites see: a copy whose
    # story vanished.
    con = duckdb.connect(str(e2e_deployment.db))
    con.execute("""UPDATE articles SET story_id = 'story-that-never-was'
                   WHERE article_id = (SELECT min(a.article_id) FROM articles AS a
                                       INNER JOIN stories AS s USING (story_id)
                                       WHERE a.article_id <> s.canonical_article_id)""")
    con.close()
    airflow.unpause("news_quality")
    run_id = airflow.trigger("news_quality")
    assert airflow.wait_for_run("news_quality", run_id, RUN_TIMEOUT_SECONDS) == "failed"
    states = _task_states(airflow, "news_quality", run_id)
    assert states["check"] == "failed" and states["report"] == "success"
    assert states["verdict"] == "failed"  # what makes the run red
    con = store.reader(e2e_deployment.db)
    vanished = con.execute("SELECT count(*) FROM articles WHERE story_id = 'story-that-never-was'")
    assert vanished.fetchall() == [(0,)]
    con.close()
