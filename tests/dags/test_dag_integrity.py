"""Every DAG file parses, names its DAG after itself, and imports nothing heavy at parse time."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))
HEAVY = ("trafilatura", "duckdb", "great_expectations", "pandas", "pyarrow")

PROBE = """
import json, runpy, sys
sys.path.insert(0, sys.argv[2])
runpy.run_path(sys.argv[1], run_name="dag_file")
heavy = [m for m in json.loads(sys.argv[3]) if m in sys.modules]
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "heavy": heavy,
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "doc_md": bool(dag.doc_md),
            "tasks": {t.task_id: {"pool": t.pool, "outlets": len(t.outlets)} for t in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}))
"""


def _probe(path: Path, tmp_path: Path) -> dict:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("NEWSPIPE_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), str(DAGS), json.dumps(HEAVY)],
        capture_output=True, text=True, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.stem for p in DAG_FILES])
def test_dag_file_parses_light_and_named_after_itself(path: Path, tmp_path: Path):
    result = _probe(path, tmp_path)
    assert result["errors"] == {}
    assert result["heavy"] == [], f"{path.name} imports {result['heavy']} at parse time"
    assert list(result["dags"]) == [path.stem]
    dag = result["dags"][path.stem]
    assert dag["doc_md"], "the module docstring is the DAG's doc_md"


def test_news_ingest_protects_the_single_writer(tmp_path: Path):
    dag = _probe(DAGS / "news_ingest.py", tmp_path)["dags"]["news_ingest"]
    assert dag["max_active_runs"] == 1 and dag["catchup"] is False
    writers = [t for t, spec in dag["tasks"].items() if spec["pool"] == "newspipe_writer"]
    assert writers == ["load"]
    assert dag["tasks"]["load"]["outlets"] == 1
