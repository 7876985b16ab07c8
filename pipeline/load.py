"""The loader: staged batches into DuckDB, set-based, in one transaction.

Only this module (and quality results) writes the database, through `store.writer`.
Batches already recorded in `staged_batches` are skipped, so a retried or cleared load
task leaves every table as one load would.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from . import store
from .config import DedupSettings
from .dedup import update_stories
from .errors import StoreError
from .revisions import reassess_stories
from .staging import BATCH_TABLES, ShardReport

__all__ = ["LoadReport", "RunInfo", "load_batches"]

log = logging.getLogger(__name__)

#: Applied in this order; each file is set-based over all pending batches.
LOAD_STEPS = (
    "load/10_feeds.sql",
    "load/20_feed_entries.sql",
    "load/30_articles.sql",
    "load/35_article_signatures.sql",
    "load/40_article_urls.sql",
    "load/42_url_aliases.sql",
    "load/44_article_findings.sql",
    "load/46_article_revisions.sql",
    "load/47_article_checks.sql",
    "load/50_fetch_log.sql",
    "load/60_staged_batches.sql",
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Who started the run and when: the `runs` row's identity."""

    run_id: str
    trigger: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What one load stored."""

    run_id: str
    batches_loaded: int
    batches_skipped: int
    articles_loaded: int
    exact_duplicates: int
    fetch_log_rows: int
    stories_new: int = 0
    stories_merged: int = 0
    revisions: int = 0
    left_story: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def _pending(con: duckdb.DuckDBPyConnection, reports: Sequence[ShardReport]) -> list[ShardReport]:
    ids = [r.batch_id for r in reports]
    done = {b for (b,) in con.execute(
        "SELECT batch_id FROM staged_batches WHERE batch_id IN (SELECT unnest($ids))", {"ids": ids}
    ).fetchall()}
    return [r for r in reports if r.batch_id not in done]


#: Every batch has these; the later tables of BATCH_TABLES may be absent from a batch
#: staged by an older version (an upgrade between a run's ingest and its load).
CORE_TABLES = ("feeds", "entries", "articles", "fetch_log")


def _table_files(paths: Sequence[str], stem: str, scratch: Path) -> list[str]:
    """The batches' files of one table, plus an empty file of the current schema.

    Read by name, the empty file gives every column its current type, so a batch staged
    by an older version (a table or column it predates) loads with NULLs there.
    """
    current = scratch / f"{stem}.parquet"
    pq.write_table(BATCH_TABLES[stem].empty_table(), current)
    present = [f"{p}/{stem}.parquet" for p in paths if Path(p, f"{stem}.parquet").exists()]
    return [*present, str(current)]


def _stage(con: duckdb.DuckDBPyConnection, batches: Sequence[ShardReport], scratch: Path) -> None:
    paths = [str(Path(r.path).resolve()) for r in batches]
    for path in paths:
        missing = [stem for stem in CORE_TABLES if not Path(path, f"{stem}.parquet").exists()]
        if missing:
            raise StoreError(f"staged batch {path} lacks {', '.join(missing)}")
    files = {stem: _table_files(paths, stem, scratch) for stem in BATCH_TABLES}
    store.execute_file(
        con, "load/00_stage.sql",
        filenames=paths, batch_ids=[r.batch_id for r in batches],
        run_ids=[r.run_id for r in batches], **files,
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> int:
    return int(con.execute(sql, params or None).fetchall()[0][0])


def load_batches(
    con: duckdb.DuckDBPyConnection,
    reports: Sequence[ShardReport],
    *,
    run: RunInfo,
    dedup: DedupSettings,
    now: datetime | None = None,
) -> LoadReport:
    """Load pending batches into an open writer connection, in one transaction."""
    now = now or datetime.now(UTC)
    pending = _pending(con, reports)
    skipped = len(reports) - len(pending)
    if not pending:
        return LoadReport(run.run_id, 0, skipped, 0, 0, 0)
    con.execute("BEGIN TRANSACTION")
    try:
        with tempfile.TemporaryDirectory(prefix="newspipe-stage-") as scratch:
            _stage(con, pending, Path(scratch))
        before = _count(con, "SELECT count(*) FROM articles")
        for step in LOAD_STEPS:
            store.execute_file(con, step, loaded_at=now)
        loaded = _count(con, "SELECT count(*) FROM articles") - before
        duplicates = _count(
            con, "SELECT count(*) FROM articles WHERE run_id = $run_id AND is_exact_duplicate",
            run_id=run.run_id,
        ) if loaded else 0
        revisions = _count(con, "SELECT count(*) FROM applied_revisions")
        # A revision that is no longer a copy leaves its story before dedup runs, so the
        # same load places it afresh.
        left_story = reassess_stories(con, settings=dedup) if revisions else 0
        stories = update_stories(con, settings=dedup, now=now)
        totals = {f: sum(getattr(r, f) for r in pending) for f in (
            "feeds_polled", "feeds_failed", "entries_new", "pages_fetched", "pages_failed",
            "articles_extracted")}
        store.execute_file(
            con, "load/70_runs.sql", run_id=run.run_id, trigger=run.trigger,
            started_at=run.started_at, loaded_at=now, articles_loaded=loaded,
            exact_duplicates=duplicates, **totals,
        )
        log_rows = _count(con, "SELECT count(*) FROM staged_fetch_log")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return LoadReport(
        run.run_id, len(pending), skipped, loaded, duplicates, log_rows,
        stories_new=getattr(stories, "stories_new", 0),
        stories_merged=getattr(stories, "stories_merged", 0),
        revisions=revisions,
        left_story=left_story,
    )
