"""
### news_push

Store the articles of WebSub pushes within seconds, without waiting for the poll.

`newspipe push serve` appends every signed push to a Redis Stream and announces it on a
pub/sub channel. The triggerer watches that channel (`MessageQueueTrigger`, scheme
`redis+pubsub`) and starts this DAG. Pub/sub is only the wake-up: the trigger re-subscribes
after each firing and drops what was published meanwhile, so each run takes the whole
stream through a consumer group (claiming entries a crashed run left pending), runs the
pushed feeds through the same stages as news_ingest, loads them with the same one-slot
writer, and acknowledges the entries only after the load committed. The scheduled
news_ingest poll stays the backstop.
"""

from __future__ import annotations

import pendulum
from _shared import ARTICLES, DEFAULT_ARGS, WRITER_POOL
from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
from airflow.sdk import Asset, AssetWatcher, dag, task

from pipeline.push_tasks import watch_settings

_PUSH = watch_settings()
#: The default poll_interval is 60 s; the wake-up must cost well under a second.
WAKE_POLL_SECONDS = 0.2
PUSHES = Asset(
    "newspipe_pushes",
    watchers=[
        AssetWatcher(
            name="newspipe_push_wakeups",
            trigger=MessageQueueTrigger(
                scheme="redis+pubsub",
                channels=[_PUSH.channel],
                redis_conn_id=_PUSH.redis_conn_id,
                poll_interval=WAKE_POLL_SECONDS,
            ),
        )
    ],
)


@dag(
    schedule=[PUSHES],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one reader of the stream at a time: pending entries are a dead run's
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["newspipe", "push"],
)
def news_push():
    @task
    def take_and_stage(run_id: str | None = None) -> dict:
        from pipeline.push_tasks import ingest

        return ingest(run_id=run_id)

    @task(pool=WRITER_POOL, outlets=[ARTICLES])
    def load_and_ack(taken: dict, dag_run=None) -> dict:
        from pipeline.push_tasks import load_and_ack

        return load_and_ack(taken, run_id=dag_run.run_id, run_type=str(dag_run.run_type),
                            started_at=dag_run.start_date)

    load_and_ack(take_and_stage())


news_push()
