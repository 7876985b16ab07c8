"""Benchmark the whole pipeline on the scaled fixture web: wall time, Airflow's cost, memory.

1. `newspipe run` over N articles (default 10,000 across 1,000 feeds) served by the fixture
   server, against the bound: trafilatura's CPU time for those pages divided by the cores
   (measured here on a sample of the same pages with the pipeline's options).
2. The news_ingest DAG over the same web through a real local Airflow (LocalExecutor),
   against `newspipe run`; its task instances counted (they depend on the shards only).
3. Peak RSS of the run's process tree (the run plus its extraction workers, sampled with
   psutil) at N and at 10 N articles.
4. A profile of a smaller run, every process sampled with py-spy: where the time beyond
   extraction goes.

The server lives in this process. For the timed runs it answers from pages rendered before
the clock starts, so rendering does not compete with the run for the cores (a real origin
costs the crawler no CPU); the memory run renders on request. The bound is measured before
and after the timed runs and `newspipe run` runs twice (before and after the DAG), and the
ratios use the means, so a drift in the machine's speed during the benchmark shows in
both sides. Nothing is written into the repository.

    .venv/bin/python bench/bench_e2e.py [--articles 10000] [--big 100000] [--skip-airflow]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import psutil
import trafilatura
from benchlib import load_average, ratio_line, scaled_pages

from pipeline.config import load_config
from pipeline.extract import _DATE_PARAMS as DATE_PARAMS  # the pipeline's own options
from pipeline.fixtures import FixtureServer
from pipeline.fixtures.scale import SCALE_PREFIX, ScaledWeb, write_scaled_config
from pipeline.fixtures.server import MountedRequest, MountedResponse
from pipeline.runner import plan_shards

ROOT = Path(__file__).resolve().parents[1]
NEWSPIPE = ROOT / ".venv" / "bin" / "newspipe"
PY_SPY = ROOT / ".venv" / "bin" / "py-spy"
FEEDS = 1_000
SHARDS = 4
SAMPLE_EVERY_SECONDS = 0.2
E2E_TARGET = 1.5
AIRFLOW_TARGET = 1.3
MEMORY_CAP_GIB = 2.0
MEMORY_GROWTH = 1.2
PROFILE_ARTICLES = 2_000
GIB = 1024**3


@dataclass(frozen=True, slots=True)
class Measured:
    wall: float
    peak_rss: int
    main_cpu: float
    children_cpu: float


def _tree_rss(proc: psutil.Process) -> tuple[int, float, float]:
    """RSS of a process and all its descendants, and their CPU seconds so far."""
    rss, main_cpu, children_cpu = 0, 0.0, 0.0
    try:
        rss = proc.memory_info().rss
        main_cpu = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            try:
                rss += child.memory_info().rss
                children_cpu += sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return rss, main_cpu, children_cpu


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run a command to the end, sampling its process tree's RSS and CPU."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watched = psutil.Process(proc.pid)
    peak, cpu = [0], [0.0, 0.0]
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(proc.stdout.read()), daemon=True)
    reader.start()
    while proc.poll() is None:
        rss, main_cpu, children_cpu = _tree_rss(watched)
        peak[0] = max(peak[0], rss)
        if main_cpu:
            cpu[0] = main_cpu
        # children come and go (the pool ends with the run): keep the largest total seen
        cpu[1] = max(cpu[1], children_cpu)
        time.sleep(SAMPLE_EVERY_SECONDS)
    wall = time.perf_counter() - start
    reader.join()
    if proc.returncode:
        raise RuntimeError(f"{command[:3]} failed:\n{b''.join(output).decode()[-3000:]}")
    return Measured(wall, peak[0], cpu[0], cpu[1])


def trafilatura_cpu_per_page(web: ScaledWeb, sample: int) -> float:
    step = max(1, web.articles // sample)
    pages = scaled_pages(web, range(0, web.articles, step))
    trafilatura.extract(pages[0][0].body)
    start = time.process_time()
    for page, _ in pages:
        trafilatura.extract(page.body, url=page.final_url, include_comments=False,
                            with_metadata=True, date_extraction_params=DATE_PARAMS)
    return (time.process_time() - start) / len(pages)


def articles_in(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
    finally:
        con.close()


def serve(web: ScaledWeb, workdir: Path, *, prerender: bool = False) -> FixtureServer:
    root = workdir / "empty-root"
    root.mkdir(parents=True, exist_ok=True)
    server = FixtureServer(root).start()
    if not prerender:
        web.mount(server)
        return server
    origin = server.base_url
    paths = [web.article(i).path for i in range(web.articles)]
    paths += [web.feed(f).path for f in range(web.feeds)]
    rendered = {p: web.respond(MountedRequest("GET", p, "", {}, b"", "127.0.0.1"), origin)
                for p in paths}

    def answer(request: MountedRequest) -> MountedResponse:
        found = rendered.get(request.path)
        if found is None or request.headers.get("if-none-match"):
            return web.respond(request, origin)  # 404s and conditional requests as ever
        return found

    server.mount(SCALE_PREFIX, answer)
    return server


def cli_run(config: Path, db: Path) -> list[str]:
    return [str(NEWSPIPE), "run", "--config", str(config), "--db", str(db)]


def timed_run(config: Path, db: Path, name: str) -> Measured:
    """`newspipe run` into a new database, measured and reported."""
    db.parent.mkdir(parents=True, exist_ok=True)
    measured = run_measured(cli_run(config, db))
    print(f"{name}: {measured.wall:.1f} s wall, {articles_in(db)} articles stored, peak RSS "
          f"{measured.peak_rss / GIB:.2f} GiB, CPU main {measured.main_cpu:.1f} s + workers "
          f"{measured.children_cpu:.1f} s  [{load_average()}]")
    return measured


#: Airflow's own defaults for what the test harness shortens (FAST_LOCAL_SETTINGS: a 0.2 s
#: scheduler loop, DAG files re-parsed every 10 s) so tests react quickly. A deployment
#: (docker-compose.yml) keeps the defaults, and so does this benchmark: the harness's
#: settings would charge the DAG CPU that production never spends.
AIRFLOW_DEFAULT_INTERVALS = {
    "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "30",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "5",
    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "5",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "1",
    "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "60",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "5",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "300",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
    "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "30",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "5",
}


def airflow_run(config: Path, workdir: Path) -> tuple[float, int, int]:
    """news_ingest through a local Airflow (LocalExecutor, Airflow's default intervals):
    (run wall time, task instances, articles)."""
    from pipeline.airflow_local import AirflowSetup, LocalAirflow
    from pipeline.demo import WRITER_POOL, pipeline_env, trigger_and_wait

    db = workdir / "airflow-db" / "news.duckdb"
    db.parent.mkdir(parents=True)
    setup = AirflowSetup(
        home=workdir / "airflow-home", dags_folder=ROOT / "dags",
        env=pipeline_env(config=config, db=db, reports=workdir / "reports")
        | AIRFLOW_DEFAULT_INTERVALS,
        pools={WRITER_POOL: 1}, expect_dags=("news_ingest",),
    )
    with LocalAirflow(setup) as airflow:
        run_id = trigger_and_wait(airflow, "news_ingest")
        run = airflow.run("news_ingest", run_id)
        instances = airflow.task_instances("news_ingest", run_id)
    wall = (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"]))
    return wall.total_seconds(), len(instances), articles_in(db)


#: Where a sampled stack's time goes: the first marker found in the stack names it.
PROFILE_MARKERS = (
    ("workers: trafilatura extraction", ("bare_extraction",)),
    ("workers: page metadata (extruct, JSON-LD, dates)", ("read_metadata",)),
    ("workers: language check (py3langid)", ("py3langid",)),
    ("workers: HTML parse shared by both", ("parse_page",)),
    ("workers: fingerprints (MinHash)", ("fingerprint_texts",)),
    ("workers: identity (canonical URL)", ("resolve_identity",)),
    ("load: story assignment (dedup.update_stories)", ("update_stories",)),
    ("load: set-based SQL and commit", ("load_batches",)),
    ("load: publish the snapshot", ("publish",)),
    ("main: feed polling and parsing", ("poll_feed", "_poll_all")),
    ("main: page fetching (httpx, politeness)", ("get_many", "fetch.py")),
    ("main: staging Parquet writes", ("BatchWriter", "write_batch")),
    ("main: seen-filter and re-check queries", ("_snapshot_state", "due_checks")),
    ("start-up: imports", ("_find_and_load",)),
    ("workers: pool plumbing (pickling, queues)", ("_process_worker", "forkserver")),
)


#: Innermost frames of a thread that waits (a lock, a queue, a socket), not computes.
WAITING_LEAVES = frozenset({
    "wait", "Condition.wait", "select", "_PollLikeSelector.select", "SyncStream.read",
    "ThreadLock.__enter__", "_worker", "sleep", "Connection._recv", "_ConnectionBase.recv",
    "is_socket_readable", "acquire", "Lock.acquire", "Event.wait", "poll", "accept",
    "_recv_bytes", "Connection._recv_bytes", "Queue.get", "get", "join", "Thread.join",
})


def profile(workdir: Path) -> None:
    """py-spy samples of `newspipe run` and its extraction workers over a small web."""
    web = ScaledWeb(articles=PROFILE_ARTICLES, feeds=FEEDS)
    server = serve(web, workdir / "profile")
    out = workdir / "profile" / "samples.txt"
    try:
        config = write_scaled_config(web, server.base_url, workdir / "profile" / "feeds.yaml",
                                     shards=SHARDS)
        server_cpu = time.process_time()
        measured = run_measured([str(PY_SPY), "record", "--subprocesses", "--format", "raw",
                                 "--rate", "50", "-o", str(out), "--",
                                 *cli_run(config, workdir / "profile" / "news.duckdb")])
        server_cpu = time.process_time() - server_cpu
    finally:
        server.stop()
    totals: dict[str, int] = {}
    waiting = 0
    for line in out.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1].split(" (", 1)[0]
        if leaf in WAITING_LEAVES:  # py-spy here cannot tell idle threads apart: drop them
            waiting += int(count)
            continue
        name = next((label for label, marks in PROFILE_MARKERS
                     if any(m in stack for m in marks)), "other")
        totals[name] = totals.get(name, 0) + int(count)
    samples = sum(totals.values()) or 1
    print(f"# profile (py-spy, every process of the run) of `newspipe run` over "
          f"{PROFILE_ARTICLES} articles: wall {measured.wall:.1f} s; the fixture server "
          f"(this process) used {server_cpu:.1f} s CPU beside it. Share of CPU samples "
          f"({samples} busy; {waiting} more were threads waiting on a lock, queue or socket):")
    for name, count in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {count / samples:6.1%}  {name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000, help="articles of the memory run")
    parser.add_argument("--bound-sample", type=int, default=1_000)
    parser.add_argument("--skip-airflow", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        workdir = Path(tmp)
        web = ScaledWeb(articles=args.articles, feeds=FEEDS)
        print(f"# end to end over {args.articles} articles in {FEEDS} feeds ({SHARDS} shards), "
              f"{cores} cores; {load_average()}")
        bound_before = trafilatura_cpu_per_page(web, args.bound_sample)
        server = serve(web, workdir / "small", prerender=True)
        try:
            config = write_scaled_config(web, server.base_url, workdir / "small" / "feeds.yaml",
                                         shards=SHARDS)
            first = timed_run(config, workdir / "small" / "news.duckdb", "newspipe run")
            dag = None
            if not args.skip_airflow:
                dag = airflow_run(config, workdir)
                big_shards = len(plan_shards(load_config(config)))
                print(f"news_ingest DAG: {dag[0]:.1f} s (run start to end), {dag[1]} task "
                      f"instances (plan + {big_shards} shards + load: set by the shards, not "
                      f"the articles), {dag[2]} articles stored  [{load_average()}]")
            second = timed_run(config, workdir / "again" / "news.duckdb", "newspipe run again")
        finally:
            server.stop()
        bound_after = trafilatura_cpu_per_page(web, args.bound_sample)
        per_page = (bound_before + bound_after) / 2
        bound = per_page * args.articles / cores
        run_wall = (first.wall + second.wall) / 2
        print(f"bound: trafilatura CPU {bound_before * 1000:.1f} ms/page before, "
              f"{bound_after * 1000:.1f} after (samples of {args.bound_sample}); mean "
              f"{per_page * 1000:.1f} ms x {args.articles} / {cores} cores = {bound:.1f} s")
        print(ratio_line("e2e_run_vs_bound", run_wall / bound, "<=", E2E_TARGET,
                         f"{run_wall:.1f} s (mean of {first.wall:.1f} and {second.wall:.1f}) "
                         f"vs {bound:.1f} s"))
        if dag is not None:
            print(ratio_line("airflow_dag_vs_run", dag[0] / run_wall, "<=", AIRFLOW_TARGET,
                             f"{dag[0]:.1f} s vs {run_wall:.1f} s; {dag[1]} task instances"))
        small = min(first, second, key=lambda m: m.peak_rss)
        if not args.skip_big:
            big_web = ScaledWeb(articles=args.big, feeds=FEEDS)
            server = serve(big_web, workdir / "big")
            try:
                config = write_scaled_config(big_web, server.base_url,
                                             workdir / "big" / "feeds.yaml", shards=SHARDS)
                big = run_measured(cli_run(config, workdir / "big" / "news.duckdb"))
                stored = articles_in(workdir / "big" / "news.duckdb")
            finally:
                server.stop()
            print(f"newspipe run over {args.big}: {big.wall:.1f} s wall, {stored} articles "
                  f"stored, peak RSS {big.peak_rss / GIB:.2f} GiB  [{load_average()}]")
            print(ratio_line("memory_big_gib", big.peak_rss / GIB, "<", MEMORY_CAP_GIB,
                             f"peak RSS of the run's process tree at {args.big} articles"))
            print(ratio_line("memory_big_vs_small", big.peak_rss / small.peak_rss, "<=",
                             MEMORY_GROWTH, f"{big.peak_rss / GIB:.2f} vs "
                             f"{small.peak_rss / GIB:.2f} GiB"))
        if not args.skip_profile and PY_SPY.exists():
            profile(workdir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
