"""Smoke producer: a planning task, a task mapped over its list, a reducer updating an asset.

It exercises what newspipe's DAGs rely on: dynamic mapping, XCom between tasks, and an
outlet Asset that schedules a downstream DAG.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

SMOKE_ASSET = Asset("smoke_shards")
SHARD_COUNT = 4


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["smoke"],
)
def smoke_producer():
    @task
    def plan() -> list[int]:
        return list(range(SHARD_COUNT))

    @task
    def work(shard: int) -> int:
        return shard * shard

    @task(outlets=[SMOKE_ASSET])
    def reduce(squares: list[int]) -> int:
        return sum(squares)

    reduce(work.expand(shard=plan()))


smoke_producer()
