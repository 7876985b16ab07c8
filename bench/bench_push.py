"""Benchmark push ingest: publish at the fixture hub -> article row in DuckDB.

Through a real local Airflow (scheduler + triggerer, news_push woken by Redis pub/sub):
the latency of single pushes (median and p95 over --pushes), beside the same kind of article
through the poll (one poll cycle run right after publishing, plus the wait for the hourly
schedule), and a burst of --burst pushes within one second: every article stored once, and
the time until the last one is. Uses Redis at 127.0.0.1:6379 (DB 9, a bench key prefix).
Writes nothing into the repository.

    .venv/bin/python bench/bench_push.py [--pushes 20] [--burst 100]
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline import push, pushq, store
from pipeline.airflow_local import AirflowSetup, LocalAirflow, free_port, service_reachable
from pipeline.config import Config, load_config
from pipeline.demo import WRITER_POOL, pipeline_env
from pipeline.fixtures import FixtureServer, build_web, write_feeds_config
from pipeline.fixtures.hub import FixtureHub, HubPolicy
from pipeline.runner import run_once

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = "redis://127.0.0.1:6379/9"
SCHEDULE_MINUTES = 60  # the default @hourly poll
POLL_SAMPLES = 5
TIMEOUT_SECONDS = 180.0
SAMPLE_EVERY = 0.05


def wait_until(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f}s")
        time.sleep(SAMPLE_EVERY)
    return value


def stored_counts(db: Path, paths: list[str]) -> dict[str, int]:
    """How many article rows each page path has (published snapshot, read-only)."""
    if not db.exists():
        return dict.fromkeys(paths, 0)
    con = store.reader(db)
    try:
        rows = con.execute(
            "SELECT p, (SELECT count(*) FROM articles WHERE strpos(url, p) > 0) "
            "FROM unnest($paths) AS t(p)", {"paths": [p.rstrip("/") for p in paths]}
        ).fetchall()
    finally:
        con.close()
    return {path: n for path, (_, n) in zip(paths, rows, strict=True)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.contextmanager
def subscriber(config: Config, port: int) -> Iterator[push.Subscriber]:
    server, sub = push.build_server(config, secret=secrets.token_hex(24).encode(), port=port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "subscriber listening", 20)
        yield sub
    finally:
        server.should_exit = True
        thread.join(10)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)  # noqa: T201


def push_latencies(hub: FixtureHub, db: Path, outlets: list[str], count: int) -> list[float]:
    """Publish one article at a time and time it until its row is visible."""
    latencies = []
    for n in range(count):
        progress(f"push {n + 1}/{count}")
        started = time.monotonic()
        article, _ = hub.publish(outlets[n % len(outlets)])
        wait_until(lambda a=article: stored_counts(db, [a.path])[a.path], "pushed article row")
        latencies.append(time.monotonic() - started)
    return latencies


def poll_latencies(hub: FixtureHub, config: Config, tmp: Path, outlets: list[str]) -> list[float]:
    """The same kind of article through one poll cycle (in-process, on its own database)."""
    db = tmp / "poll" / "news.duckdb"
    run_once(config, db_path=db, staging_dir=tmp / "poll" / "staging", run_id="poll-warm-up")
    latencies = []
    for n in range(POLL_SAMPLES):
        started = time.monotonic()
        article, _ = hub.publish(outlets[n % len(outlets)])
        run_once(config, db_path=db, staging_dir=tmp / "poll" / "staging", run_id=f"poll-{n}")
        assert stored_counts(db, [article.path])[article.path] == 1
        latencies.append(time.monotonic() - started)
    return latencies


def burst(hub: FixtureHub, db: Path, outlets: list[str], count: int) -> tuple[float, float, dict]:
    """`count` publishes spread over one second; (publish span, time to last row, counts)."""
    started = time.monotonic()
    paths = []
    for n in range(count):
        paths.append(hub.publish(outlets[n % len(outlets)])[0].path)
        time.sleep(max(0.0, started + (n + 1) / count - time.monotonic()))
    span = time.monotonic() - started
    wait_until(lambda: all(stored_counts(db, paths).values()), "every burst article", 600)
    return span, time.monotonic() - started, stored_counts(db, paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args(argv)
    if not service_reachable("127.0.0.1", 6379):
        raise SystemExit("bench_push needs Redis at 127.0.0.1:6379")
    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    build_web(tmp / "web")
    prefix = f"newspipe-bench-{secrets.token_hex(4)}"
    port = free_port()
    with FixtureServer(tmp / "web") as server, FixtureHub(server, policy=HubPolicy()) as hub:
        settings = {"redis_url": REDIS_URL, "stream": f"{prefix}:stream",
                    "channel": f"{prefix}:wake", "callback_base_url": f"http://127.0.0.1:{port}"}
        config_path = write_feeds_config(tmp / "web", server.base_url, tmp / "feeds.yaml",
                                         schedule=None, push=settings)
        config = load_config(config_path)
        outlets = sorted({f.outlet for _, f in config.feeds()})
        db = tmp / "state" / "news.duckdb"
        setup = AirflowSetup(
            home=tmp / "airflow", dags_folder=ROOT / "dags",
            env=pipeline_env(config=config_path, db=db, reports=tmp / "reports"),
            pools={WRITER_POOL: 1}, connections={"redis_default": REDIS_URL},
            expect_dags=("news_push",),
        )
        with subscriber(config, port) as sub, LocalAirflow(setup) as airflow:
            wait_until(lambda: len(hub.subscriptions()) == len(sub.feeds), "subscriptions")
            redis = pushq.connect(config.push)
            airflow.unpause("news_push")
            wait_until(lambda: redis.pubsub_numsub(config.push.channel)[0][1], "trigger")
            progress(f"Airflow at {airflow.api_url}, trigger listening; state in {tmp}")
            push_latencies(hub, db, outlets, 1)  # warm-up: migrations, first imports
            pushed = push_latencies(hub, db, outlets, args.pushes)
            progress("poll cycles")
            polled = poll_latencies(hub, config, tmp, outlets)
            progress(f"burst of {args.burst}")
            span, last, counts = burst(hub, db, outlets, args.burst)
            runs = len(airflow.runs("news_push"))
            pending = int(redis.xpending(config.push.stream, config.push.group)["pending"])
            redis.delete(config.push.stream, config.push.stream + ":rejected")
    poll_run = statistics.median(polled)
    print(f"push  publish->row  n={len(pushed)}  median {statistics.median(pushed):5.2f}s  "  # noqa: T201
          f"p95 {percentile(pushed, 0.95):5.2f}s  max {max(pushed):5.2f}s")
    print(f"poll  publish->row  one cycle {poll_run:5.2f}s (median of {len(polled)}); "  # noqa: T201
          f"with the @hourly schedule: mean {SCHEDULE_MINUTES * 30 + poll_run:,.0f}s, "
          f"worst {SCHEDULE_MINUTES * 60 + poll_run:,.0f}s  "
          f"({(SCHEDULE_MINUTES * 30 + poll_run) / statistics.median(pushed):,.0f}x the push median)")
    once = sum(n == 1 for n in counts.values())
    print(f"burst {args.burst} pushes published over {span:4.2f}s: {once}/{len(counts)} stored "  # noqa: T201
          f"exactly once, last stored after {last:5.2f}s; news_push runs so far {runs}, "
          f"entries pending {pending}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
