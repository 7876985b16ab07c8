"""Push ingest end to end: fixture hub -> `push serve` -> Redis Stream -> news_push -> DuckDB.

Real Redis (a dedicated DB and key prefix on the shared server; an own redis-server for
the test that stops Redis), a real Airflow scheduler and triggerer (one per module), all
on loopback. Publishing changes the fixture web, so this module builds its own.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pipeline import push, pushq, websub
from pipeline.airflow_local import free_port, service_reachable
from pipeline.config import Config, load_config

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
TEST_DB = 9  # keys are also prefixed per module, and deleted afterwards
SECRET = secrets.token_hex(24).encode()
WAIT_SECONDS = 120.0

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not service_reachable(REDIS_HOST, REDIS_PORT),
                       reason=f"no Redis at {REDIS_HOST}:{REDIS_PORT}"),
]


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class World:
    """One fixture web with its hub and subscriber, and the pipeline's config for it."""

    root: Path
    server: object
    hub: object
    config_path: Path
    config: Config
    db: Path
    subscriber: push.Subscriber

    @property
    def redis(self):
        return pushq.connect(self.config.push)

    def callback(self, feed_url: str) -> str:
        return self.subscriber.callback(feed_url)

    def stored(self, path: str) -> int:
        """Rows in articles for the page at `path` (0 before the first load)."""
        from pipeline import store

        if not self.db.exists():
            return 0
        con = store.reader(self.db)
        try:
            needle = path.rstrip("/")
            return con.execute("SELECT count(*) FROM articles WHERE strpos(url, $p) > 0",
                               {"p": needle}).fetchall()[0][0]
        finally:
            con.close()

    def article_count(self) -> int:
        from pipeline import store

        if not self.db.exists():
            return 0
        con = store.reader(self.db)
        try:
            return con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        finally:
            con.close()


@contextlib.contextmanager
def running_subscriber(config: Config, port: int) -> Iterator[push.Subscriber]:
    server, subscriber = push.build_server(config, secret=SECRET, port=port)
    thread = threading.Thread(target=server.run, name="push-serve", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "the subscriber to listen", 20)
        yield subscriber
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def world(tmp: Path, *, redis_url: str, prefix: str, policy=None,
          shared_redis: bool = True) -> Iterator[World]:
    from pipeline.fixtures import FixtureServer, build_web, write_feeds_config
    from pipeline.fixtures.hub import FixtureHub, HubPolicy

    root = tmp / "web"
    build_web(root)
    port = free_port()
    with FixtureServer(root) as server, FixtureHub(
        server, policy=policy or HubPolicy(backoff_max_seconds=1.0)
    ) as hub:
        settings = {"redis_url": redis_url, "stream": f"{prefix}:stream",
                    "channel": f"{prefix}:wake", "group": "news_push",
                    "callback_base_url": f"http://127.0.0.1:{port}", "lease_seconds": 3600}
        config_path = write_feeds_config(root, server.base_url, tmp / "feeds.yaml",
                                         schedule=None, push=settings)
        config = load_config(config_path)
        with running_subscriber(config, port) as subscriber:
            wait_until(lambda: len(hub.subscriptions()) == len(subscriber.feeds),
                       "every feed's subscription to be verified", 30)
            yield World(root, server, hub, config_path, config, tmp / "state" / "news.duckdb",
                        subscriber)
        if shared_redis:  # a throwaway Redis goes away whole
            client = pushq.connect(config.push)
            client.delete(settings["stream"], settings["stream"] + ":rejected")


