"""A real, throwaway local Airflow: its processes, its REST API, and the DAG runs it drives.

Used by `make demo`, the end-to-end and integration tests and the benchmarks. It never imports
Airflow: every Airflow process is a subprocess of the venv's `airflow` command, each in its
own process group with its output in `log_dir`, and runs are driven through the public REST
API v2. One code path serves SQLite + LocalExecutor and PostgreSQL + CeleryExecutor: it starts
the separate components (api-server, scheduler, dag-processor, triggerer, and a Celery worker
when asked), which is also what `airflow standalone` does underneath.

Authentication uses the simple auth manager with every user an admin (loopback only), so API
calls need no token. Task processes put themselves in their own process groups, so stopping
also sweeps every process whose environment carries this instance's marker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from pipeline.errors import NewspipeError

__all__ = [
    "AirflowError",
    "AirflowSetup",
    "LocalAirflow",
    "TERMINAL_RUN_STATES",
    "free_port",
    "free_ports",
    "instance_processes",
    "service_reachable",
    "throwaway_postgres_database",
]

_LOG = logging.getLogger(__name__)

# Ports Airflow claims by default (worker and triggerer log servers, api-server): never pick
# them, and give each instance its own log-server ports so two instances can run side by side.
RESERVED_PORTS = frozenset({8080, 8793, 8794, 8974})

DEFAULT_PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
CELERY_WORKER = "celery worker"
CELERY_EXECUTOR = "CeleryExecutor"
# Where kombu's Redis transport keeps delivered, unacknowledged messages.
KOMBU_UNACKED, KOMBU_UNACKED_INDEX = "unacked", "unacked_index"

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
# Task states worth showing when a run fails or hangs.
PROBLEM_TASK_STATES = frozenset(
    {"failed", "upstream_failed", "up_for_retry", "running", "queued", "scheduled"}
)

# Settings that make a small local Airflow quick to react. Callers override any of them
# through AirflowSetup.env (applied after these).
FAST_LOCAL_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        "AIRFLOW__SCHEDULER__PARSING_CLEANUP_INTERVAL": "10",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "1",
        "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "60",
        "AIRFLOW__API__WORKERS": "1",
        # A task's supervisor can linger up to this long after the task ended, holding an
        # executor slot (seen here: 5 s with the default).
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
    }
)

# Variables inherited from the caller's shell that would make an instance depend on it.
INHERITED_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
INHERITED_NAMES = frozenset({"AIRFLOW_HOME", "AIRFLOW_CONFIG"})
INSTANCE_MARKER = "NEWSPIPE_AIRFLOW_INSTANCE"

POLL_SECONDS = 0.5
# The triggerer takes ~10 s to exit on SIGTERM; nothing of a throwaway instance needs that.
STOP_GRACE_SECONDS = 5.0
SWEEP_ROUNDS = 5
MIGRATE_TIMEOUT_SECONDS = 300.0
HTTP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 40
PAGE_LIMIT = 100
API_RETRIES = 3
API_RETRY_SECONDS = 1.0
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})


class AirflowError(NewspipeError):
    """The local Airflow failed to start, parse, run or answer; the message carries log tails."""


@dataclass(frozen=True, slots=True)
class AirflowSetup:
    """Where and how one local Airflow runs.

    `env` is passed to every Airflow process (and so to every task); AIRFLOW__* entries in it
    override FAST_LOCAL_SETTINGS. `expect_dags` are DAG ids that start() waits for.
    """

    home: Path
    dags_folder: Path
    database_url: str | None = None
    executor: str = "LocalExecutor"
    broker_url: str | None = None
    api_port: int = 0
    env: Mapping[str, str] = field(default_factory=dict)
    pools: Mapping[str, int] = field(default_factory=dict)
    connections: Mapping[str, str] = field(default_factory=dict)
    processes: tuple[str, ...] = DEFAULT_PROCESSES
    expect_dags: tuple[str, ...] = ()


def free_ports(count: int, *, avoid: Iterable[int] = ()) -> tuple[int, ...]:
    """`count` distinct TCP ports free on 127.0.0.1 right now, none that Airflow claims by
    default. All are held open while choosing: the kernel may hand out a released port again."""
    unwanted = RESERVED_PORTS | set(avoid)
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        while len(ports) < count:
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            if port not in unwanted:
                ports.append(port)
    return tuple(ports)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, never one Airflow claims by default."""
    return free_ports(1)[0]


