"""
### news_quality

Prove the data sound after every load: run the Great Expectations suites in `expectations/`
against the run just loaded and the tables as a whole.

Scheduled on the `newspipe_articles` asset that news_ingest's load updates. `check` reads
the published snapshot, records each verdict in `quality_results` and builds Data Docs under
the reports folder. A critical failure fails it (the log names the failed expectations and
what they saw); warnings are recorded and reported, and it stays green. `report` then writes
the run's HTML report beside the Data Docs, whatever the verdict, and `verdict` turns the
run red when anything before it failed.
"""

from __future__ import annotations

import pendulum
from _shared import ARTICLES, DEFAULT_ARGS
from airflow.sdk import dag, task


@dag(
    schedule=[ARTICLES],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["newspipe"],
)
def news_quality():
    @task
    def loaded_run(triggering_asset_events=None) -> str | None:
        # The ingest run whose load fired this run; none (a manual run) means the last loaded.
        # Loads made while this DAG was paused or busy arrive together: check the newest
        # (the whole-table suites cover the rest).
        events = triggering_asset_events.get(ARTICLES, ()) if triggering_asset_events else ()
        return max(events, key=lambda e: e.timestamp).source_run_id if events else None

    # A failed expectation is a verdict, not a glitch: retrying would only repeat it.
    @task(retries=0)
    def check(ingest_run: str | None) -> dict:
        from pipeline.quality import check_from_env

        return check_from_env(ingest_run)

    # The report is most needed when the check failed: it runs either way.
    @task(trigger_rule="all_done")
    def report(ingest_run: str | None) -> str:
        from pipeline.tasks import report

        return report(ingest_run)

    # A run's state comes from its last tasks; without this one a failed check followed by
    # a successful report would leave the run green. Skipped when nothing failed.
    @task(trigger_rule="one_failed", retries=0)
    def verdict() -> None:
        raise RuntimeError("quality failed: see the check task's log and the run report")

    # Not `run_id`: that name is Airflow's own context key (this DAG run's id).
    ingest_run = loaded_run()
    checked = check(ingest_run)
    reported = report(ingest_run)
    checked >> reported
    [checked, reported] >> verdict()


news_quality()