@pytest.fixture(scope="module")
def push_world(tmp_path_factory) -> Iterator[World]:
    prefix = f"newspipe-test-{secrets.token_hex(4)}"
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{TEST_DB}"
    with world(tmp_path_factory.mktemp("push"), redis_url=url, prefix=prefix) as w:
        yield w


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, push_world: World):
    from pipeline.airflow_local import AirflowSetup, LocalAirflow
    from pipeline.demo import WRITER_POOL, pipeline_env
    from tests.conftest import PROJECT

    db = push_world.db
    setup = AirflowSetup(
        home=tmp_path_factory.mktemp("airflow-push"),
        dags_folder=PROJECT / "dags",
        env=pipeline_env(config=push_world.config_path, db=db, reports=db.parent / "reports"),
        pools={WRITER_POOL: 1},
        connections={"redis_default": f"redis://{REDIS_HOST}:{REDIS_PORT}/{TEST_DB}"},
        expect_dags=("news_push", "news_ingest"),
    )
    with LocalAirflow(setup) as instance:
        instance.unpause("news_push")
        channel = push_world.config.push.channel
        wait_until(lambda: push_world.redis.pubsub_numsub(channel)[0][1] >= 1,
                   "the triggerer to subscribe to the wake-up channel")
        yield instance


def _pending(w: World) -> int:
    return int(w.redis.xpending(w.config.push.stream, w.config.push.group)["pending"])


def _finished_runs(airflow, count: int) -> list[dict]:
    runs = airflow.wait_for_runs("news_push", count, WAIT_SECONDS)
    assert all(r["state"] == "success" for r in runs if r["state"] in ("success", "failed")), runs
    return runs


# --- refusals (no Airflow needed: nothing refused may reach the stream) ----------------------


def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers, timeout=10, trust_env=False)


def test_refused_pushes_are_answered_recorded_and_never_queued(push_world: World):
    w = push_world
    feed = next(iter(w.subscriber.feeds.values()))
    body = b"<rss><channel><item><link>http://x.invalid/a</link></item></channel></rss>"
    good = websub.sign(body, websub.feed_secret(SECRET, feed), "sha1")
    stream_before, stored_before = w.redis.xlen(w.config.push.stream), w.article_count()
    cases = {
        "signature_mismatch": _post(w.callback(feed), body,
                                    {"X-Hub-Signature": websub.sign(body, "forged", "sha256")}),
        "signature_missing": _post(w.callback(feed), body, {}),
        "unknown_topic": _post(w.callback("http://127.0.0.1:1/not-configured.rss"), body,
                               {"X-Hub-Signature": good}),
        "oversize": _post(w.callback(feed), b"x" * (w.config.push.max_body_bytes + 1),
                          {"X-Hub-Signature": good}),
        "unrequested_verification": httpx.get(w.callback(feed), params={
            "hub.mode": "unsubscribe", "hub.topic": feed, "hub.challenge": "c"}, trust_env=False),
    }
    statuses = {reason: answer.status_code for reason, answer in cases.items()}
    assert statuses == {"signature_mismatch": 403, "signature_missing": 403, "unknown_topic": 404,
                        "oversize": 413, "unrequested_verification": 404}
    recorded = [r["reason"] for r in pushq.rejections(w.redis, w.config.push)]
    assert set(cases) <= set(recorded)
    assert w.redis.xlen(w.config.push.stream) == stream_before
    assert w.article_count() == stored_before


def test_a_sha1_signed_push_from_an_older_hub_is_accepted(push_world: World):
    w = push_world
    feed = next(iter(w.subscriber.feeds.values()))
    body = w.server.url("/")  # any bytes: acceptance does not parse
    signed = websub.sign(body.encode(), websub.feed_secret(SECRET, feed), "sha1")
    answer = _post(w.callback(feed), body.encode(), {"X-Hub-Signature": signed})
    assert answer.status_code == 202
    entries = w.redis.xrange(w.config.push.stream, count=1000)
    ours = [i for i, f in entries if f[b"body"] == body.encode()]
    assert len(ours) == 1
    w.redis.xdel(w.config.push.stream, *ours)  # not a feed: keep it away from news_push


def test_fixture_feeds_advertise_the_hub_and_outlets_publish_through_the_admin_route(
    push_world: World,
):
    w = push_world
    feed = next(iter(w.subscriber.feeds.values()))
    answer = httpx.get(feed, trust_env=False)
    found = websub.discover(_response(feed, answer))
    assert (found.hubs, found.topic, found.hub_source) == ((w.hub.url,), feed, "header")
    assert w.hub.url in answer.text  # the document names the hub as well

    outlet = w.config.feeds()[0][1].outlet
    refused = httpx.get(w.hub.url + "/publish", params={"outlet": outlet}, trust_env=False)
    assert refused.status_code == 403  # a GET never publishes
    published = httpx.post(w.hub.url + "/publish", params={"outlet": outlet}, trust_env=False)
    assert published.status_code == 200 and published.json()["subscribers"] == 1
    page = httpx.get(published.json()["url"], trust_env=False)
    assert page.status_code == 200 and published.json()["title"] in page.text


