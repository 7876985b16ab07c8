"""Readers during loads: a loop of read queries in another process is never refused while
the writer loads, it sees only whole published snapshots, and an analyst's session held
open across loads neither blocks them nor changes under the analyst's feet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import store
from pipeline.config import DedupSettings
from pipeline.load import RunInfo, load_batches
from pipeline.runner import load_staged
from tests.integration.test_crash_safety import LOADER, STAMP, synthetic_batch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

BATCH_ARTICLES = 1500
#: Reads the loop must complete while the writer holds its file open.
READS_WHILE_WRITING = 20
WAIT_SECONDS = 120.0
POLL_SECONDS = 0.05

# Each query opens the current snapshot afresh, as `newspipe sql` or a dashboard would.
READ_LOOP = """
import json, sys, time
from pathlib import Path
from pipeline import store

db, out, stop = Path(sys.argv[1]), open(sys.argv[2], "a", buffering=1), Path(sys.argv[3])
while not stop.exists():
    try:
        con = store.reader(db)
        try:
            articles = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
            con.execute("SELECT count(*) FROM stories").fetchall()
        finally:
            con.close()
        out.write(json.dumps({"ok": True, "articles": articles}) + "\\n")
    except Exception as error:  # recorded, and the test fails on it
        out.write(json.dumps({"ok": False, "error": repr(error)}) + "\\n")
"""

# One session opened once and kept, as an analyst's notebook would.
ANALYST = """
import json, sys, time
from pathlib import Path
from pipeline import store

db, out, stop = Path(sys.argv[1]), open(sys.argv[2], "a", buffering=1), Path(sys.argv[3])
con = store.reader(db)
while True:
    try:
        articles = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        out.write(json.dumps({"ok": True, "articles": articles}) + "\\n")
    except Exception as error:
        out.write(json.dumps({"ok": False, "error": repr(error)}) + "\\n")
    if stop.exists():
        break
    time.sleep(0.05)
con.close()
"""


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(POLL_SECONDS)


def _articles(db: Path) -> int:
    con = store.reader(db)
    try:
        return con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture
def readers(tmp_path) -> Iterator[tuple[Path, Path, Path, Path, Callable[[], None]]]:
    """The db path, the read loop's and the analyst's logs, the stop file, and `start`, which
    starts both reader processes (once the database exists); they always stop."""
    db, loop_log, analyst_log, stop = (
        tmp_path / "news.duckdb",
        tmp_path / "loop.jsonl",
        tmp_path / "analyst.jsonl",
        tmp_path / "stop",
    )
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        for script, log in ((READ_LOOP, loop_log), (ANALYST, analyst_log)):
            processes.append(subprocess.Popen([sys.executable, "-c", script, str(db), str(log), str(stop)]))

    yield db, loop_log, analyst_log, stop, start
    stop.touch()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_reads_go_on_while_runs_load_and_an_open_session_blocks_nothing(tmp_path, readers):
    db, loop_log, analyst_log, stop, start = readers
    staging = tmp_path / "staging"
    base, first, second = (
        synthetic_batch(staging, name, BATCH_ARTICLES, seed=seed)
        for seed, name in enumerate(("base", "first", "second"), start=1)
    )
    load_staged(db, [base], run=RunInfo("base", "manual", STAMP), dedup=DedupSettings())
    published = [_articles(db)]

    start()
    _wait(lambda: len(_lines(loop_log)) >= 1 and len(_lines(analyst_log)) >= 1, "the readers to start")

    # Load 1, in this process: the writer holds its file open, mid-load, while reads go on.
    with store.writer(db) as con:
        load_batches(con, [first], run=RunInfo("first", "manual", datetime.now(UTC)), dedup=DedupSettings())
        held_from = len(_lines(loop_log))
        _wait(
            lambda: len(_lines(loop_log)) >= held_from + READS_WHILE_WRITING, "reads while the writer is open"
        )
    published.append(_articles(db))

    # Load 2, as another process (an Airflow load task): the analyst's session stays open.
    before_load = len(_lines(loop_log))
    loader = subprocess.run(
        [sys.executable, "-c", LOADER, str(db), json.dumps([second.to_dict()]), "second", STAMP.isoformat()],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )
    assert loader.returncode == 0, loader.stderr
    published.append(_articles(db))
    assert len(_lines(loop_log)) > before_load  # reads ran while it loaded
    _wait(lambda: _lines(loop_log)[-1].get("articles") == published[-1], "the loop to see the last load")
    stop.touch()

    loop, analyst = _lines(loop_log), _lines(analyst_log)
    assert [r for r in loop + analyst if not r["ok"]] == []  # nobody was refused
    seen = [r["articles"] for r in loop]
    assert set(seen) <= set(published)  # only whole, published snapshots
    assert seen == sorted(seen)  # each read opens the snapshot current at that moment
    assert published == [BATCH_ARTICLES * n for n in (1, 2, 3)]
    # The analyst kept the snapshot opened before both loads, and the loads went through.
    assert {r["articles"] for r in analyst} == {published[0]}
