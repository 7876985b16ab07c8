"""A batch staged by an older version (fewer tables, fewer columns) still loads after an upgrade."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from pipeline import store
from pipeline.config import load_config
from pipeline.fixtures import write_feeds_config
from pipeline.load import CORE_TABLES, RunInfo
from pipeline.runner import ingest_shard, load_staged, plan_shards
from pipeline.staging import BATCH_TABLES


def _downgrade(batch: Path) -> None:
    """Make a batch look staged before the later tables and one later column existed."""
    for stem in BATCH_TABLES:
        if stem not in CORE_TABLES:
            (batch / f"{stem}.parquet").unlink(missing_ok=True)
    articles = pq.read_table(batch / "articles.parquet")
    pq.write_table(articles.drop_columns(["page_type"]), batch / "articles.parquet")


def _load(db: Path, reports, config) -> set[str]:
    result = load_staged(db, reports, run=RunInfo("old", "cli", datetime.now(UTC)), dedup=config.dedup)
    assert result.batches_loaded == len(reports)
    con = store.reader(db)
    try:
        return {url for (url,) in con.execute("SELECT url FROM articles").fetchall()}
    finally:
        con.close()


def test_old_batches_load_after_an_upgrade(tmp_path: Path, fixture_web, fixture_server):
    config = load_config(write_feeds_config(fixture_web, fixture_server.base_url, tmp_path / "f.yaml"))
    staging = tmp_path / "staging"
    reports = [ingest_shard(config, shard, db_path=tmp_path / "none.duckdb", staging_dir=staging,
                            run_id="old") for shard in plan_shards(config)]
    as_staged = _load(tmp_path / "current.duckdb", reports, config)
    downgraded = [r.path for r in reports if (Path(r.path) / "articles.parquet").stat().st_size]
    for path in downgraded:
        _downgrade(Path(path))
    assert as_staged and downgraded
    assert _load(tmp_path / "upgraded.duckdb", reports, config) == as_staged
    con = store.reader(tmp_path / "upgraded.duckdb")
    missing_type = con.execute("SELECT count(*) FROM articles WHERE page_type IS NULL").fetchall()
    con.close()
    assert missing_type == [(0,)]