def _response(url: str, answer: httpx.Response):
    from datetime import UTC, datetime

    from pipeline.records import Response

    return Response(url=url, final_url=str(answer.url), status=answer.status_code,
                    headers=tuple(answer.headers.multi_items()), body=answer.content,
                    fetched_at=datetime.now(UTC))


def test_queued_work_that_no_run_takes_gets_another_wake_up(push_world: World):
    w = push_world
    listener = w.redis.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(w.config.push.channel)
    wait_until(lambda: w.redis.pubsub_numsub(w.config.push.channel)[0][1] >= 1, "a listener")
    event = pushq.PushEvent("", "http://127.0.0.1:1/gone.rss", "http://127.0.0.1:1/gone.rss",
                            "0" * 64, pushq.received_now(), "application/rss+xml", b"<rss/>")
    def stalled() -> int:
        return pushq.stalled(w.redis, w.config.push, stale_seconds=push.STALE_PENDING_SECONDS)

    already = stalled()  # pushes earlier tests left for the first news_push run
    entry = w.redis.xadd(w.config.push.stream, event.fields())  # its wake-up was lost
    try:
        assert w.subscriber.rewake() == already + 1
        message = wait_until(lambda: listener.get_message(timeout=0.1), "the second wake-up", 10)
        assert json.loads(message["data"]) == {"wake": "stalled"}
    finally:
        w.redis.xdel(w.config.push.stream, entry)
        listener.close()
    assert stalled() == already


# --- through Airflow's scheduler and triggerer ------------------------------------------------


def test_a_published_article_is_stored_by_news_push_and_a_redelivery_adds_nothing(
    push_world: World, airflow
):
    w = push_world
    outlet = w.config.feeds()[0][1].outlet
    before = len(airflow.runs("news_push"))
    article, deliveries = w.hub.publish(outlet)
    assert [d.result(30).status for d in deliveries] == [202]
    wait_until(lambda: w.stored(article.path), "the pushed article in DuckDB")
    _finished_runs(airflow, before + 1)
    assert airflow.runs("news_ingest") == []  # no scheduled (or any) poll ran
    assert w.stored(article.path) == 1
    assert _pending(w) == 0 and w.redis.xlen(w.config.push.stream) == 0

    total, runs = w.article_count(), len(airflow.runs("news_push"))
    again = w.hub.distribute(article.feed_paths[0])  # the hub delivers the same feed again
    assert [d.result(30).status for d in again] == [202]
    wait_until(lambda: w.redis.xlen(w.config.push.stream) == 0 and len(
        [r for r in airflow.runs("news_push") if r["state"] == "success"]) > runs,
        "the redelivery to be taken and acknowledged")
    assert w.article_count() == total and w.stored(article.path) == 1


def test_a_run_killed_before_its_load_leaves_the_entry_for_the_next_run(
    push_world: World, airflow
):
    from pipeline.demo import WRITER_POOL

    w = push_world
    pool = f"/api/v2/pools/{WRITER_POOL}"
    def slots(n: int) -> None:
        airflow.request("PATCH", pool, params={"update_mask": "slots"},
                        json={"pool": WRITER_POOL, "slots": n, "include_deferred": False})

    slots(0)  # the writer is busy: the run can take and stage, but not load
    try:
        before = {r["run_id"] for r in airflow.runs("news_push")}
        article, deliveries = w.hub.publish(w.config.feeds()[0][1].outlet)
        assert [d.result(30).status for d in deliveries] == [202]
        run = wait_until(lambda: next((r for r in airflow.runs("news_push")
                                       if r["run_id"] not in before), None), "a news_push run")

        def staged() -> bool:
            states = {t["task_id"]: t["state"] for t in
                      airflow.task_instances("news_push", run["run_id"])}
            return states.get("take_and_stage") == "success"

        wait_until(staged, "the run to take and stage the entry")
        assert _pending(w) >= 1  # taken by the run's consumer, not acknowledged
        airflow.request("PATCH", f"/api/v2/dags/news_push/dagRuns/{run['run_id']}",
                        json={"state": "failed"})  # the run dies before its load
    finally:
        slots(1)
    assert w.stored(article.path) == 0
    pushq.announce(w.redis, w.config.push, "test: next wake-up")
    wait_until(lambda: w.stored(article.path), "the next run to store the claimed entry")
    wait_until(lambda: _pending(w) == 0, "the claimed entry to be acknowledged")
    assert w.stored(article.path) == 1
    assert w.redis.xlen(w.config.push.stream) == 0