def service_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at host:port (for skip decisions)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def throwaway_postgres_database(
    name: str, *, host: str = "127.0.0.1", port: int = 5432, user: str = "postgres"
) -> Iterator[str]:
    """Create a PostgreSQL database, yield its SQLAlchemy URL, and drop it afterwards.

    Trust authentication is assumed (as on these machines). The drop is forced so that
    connections left by killed Airflow processes cannot keep the database alive.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain PostgreSQL database name: {name!r}")
    import psycopg2  # lazily: only the PostgreSQL callers need it

    def admin(statement: str) -> None:
        connection = psycopg2.connect(host=host, port=port, user=user, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{user}@{host}:{port}/{name}"
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def instance_processes(marker: str) -> list[int]:
    """Pids of live processes whose environment carries INSTANCE_MARKER=marker.

    Task processes leave the process group they were started in, so this is how the
    harness (and tests) find everything an instance started.
    """
    needle = f"{INSTANCE_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            status = (entry / "stat").read_text()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if status.rsplit(")", 1)[-1].split()[0] == "Z":
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _terminate_groups(processes: list[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM each process group, give them `grace` seconds together, then SIGKILL them."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM if grace > 0 else signal.SIGKILL)
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _airflow_bin() -> Path:
    """The `airflow` command of the running interpreter's environment."""
    beside = Path(sys.executable).parent / "airflow"
    if beside.exists():
        return beside
    found = shutil.which("airflow")
    if found is None:
        raise AirflowError("no `airflow` command beside the interpreter nor on PATH")
    return Path(found)


