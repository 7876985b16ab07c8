"""`newspipe run` shows a bar per stage with counts on a terminal, and nothing elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

from pipeline.config import load_config
from pipeline.fixtures import write_feeds_config
from pipeline.progress import Progress
from pipeline.runner import run_once


def _run(tmp_path: Path, fixture_web, fixture_server, progress: Progress):
    config = load_config(write_feeds_config(fixture_web, fixture_server.base_url, tmp_path / "f.yaml"))
    return run_once(config, db_path=tmp_path / "news.duckdb", staging_dir=tmp_path / "staging",
                    run_id="progress-1", progress=progress), config


def test_a_bar_per_stage_with_counts(tmp_path: Path, fixture_web, fixture_server):
    stream = io.StringIO()
    summary, config = _run(tmp_path, fixture_web, fixture_server, Progress(stream, enabled=True))
    final = {line.split()[0]: line for line in stream.getvalue().replace("\r", "\n").splitlines()
             if line.strip()}
    feeds = len(config.feeds())
    assert f"{feeds}/{feeds}" in final["feeds"]
    assert str(summary.totals()["pages_fetched"]) in final["pages"].split()
    batches = len(summary.shards)
    assert f"{batches}/{batches}" in final["load"]


def test_quiet_when_not_on_a_terminal(tmp_path: Path, fixture_web, fixture_server):
    stream = io.StringIO()  # not a tty
    _run(tmp_path, fixture_web, fixture_server, Progress(stream))
    assert stream.getvalue() == ""
