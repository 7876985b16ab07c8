"""Smoke consumer: scheduled on the producer's asset, so only the producer's update runs it."""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

SMOKE_ASSET = Asset("smoke_shards")


@dag(
    schedule=[SMOKE_ASSET],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["smoke"],
)
def smoke_consumer():
    @task
    def acknowledge(triggering_asset_events=None) -> int:
        return sum(len(events) for events in (triggering_asset_events or {}).values())

    acknowledge()


smoke_consumer()
