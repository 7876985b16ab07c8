"""The demo's push part: the fixture hub publishes an article, news_push stores it in seconds."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .airflow_local import service_reachable

__all__ = ["DEMO_OUTLET", "REDIS_HOST", "REDIS_PORT", "PushDemo", "push_demo", "push_settings"]

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 3
#: The same title every demo, so a second demo's push is a redelivery: nothing new stored.
DEMO_TITLE = "Demo push: trade negotiators schedule a follow-up round"
DEMO_OUTLET = "pacific-wire"
WAIT_SECONDS = 180.0


def push_settings(callback_port: int) -> dict[str, object] | None:
    """The config's `push` section for the demo, or None when Redis is not reachable."""
    if not service_reachable(REDIS_HOST, REDIS_PORT):
        return None
    return {
        "redis_url": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "stream": "newspipe-demo:push",
        "channel": "newspipe-demo:wake",
        "callback_base_url": f"http://127.0.0.1:{callback_port}",
    }


@dataclass
class PushDemo:
    """A running subscriber and hub; `show` publishes one article and waits for its row."""

    hub: object
    subscriber: object
    db: Path

    def show(self, airflow, echo: Callable[[str], None]) -> None:
        from . import pushq, store

        airflow.unpause("news_push")
        channel = self.subscriber.config.push.channel
        client = pushq.connect(self.subscriber.config.push)
        _wait(lambda: client.pubsub_numsub(channel)[0][1] >= 1, "the triggerer to listen")
        known = _stored_count(store, self.db)
        polls_before = len(airflow.runs("news_ingest"))
        started = time.monotonic()
        article, deliveries = self.hub.publish(DEMO_OUTLET, title=DEMO_TITLE)
        statuses = [d.result(30).status for d in deliveries]
        echo(f"\npush: the hub published {article.title!r} at {DEMO_OUTLET}; "
             f"the subscriber answered {statuses}")
        _wait(lambda: client.xlen(self.subscriber.config.push.stream) == 0, "news_push to take it")
        _wait(lambda: _has(store, self.db, article.path), "the pushed article in DuckDB")
        took = time.monotonic() - started
        added = _stored_count(store, self.db) - known
        _wait(lambda: any(r["state"] == "success" for r in airflow.runs("news_push")),
              "news_push's run to finish")
        polls = len(airflow.runs("news_ingest")) - polls_before
        echo(f"push: in DuckDB {took:.1f}s after publishing, stored by news_push with "
             f"{polls} news_ingest runs since; new articles: {added}"
             + ("" if added else " (a redelivery: stored before)"))


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: waited {WAIT_SECONDS:.0f}s for {what}")
        time.sleep(0.2)


def _has(store, db: Path, path: str) -> bool:
    con = store.reader(db)
    try:
        return bool(con.execute("SELECT count(*) FROM article_urls WHERE url LIKE '%' || ?",
                                [path]).fetchall()[0][0])
    finally:
        con.close()


def _stored_count(store, db: Path) -> int:
    con = store.reader(db)
    try:
        return con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
    finally:
        con.close()


@contextlib.contextmanager
def push_demo(server, config, *, db: Path, callback_port: int) -> Iterator[PushDemo]:
    """The fixture hub and `newspipe push serve` (in a thread) for the demo's config."""
    from . import push
    from .fixtures.hub import FixtureHub

    with FixtureHub(server) as hub:
        uvicorn_server, subscriber = push.build_server(
            config, secret=secrets.token_bytes(32), port=callback_port)
        thread = threading.Thread(target=uvicorn_server.run, name="push-serve", daemon=True)
        thread.start()
        try:
            _wait(lambda: uvicorn_server.started, "the subscriber to listen")
            _wait(lambda: len(hub.subscriptions()) >= len(subscriber.feeds),
                  "the hub to verify every subscription")
            yield PushDemo(hub, subscriber, db)
        finally:
            uvicorn_server.should_exit = True
            thread.join(10)
