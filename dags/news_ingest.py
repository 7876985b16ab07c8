"""
### news_ingest

Poll every configured feed, fetch and extract the new articles, and load them into DuckDB.

Shards of feeds are ingested in parallel (mapped tasks, never one task per article); each
writes a staged Parquet batch and passes its path and counts on. One `load` task, in a
one-slot pool, is the database's single writer; it updates the `newspipe_articles` asset
that news_quality waits on. Re-running any task leaves the database as one run would.
"""

from __future__ import annotations

import pendulum
from _shared import ARTICLES, DEFAULT_ARGS, WRITER_POOL
from airflow.sdk import dag, task

from pipeline.tasks import schedule


@dag(
    schedule=schedule(),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["newspipe"],
)
def news_ingest():
    @task
    def plan_shards() -> list[dict]:
        from pipeline.tasks import plan

        return plan()

    @task
    def ingest_shard(shard: dict, run_id: str | None = None) -> dict:
        from pipeline.tasks import ingest

        return ingest(shard, run_id=run_id)

    @task(pool=WRITER_POOL, outlets=[ARTICLES])
    def load(reports: list[dict], dag_run=None) -> dict:
        from pipeline.tasks import load

        return load(list(reports), run_id=dag_run.run_id, run_type=str(dag_run.run_type),
                    started_at=dag_run.start_date)

    load(ingest_shard.expand(shard=plan_shards()))


news_ingest()
