"""The extraction pool works under a `__main__` that cannot be imported again (Airflow's)."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT

REFUSING_MAIN = """
import sys
if __name__ != "__main__":  # what the `airflow` command does when a worker re-imports it
    raise SystemExit("the main script was imported again by a worker")
sys.path.insert(0, sys.argv[1])
from pipeline.runner import ExtractionPool
with ExtractionPool(2) as pool:
    print(sorted(pool.executor().map(abs, [-3, -1, -2])))
"""


def test_workers_never_reimport_the_main_script(tmp_path: Path):
    script = tmp_path / "airflow_like_main.py"
    script.write_text(REFUSING_MAIN, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(PROJECT)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[1, 2, 3]"
