"""The loader: staged batches into DuckDB, set-based, a transaction per batch.

Only this module (and quality results) writes the database, through `store.writer`.
Batches already recorded in `staged_batches` are skipped, so a retried or cleared load
task leaves every table as one load would.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from . import store
from .config import DedupSettings
from .dedup import STORY_SLICE, StoryReport, update_stories
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
    files = {stem: _table_files(paths, stem, scratch) for stem in BATCH_TABLES}
    store.execute_file(
        con, "load/00_stage.sql",
        filenames=paths, batch_ids=[r.batch_id for r in batches],
        run_ids=[r.run_id for r in batches], **files,
    )


def _count(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> int:
    return int(con.execute(sql, params or None).fetchall()[0][0])


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _check_complete(batches: Sequence[ShardReport]) -> None:
    """Refuse a load with a torn batch before any of it is stored."""
    for batch in batches:
        path = Path(batch.path).resolve()
        missing = [stem for stem in CORE_TABLES if not (path / f"{stem}.parquet").exists()]
        if missing:
            raise StoreError(f"staged batch {path} lacks {', '.join(missing)}")


def _load_batch(con: duckdb.DuckDBPyConnection, batch: ShardReport, *, now: datetime,
                dedup: DedupSettings) -> tuple[int, int, int]:
    """One staged batch into the tables, inside the caller's transaction; returns the
    fetch-log rows, revisions applied and articles that left their story by revision."""
    with tempfile.TemporaryDirectory(prefix="newspipe-stage-") as scratch:
        _stage(con, [batch], Path(scratch))
    for step in LOAD_STEPS:
        store.execute_file(con, step, loaded_at=now)
    revisions = _count(con, "SELECT count(*) FROM applied_revisions")
    # A revision that is no longer a copy leaves its story before dedup runs, so the
    # same load places it afresh.
    left_story = reassess_stories(con, settings=dedup) if revisions else 0
    return _count(con, "SELECT count(*) FROM staged_fetch_log"), revisions, left_story


def load_batches(
    con: duckdb.DuckDBPyConnection,
    reports: Sequence[ShardReport],
    *,
    run: RunInfo,
    dedup: DedupSettings,
    now: datetime | None = None,
) -> LoadReport:
    """Load pending batches into an open writer connection, then put their articles into
    stories.

    Each batch is one transaction, and story assignment one per slice of articles, so a
    load's memory is that of one batch however many there are. A load that fails part way
    keeps what it committed (recorded in staged_batches, the batches are skipped when it is
    retried; articles still without a story are assigned by the next load) and publishes
    nothing, so readers never see it half done.
    """
    now = now or datetime.now(UTC)
    pending = _pending(con, reports)
    skipped = len(reports) - len(pending)
    if not pending:
        return LoadReport(run.run_id, 0, skipped, 0, 0, 0)
    _check_complete(pending)
    before = _count(con, "SELECT count(*) FROM articles")
    log_rows = revisions = left_story = 0
    for batch in pending:
        with _transaction(con):
            rows, revised, left = _load_batch(con, batch, now=now, dedup=dedup)
        log_rows, revisions, left_story = log_rows + rows, revisions + revised, left_story + left
    stories = StoryReport()
    unassigned = _count(con, "SELECT count(*) FROM articles "
                             "WHERE story_id IS NULL AND page_type = 'article'")
    for _ in range(unassigned // STORY_SLICE + 1):  # each slice assigns all it reads
        with _transaction(con):
            stories = stories + update_stories(con, settings=dedup, now=now, max_slices=1)
    loaded = _count(con, "SELECT count(*) FROM articles") - before
    duplicates = _count(
        con, "SELECT count(*) FROM articles WHERE run_id = $run_id AND is_exact_duplicate",
        run_id=run.run_id,
    ) if loaded else 0
    totals = {f: sum(getattr(r, f) for r in pending) for f in (
        "feeds_polled", "feeds_failed", "entries_new", "pages_fetched", "pages_failed",
        "articles_extracted")}
    with _transaction(con):
        store.execute_file(
            con, "load/70_runs.sql", run_id=run.run_id, trigger=run.trigger,
            started_at=run.started_at, loaded_at=now, articles_loaded=loaded,
            exact_duplicates=duplicates, **totals,
        )
    return LoadReport(
        run.run_id, len(pending), skipped, loaded, duplicates, log_rows,
        stories_new=stories.stories_new,
        stories_merged=stories.stories_merged,
        revisions=revisions,
        left_story=left_story,
    )