class LocalAirflow:
    """One running local Airflow. Use as a context manager: it always stops what it started."""

    def __init__(self, setup: AirflowSetup, *, log_dir: Path | None = None) -> None:
        self.setup = setup
        self.log_dir = log_dir or setup.home / "process-logs"
        self.marker = secrets.token_hex(8)
        api_port, *log_ports = free_ports(3, avoid=[setup.api_port])
        self._api_port = setup.api_port or api_port
        self._log_ports = tuple(log_ports)
        self._queue = f"newspipe-{self.marker}"
        self._airflow = _airflow_bin()
        self._env = self._build_env()
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._client: httpx.Client | None = None
        self._started_at = datetime.now(UTC)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalAirflow:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._api_port}"

    @property
    def env(self) -> Mapping[str, str]:
        """The environment every Airflow process gets (for running `airflow` CLI commands)."""
        return MappingProxyType(self._env)

    def start(self, timeout: float = 120) -> None:
        """Migrate the metadata DB, start the processes, wait for the API, pools and DAGs."""
        deadline = time.monotonic() + timeout
        self._started_at = datetime.now(UTC)
        self.setup.home.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._run_cli("db-migrate", ["db", "migrate"], timeout=MIGRATE_TIMEOUT_SECONDS)
        for name in self._process_names():
            self._spawn(name)
        self._client = httpx.Client(base_url=self.api_url, timeout=HTTP_TIMEOUT_SECONDS)
        self._wait_until_healthy(deadline)
        self._set_pools()
        if self.setup.expect_dags:
            self.wait_for_dags(self.setup.expect_dags, max(deadline - time.monotonic(), 1.0))
        else:
            self._wait_for_first_parse(deadline)

    def stop(self) -> None:
        """Stop every process this instance started: groups first, then any stragglers."""
        if self._client is not None:
            self._client.close()
            self._client = None
        _terminate_groups(list(self._processes.values()), STOP_GRACE_SECONDS)
        for _ in range(SWEEP_ROUNDS):  # again, in case one forked while we were killing
            strays = instance_processes(self.marker)
            if not strays:
                break
            for pid in strays:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(POLL_SECONDS / 5)
        broker = self.setup.broker_url or ""
        if self._processes and broker.startswith(("redis://", "rediss://")):
            self._forget_celery_queue()
        self._processes.clear()

    def stop_process(self, name: str, *, kill: bool = False) -> None:
        """Stop one component (e.g. "triggerer"), gracefully or with SIGKILL, to test
        what happens while it is down; start_process() brings it back."""
        _terminate_groups([self._processes.pop(name)], 0.0 if kill else STOP_GRACE_SECONDS)

    def start_process(self, name: str) -> None:
        """Start one component again (or an extra one, e.g. a second "celery worker")."""
        if name in self._processes:
            raise AirflowError(f"{name} is already running")
        self._spawn(name)

    def _forget_celery_queue(self) -> None:
        """Delete this instance's queue, its bindings and its unacknowledged messages from
        the broker: they outlive the instance, and kombu would one day restore the messages."""
        import redis  # lazily: only the Celery set-up needs it

        queue = self._queue
        broker = redis.Redis.from_url(str(self.setup.broker_url))
        try:
            broker.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            ours = [
                tag
                for tag, message in broker.hscan_iter(KOMBU_UNACKED)
                if _unacked_routing_key(message) == queue
            ]
            if ours:
                broker.hdel(KOMBU_UNACKED, *ours)
                broker.zrem(KOMBU_UNACKED_INDEX, *ours)
        except redis.exceptions.ConnectionError as error:
            # The broker is gone (a test may have stopped it): leave the keys, say so.
            _LOG.warning("could not delete Celery queue %s: %s", queue, error)
        finally:
            broker.close()

    # -- DAGs and runs ---------------------------------------------------------------------

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float) -> None:
        """Wait until every DAG id is parsed with no import error; raise with the error text."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout
        while True:
            self._check_processes()
            errors = self.import_errors()
            # Errors from before this start, or of files since deleted, are about to be cleared.
            fresh = [
                e
                for e in errors
                if _parse_time(e["timestamp"]) >= self._started_at
                and (self.setup.dags_folder / e["filename"]).exists()
            ]
            if fresh:
                raise AirflowError(_format_import_errors(fresh))
            known = {d["dag_id"] for d in self._paged("/api/v2/dags", "dags") if not d["is_stale"]}
            missing = wanted - known
            if not missing and not errors:
                return
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"DAGs not parsed after {timeout:.0f}s: missing {sorted(missing)}\n"
                    + _format_import_errors(errors)
                    + self._log_tails(("dag-processor",))
                )
            time.sleep(POLL_SECONDS)

    def import_errors(self) -> list[dict[str, Any]]:
        """Current DAG import errors (filename, stack_trace, timestamp)."""
        return self._paged("/api/v2/importErrors", "import_errors")

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": True})

    def trigger(
        self,
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
    ) -> str:
        """Trigger a manual run (the DAG must be unpaused for it to start); returns its run_id.

        `logical_date` must be timezone-aware; None makes a run with no logical date, which
        Airflow 3 allows any number of times.
        """
        body = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "conf": conf or {},
        }
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """One DAG run as the API describes it (run_id, state, run_type, dates, conf...)."""
        return _with_run_id(self.request("GET", _run_path(dag_id, run_id)))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait for the run to finish and return its state ('success' or 'failed').

        On timeout (or a dead Airflow process) raise with the unfinished or failed tasks and
        the tails of their logs.
        """
        if self.request("GET", f"/api/v2/dags/{dag_id}")["is_paused"]:
            raise AirflowError(f"{dag_id} is paused: its run {run_id} would never start")
        deadline = time.monotonic() + timeout
        while True:
            self._check_processes()
            state = self.run(dag_id, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                return state
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"run {dag_id}/{run_id} still {state} after {timeout:.0f}s\n"
                    + self.failure_report(dag_id, run_id)
                    + self._log_tails(("scheduler",))
                )
            time.sleep(POLL_SECONDS)

    def wait_for_runs(self, dag_id: str, count: int, timeout: float) -> list[dict[str, Any]]:
        """Wait until the DAG has at least `count` finished runs; return all its runs.

        This is how to wait for runs nobody triggered by hand (asset or schedule).
        """
        deadline = time.monotonic() + timeout
        while True:
            self._check_processes()
            runs = self.runs(dag_id)
            if sum(r["state"] in TERMINAL_RUN_STATES for r in runs) >= count:
                return runs
            if time.monotonic() > deadline:
                states = [(r["run_id"], r["run_type"], r["state"]) for r in runs]
                raise AirflowError(
                    f"{dag_id}: fewer than {count} finished runs after {timeout:.0f}s: {states}\n"
                    + self._log_tails(("scheduler",))
                )
            time.sleep(POLL_SECONDS)

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of the DAG, oldest first (run_id, state, run_type, conf, dates...)."""
        runs = self._paged(f"/api/v2/dags/{dag_id}/dagRuns", "dag_runs", params={"order_by": "id"})
        return [_with_run_id(run) for run in runs]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run, mapped ones included (task_id, map_index, state,
        try_number...)."""
        return self._paged(f"{_run_path(dag_id, run_id)}/taskInstances", "task_instances")

    def clear(self, dag_id: str, run_id: str, task_ids: Iterable[str] | None = None) -> None:
        """Clear a run (all tasks, or only these ones) so the scheduler runs them again."""
        if task_ids is None:
            path = f"{_run_path(dag_id, run_id)}/clear"
            self.request("POST", path, json={"dry_run": False})
            return
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": list(task_ids),
            "only_failed": False,
            "reset_dag_runs": True,
        }
        self.request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", json=body)

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, *, key: str = "return_value", map_index: int = -1
    ) -> Any:
        """A task's XCom value (by default what it returned), as JSON."""
        path = f"{_run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
        answer = self.request("GET", path, params={"map_index": map_index, "stringify": False})
        return answer["value"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The text of one task try's log, read through the API, one event per line."""
        path = f"{_run_path(dag_id, run_id)}/taskInstances/{task_id}/logs/{try_number}"
        answer = self.request("GET", path, params={"map_index": map_index, "full_content": True})
        return "\n".join(_log_line(entry) for entry in answer["content"])

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """The run's unfinished or failed tasks, each with the tail of its latest log."""
        try:
            instances = self.task_instances(dag_id, run_id)
        except (AirflowError, httpx.HTTPError) as error:
            return f"(task instances unavailable: {error})"
        lines = []
        for ti in instances:
            if ti["state"] not in PROBLEM_TASK_STATES and ti["state"] is not None:
                continue
            label = f"{ti['task_id']}[{ti['map_index']}]" if ti["map_index"] >= 0 else ti["task_id"]
            lines.append(f"--- {label}: {ti['state']} (try {ti['try_number']})")
            if ti["try_number"]:
                try:
                    log = self.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
                except (AirflowError, httpx.HTTPError) as error:
                    log = f"(log unavailable: {error})"
                lines.extend(log.splitlines()[-LOG_TAIL_LINES:])
        return "\n".join(lines) + "\n"

    def cli(self, *args: str, timeout: float = 120) -> str:
        """Run an `airflow` CLI command against this instance; returns its stdout."""
        result = subprocess.run(
            [str(self._airflow), *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AirflowError(f"airflow {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    # -- internals -------------------------------------------------------------------------

    def _process_names(self) -> tuple[str, ...]:
        names = self.setup.processes
        if self.setup.executor == CELERY_EXECUTOR and CELERY_WORKER not in names:
            names = (*names, CELERY_WORKER)
        return names

    def _build_env(self) -> dict[str, str]:
        setup = self.setup
        home = setup.home.resolve()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(INHERITED_PREFIXES) and k not in INHERITED_NAMES
        }
        # `airflow` sub-commands and task subprocesses find the venv's tools first.
        env["PATH"] = os.pathsep.join([str(self._airflow.parent), env.get("PATH", "")])
        env.update(FAST_LOCAL_SETTINGS)
        env.update(
            {
                INSTANCE_MARKER: self.marker,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(setup.dags_folder.resolve()),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
                "AIRFLOW__CORE__EXECUTOR": setup.executor,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                    setup.database_url or f"sqlite:///{home / 'airflow.db'}"
                ),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self._api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                # One secret per instance, shared by every process: the scheduler signs the
                # tasks' tokens and the api-server checks them.
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._log_ports[0]),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self._log_ports[1]),
            }
        )
        if setup.executor == CELERY_EXECUTOR:
            if setup.broker_url is None or setup.database_url is None:
                raise ValueError("the CeleryExecutor needs broker_url and a database_url")
            env["AIRFLOW__CELERY__BROKER_URL"] = setup.broker_url
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + setup.database_url.replace("+psycopg2", "")
            # A queue of its own, so instances sharing a broker never take each other's tasks.
            env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] = self._queue
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = "4"
        for conn_id, uri in setup.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = uri
        env.update(setup.env)
        return env

    def _command(self, name: str) -> list[str]:
        if name == CELERY_WORKER:
            return ["celery", "worker", "--queues", self._queue]
        if name == "api-server":
            return ["api-server", "--host", "127.0.0.1", "--port", str(self._api_port)]
        return name.split()

    def _spawn(self, name: str) -> None:
        log_path = self._log_path(name)
        with log_path.open("ab") as log:
            # Logs are appended across starts of a kept home: mark where this one begins.
            log.write(f"--- newspipe: airflow {name} starting at {datetime.now(UTC)}\n".encode())
            log.flush()
            self._processes[name] = subprocess.Popen(
                [str(self._airflow), *self._command(name)],
                env=self._env,
                cwd=self.setup.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() can kill it whole
            )

    def _run_cli(self, name: str, args: list[str], *, timeout: float) -> None:
        log_path = self._log_path(name)
        with log_path.open("ab") as log:
            try:
                result = subprocess.run(
                    [str(self._airflow), *args],
                    env=self._env,
                    cwd=self.setup.home,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as error:
                raise AirflowError(f"airflow {' '.join(args)} timed out\n{_tail(log_path)}") from error
        if result.returncode != 0:
            raise AirflowError(f"airflow {' '.join(args)} exited {result.returncode}\n{_tail(log_path)}")

    def _log_path(self, name: str) -> Path:
        return self.log_dir / f"{name.replace(' ', '-')}.log"

    def _log_tails(self, names: Iterable[str]) -> str:
        return "".join(
            f"\n--- {self._log_path(name)} (last lines)\n{_tail(self._log_path(name))}\n" for name in names
        )

    def _check_processes(self) -> None:
        """Raise at once when an Airflow process has died, instead of waiting for a timeout."""
        dead = [name for name, p in self._processes.items() if p.poll() is not None]
        if dead:
            codes = {name: self._processes[name].returncode for name in dead}
            raise AirflowError(f"Airflow process exited: {codes}" + self._log_tails(dead))

    def _wait_until_healthy(self, deadline: float) -> None:
        """Wait until the API answers and every started component reports healthy."""
        wanted = {"metadatabase", "scheduler", "triggerer", "dag_processor"}
        wanted &= {"metadatabase", *(n.replace("-", "_") for n in self._process_names())}
        last: object = None
        while True:
            self._check_processes()
            try:
                health = self.request("GET", "/api/v2/monitor/health")
                last = health
                if all(health.get(c, {}).get("status") == "healthy" for c in wanted):
                    return
            except (httpx.HTTPError, AirflowError) as error:
                last = error
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"Airflow not healthy in time (last answer: {last})" + self._log_tails(self._processes)
                )
            time.sleep(POLL_SECONDS)

    def _wait_for_first_parse(self, deadline: float) -> None:
        """Without DAG ids to wait for, wait until the DAG folder has yielded anything at all."""
        if not any(self.setup.dags_folder.rglob("*.py")):
            return
        while not (
            self.request("GET", "/api/v2/dags", params={"limit": 1})["total_entries"] or self.import_errors()
        ):
            self._check_processes()
            if time.monotonic() > deadline:
                raise AirflowError(
                    f"nothing parsed from {self.setup.dags_folder} in time"
                    + self._log_tails(("dag-processor",))
                )
            time.sleep(POLL_SECONDS)

    def _set_pools(self) -> None:
        if not self.setup.pools:
            return
        entities = [
            {"name": name, "slots": slots, "description": "set by newspipe's local Airflow"}
            for name, slots in self.setup.pools.items()
        ]
        action = {"action": "create", "entities": entities, "action_on_existence": "overwrite"}
        result = self.request("PATCH", "/api/v2/pools", json={"actions": [action]})
        if result.get("create", {}).get("errors"):
            raise AirflowError(f"pools not created: {result['create']['errors']}")

    def _paged(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.request(
                "GET", path, params={**(params or {}), "limit": PAGE_LIMIT, "offset": len(items)}
            )
            items.extend(page[key])
            if not page[key] or len(items) >= page["total_entries"]:
                return items

    def _raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._client is None:
            raise AirflowError("the local Airflow is not started")
        # A 5xx from a local Airflow is mostly SQLite's lock timeout while a task writes;
        # idempotent calls are asked again. A POST (a trigger) is not: it may have landed.
        retries = API_RETRIES if method.upper() in IDEMPOTENT_METHODS else 0
        for attempt in range(retries + 1):
            response = self._client.request(method, path, **kwargs)
            if response.status_code < 500 or attempt == retries:
                break
            time.sleep(API_RETRY_SECONDS * (attempt + 1))
        if response.is_error:
            raise AirflowError(f"{method} {path}: HTTP {response.status_code}: {response.text}")
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call any REST API path (e.g. "/api/v2/pools") and return the decoded JSON answer."""
        return self._raw(method, path, **kwargs).json()


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _run_path(dag_id: str, run_id: str) -> str:
    """API path of a run; run ids hold ':' and '+', so they are quoted."""
    return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def _with_run_id(run: dict[str, Any]) -> dict[str, Any]:
    """The API names it dag_run_id; newspipe's callers say run_id, as trigger() returns."""
    return {**run, "run_id": run["dag_run_id"]}


def _log_line(entry: dict[str, Any] | str) -> str:
    """One structured task-log event as a readable line, with an exception's type and value."""
    if isinstance(entry, str):
        return entry
    line = " ".join(str(entry[k]) for k in ("timestamp", "level", "event") if entry.get(k))
    for detail in entry.get("error_detail") or ():
        line += f"\n  {detail.get('exc_type')}: {detail.get('exc_value')}"
    return line


def _unacked_routing_key(message: bytes) -> str | None:
    """The queue an unacknowledged kombu message was routed to ([payload, exchange, key])."""
    try:
        return json.loads(message)[2]
    except (ValueError, LookupError, TypeError):
        return None


def _format_import_errors(errors: list[dict[str, Any]]) -> str:
    return "".join(f"import error in {e['filename']}:\n{e['stack_trace']}\n" for e in errors)
