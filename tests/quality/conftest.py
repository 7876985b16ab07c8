"""A real database for the corruption tests: one fixture-web ingest per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class LoadedWorld:
    """The published database of one clean ingest, and the feeds file it was made with."""

    db_path: Path
    config_path: Path


@pytest.fixture(scope="session")
def loaded_world(tmp_path_factory, fixture_web: Path, fixture_server) -> LoadedWorld:
    from pipeline.config import load_config
    from pipeline.fixtures import write_feeds_config
    from pipeline.runner import run_once

    root = tmp_path_factory.mktemp("quality-world")
    config_path = write_feeds_config(fixture_web, fixture_server.base_url, root / "feeds.yaml")
    db_path = root / "news.duckdb"
    run_once(load_config(config_path), db_path=db_path, staging_dir=root / "staging",
             run_id="quality-run")
    return LoadedWorld(db_path, config_path)


@pytest.fixture
def world_copy(tmp_path: Path, loaded_world: LoadedWorld, monkeypatch) -> Path:
    """A private copy of the clean database, with the environment the DAG task reads."""
    db_path = tmp_path / "news.duckdb"
    shutil.copyfile(loaded_world.db_path, db_path)
    monkeypatch.setenv("NEWSPIPE_DB", str(db_path))
    monkeypatch.setenv("NEWSPIPE_CONFIG", str(loaded_world.config_path))
    monkeypatch.setenv("NEWSPIPE_REPORTS", str(tmp_path / "reports"))
    return db_path