# --- Redis stopped ----------------------------------------------------------------------------


@contextlib.contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary to start a throwaway Redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: service_reachable("127.0.0.1", port), "the throwaway Redis", 10)
        yield process
    finally:
        process.terminate()
        process.wait(10)


def _consume(w: World, tmp: Path, monkeypatch, run_id: str) -> dict:
    """What news_push's two tasks do, in-process, for this world's own Redis."""
    from pipeline import push_tasks

    monkeypatch.setenv("NEWSPIPE_CONFIG", str(w.config_path))
    monkeypatch.setenv("NEWSPIPE_DB", str(w.db))
    monkeypatch.setenv("NEWSPIPE_STAGING", str(tmp / "staging"))
    taken = push_tasks.ingest(run_id=run_id)
    return push_tasks.load_and_ack(taken, run_id=run_id, run_type="test", started_at=None)


def test_while_redis_is_down_pushes_get_503_and_the_hub_retry_lands_once_it_is_back(
    tmp_path: Path, monkeypatch
):
    from pipeline.fixtures.hub import HubPolicy
    from pipeline.runner import run_once

    port = free_port()
    policy = HubPolicy(attempts=200, backoff_seconds=0.1, backoff_max_seconds=0.5)
    with own_redis(port) as redis_process, world(
        tmp_path, redis_url=f"redis://127.0.0.1:{port}/0", prefix="down", policy=policy,
        shared_redis=False,
    ) as w:
        outlet = w.config.feeds()[0][1].outlet
        redis_process.terminate()
        redis_process.wait(10)
        article, deliveries = w.hub.publish(outlet)
        wait_until(lambda: any(d.status == 503 for d in w.hub.deliveries()), "a 503 answer")

        # Meanwhile the poll works without Redis: the other outlets' feeds are stored.
        others = w.config.model_copy(update={"topics": tuple(
            t.model_copy(update={"feeds": tuple(f for f in t.feeds if f.outlet != outlet)})
            for t in w.config.topics if any(f.outlet != outlet for f in t.feeds))})
        polled = run_once(others, db_path=w.db, staging_dir=tmp_path / "staging",
                          run_id="poll-while-redis-down")
        assert polled.load.articles_loaded > 0 and w.stored(article.path) == 0

        with own_redis(port):
            (final,) = [d.result(60) for d in deliveries]
            assert final.status == 202 and final.attempt > 1
            result = _consume(w, tmp_path, monkeypatch, "push-after-redis-back")
            assert result["entries_acked"] == 1
            assert w.stored(article.path) == 1
            assert w.redis.xlen(w.config.push.stream) == 0


# --- secrets ----------------------------------------------------------------------------------


def test_the_secret_comes_from_the_environment_or_an_airflow_connection():
    from pipeline.errors import ConfigError

    key = "AIRFLOW_CONN_NEWSPIPE_PUSH"
    assert push.load_secret({push.SECRET_ENV: "a" * 20}) == b"a" * 20
    assert push.load_secret({key: "generic://:p%40ss-word-0123456789@"}) == b"p@ss-word-0123456789"
    assert push.load_secret({key: '{"conn_type": "generic", "password": "b' + "c" * 20 + '"}'})
    with pytest.raises(ConfigError):
        push.load_secret({})
    with pytest.raises(ConfigError):
        push.load_secret({push.SECRET_ENV: "short"})
