"""`make demo`: the fixture web on loopback, the DAGs through a real local Airflow, the results."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from .airflow_local import TERMINAL_RUN_STATES, AirflowSetup, LocalAirflow, free_port

__all__ = ["DemoPaths", "run_demo", "serve_airflow_ui"]

log = logging.getLogger(__name__)

#: Fixed, so a second demo sees the same URLs and stores nothing new.
DEMO_PORT = 8765
WRITER_POOL = "newspipe_writer"
RUN_TIMEOUT_SECONDS = 600.0
#: `make airflow`: how often news_ingest polls the fixture web, and the UI's default port.
UI_SCHEDULE = "*/5 * * * *"
UI_PORT = 8080


@dataclass(frozen=True, slots=True)
class DemoPaths:
    """Where the demo keeps its state: all git-ignored, inside the project."""

    root: Path

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def fixtures(self) -> Path:
        return self.var / "fixtures"

    @property
    def config(self) -> Path:
        return self.var / "feeds.yaml"

    @property
    def db(self) -> Path:
        return self.var / "news.duckdb"

    @property
    def reports(self) -> Path:
        return self.var / "reports"

    @property
    def airflow_home(self) -> Path:
        return self.root / ".airflow"


def pipeline_env(*, config: Path, db: Path, reports: Path) -> dict[str, str]:
    """The environment the DAGs' tasks read their paths from."""
    return {
        "NEWSPIPE_CONFIG": str(config),
        "NEWSPIPE_DB": str(db),
        "NEWSPIPE_STAGING": str(db.parent / "staging"),
        "NEWSPIPE_REPORTS": str(reports),
        "GX_ANALYTICS_ENABLED": "false",
    }


def airflow_setup(paths: DemoPaths, *, dag_ids: tuple[str, ...],
                  redis_url: str | None = None) -> AirflowSetup:
    """A local Airflow on SQLite with the project's DAGs and the writer pool (and the Redis
    connection news_push's trigger listens with, when there is a Redis)."""
    return AirflowSetup(
        home=paths.airflow_home,
        dags_folder=paths.root / "dags",
        env=pipeline_env(config=paths.config, db=paths.db, reports=paths.reports),
        pools={WRITER_POOL: 1},
        connections={"redis_default": redis_url} if redis_url else {},
        expect_dags=dag_ids,
    )


def follower_runs(airflow: LocalAirflow, follower: str, source_run_id: str) -> list[dict]:
    """The follower's finished runs started by an asset event of `source_run_id` (and maybe
    others). Only finished runs are asked about: Airflow 3.3's upstreamAssetEvents answers
    500 while a run created by those events has not started yet."""
    from urllib.parse import quote

    found = []
    for run in airflow.runs(follower):
        if run["state"] not in TERMINAL_RUN_STATES:
            continue
        path = f"/api/v2/dags/{follower}/dagRuns/{quote(run['run_id'], safe='')}/upstreamAssetEvents"
        events = airflow.request("GET", path)["asset_events"]
        if any(e.get("source_run_id") == source_run_id for e in events):
            found.append(run)
    return found


def trigger_and_wait(airflow: LocalAirflow, dag_id: str, *, follower: str | None = None) -> str:
    """Trigger one run and wait for it, and for the `follower` run its asset event started.

    Waiting for "one more follower run" is not enough: events queued while the follower
    was paused start a run of their own as soon as it is unpaused.
    """
    for dag in (dag_id, follower):
        if dag:
            airflow.unpause(dag)
    run_id = airflow.trigger(dag_id)
    state = airflow.wait_for_run(dag_id, run_id, RUN_TIMEOUT_SECONDS)
    if state != "success":
        raise RuntimeError(f"{dag_id} run {run_id} ended {state}:\n"
                           + airflow.failure_report(dag_id, run_id))
    if follower:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while not follower_runs(airflow, follower, run_id):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {follower} run followed {dag_id} run {run_id}")
            time.sleep(0.5)
    return run_id


def run_demo(root: Path, *, port: int = DEMO_PORT, echo=print) -> int:
    """Build and serve the fixture web, run the DAGs through Airflow, print what they stored,
    then show a WebSub push stored by news_push (when a Redis is reachable)."""
    from .config import load_config
    from .demo_push import REDIS_HOST, REDIS_PORT, push_demo, push_settings
    from .fixtures import FixtureServer, build_web, write_feeds_config

    paths = DemoPaths(root)
    echo(f"building the fixture web in {paths.fixtures}")
    build_web(paths.fixtures)
    with FixtureServer(paths.fixtures, port=port) as server, contextlib.ExitStack() as stack:
        callback_port = free_port()
        push = push_settings(callback_port)
        write_feeds_config(paths.fixtures, server.base_url, paths.config, schedule=None,
                           **({"push": push} if push else {}))
        config = load_config(paths.config)
        pushing = stack.enter_context(push_demo(server, config, db=paths.db,
                                                callback_port=callback_port)) if push else None
        dags = ("news_ingest", "news_quality", "news_push")
        setup = airflow_setup(paths, dag_ids=dags, redis_url=push["redis_url"] if push else None)
        echo(f"fixture web served at {server.base_url}; starting Airflow in {paths.airflow_home}")
        with LocalAirflow(setup) as airflow:
            echo(f"Airflow API at {airflow.api_url}; triggering news_ingest")
            run_id = trigger_and_wait(airflow, "news_ingest", follower="news_quality")
            _summary(paths, run_id, follower_runs(airflow, "news_quality", run_id)[-1]["state"], echo)
            if pushing:
                pushing.show(airflow, echo)
            else:
                echo(f"\npush: skipped, no Redis at {REDIS_HOST}:{REDIS_PORT}")
    return 0


def _summary(paths: DemoPaths, run_id: str, quality_state: str, echo) -> None:
    from . import store
    from .fixtures import load_labels
    from .report import write_run_report
    from .summary import print_demo_summary

    report = write_run_report(paths.db, run_id, paths.reports)
    con = store.reader(paths.db)
    try:
        print_demo_summary(con, run_id=run_id, labelled=len(load_labels(paths.fixtures).articles),
                           quality_state=quality_state, reports=paths.reports, echo=echo)
    finally:
        con.close()
    echo(f"Run report: {report}")


def serve_airflow_ui(root: Path, *, port: int = UI_PORT, echo=print) -> int:
    """`make airflow`: the fixture web, and a local Airflow whose UI shows the project's DAGs
    running on a schedule against it, until Ctrl-C. Shares the demo's state folders."""
    import signal
    import threading
    from dataclasses import replace

    from .fixtures import FixtureServer, build_web, write_feeds_config

    paths = DemoPaths(root)
    build_web(paths.fixtures)
    with FixtureServer(paths.fixtures, port=DEMO_PORT) as server:
        write_feeds_config(paths.fixtures, server.base_url, paths.config, schedule=UI_SCHEDULE)
        echo(f"fixture web served at {server.base_url}; starting Airflow in {paths.airflow_home}")
        setup = replace(airflow_setup(paths, dag_ids=("news_ingest", "news_quality")), api_port=port)
        with LocalAirflow(setup) as airflow:
            for dag_id in ("news_ingest", "news_quality"):
                airflow.unpause(dag_id)
            airflow.trigger("news_ingest")  # something to watch now, not at the next tick
            echo(f"Airflow UI: {airflow.api_url} (news_ingest runs {UI_SCHEDULE!r}; Ctrl-C stops)")
            # Ctrl-C or a plain kill both stop every Airflow process this started.
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            while not stop.wait(1.0):
                pass
            echo("stopping Airflow")
    return 0
