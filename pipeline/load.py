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


@dataclass(frozen=True, slots=True)
class _BatchLoaded:
    """What one batch added."""

    articles: int
    exact_duplicates: int
    fetch_log_rows: int
    revisions: int
    left_story: int


def _load_batch(con: duckdb.DuckDBPyConnection, batch: ShardReport, *, run: RunInfo,
                now: datetime, dedup: DedupSettings) -> _BatchLoaded:
    """One staged batch into the tables and its counts into the run's row, inside the
    caller's transaction (the runs row accumulates over the batches of a run)."""
    articles = "SELECT count(*) FROM articles"
    duplicates = "SELECT count(*) FROM articles WHERE is_exact_duplicate"
    before = (_count(con, articles), _count(con, duplicates))
    with tempfile.TemporaryDirectory(prefix="newspipe-stage-") as scratch:
        _stage(con, [batch], Path(scratch))
    for step in LOAD_STEPS:
        store.execute_file(con, step, loaded_at=now)
    revisions = _count(con, "SELECT count(*) FROM applied_revisions")
    # A revision that is no longer a copy leaves its story before dedup runs, so the
    # same load places it afresh.
    left_story = reassess_stories(con, settings=dedup) if revisions else 0
    loaded = _BatchLoaded(_count(con, articles) - before[0], _count(con, duplicates) - before[1],
                          _count(con, "SELECT count(*) FROM staged_fetch_log"), revisions,
                          left_story)
    store.execute_file(
        con, "load/70_runs.sql", run_id=run.run_id, trigger=run.trigger,
        started_at=run.started_at, loaded_at=now, articles_loaded=loaded.articles,
        exact_duplicates=loaded.exact_duplicates,
        **{f: getattr(batch, f) for f in ("feeds_polled", "feeds_failed", "entries_new",
                                          "pages_fetched", "pages_failed",
                                          "articles_extracted")},
    )
    return loaded


def _assign_stories(con: duckdb.DuckDBPyConnection, *, dedup: DedupSettings,
                    now: datetime) -> StoryReport:
    """Every article still without a story into one, a committed slice at a time."""
    stories = StoryReport()
    unassigned = _count(con, "SELECT count(*) FROM articles "
                             "WHERE story_id IS NULL AND page_type = 'article'")
    for _ in range(unassigned // STORY_SLICE + 1):  # each slice assigns all it reads
        with _transaction(con):
            stories = stories + update_stories(con, settings=dedup, now=now, max_slices=1)
    return stories


def load_batches(
    con: duckdb.DuckDBPyConnection,
    reports: Sequence[ShardReport],
    *,
    run: RunInfo,
    dedup: DedupSettings,
    now: datetime | None = None,
) -> LoadReport:
    """Load pending batches into an open writer connection, then put every article still
    without a story into one.

    Each batch (its rows, its staged_batches record and its counts in `runs`) is one
    transaction, and story assignment one per slice of articles, so a load's memory is that
    of one batch however many there are. A load that fails part way publishes nothing and
    keeps what it committed: its retry skips the recorded batches and assigns the stories
    still owed.
    """
    now = now or datetime.now(UTC)
    pending = _pending(con, reports)
    _check_complete(pending)
    done = []
    for batch in pending:
        with _transaction(con):
            done.append(_load_batch(con, batch, run=run, now=now, dedup=dedup))
    stories = _assign_stories(con, dedup=dedup, now=now)
    return LoadReport(
        run.run_id, len(pending), len(reports) - len(pending),
        articles_loaded=sum(d.articles for d in done),
        exact_duplicates=sum(d.exact_duplicates for d in done),
        fetch_log_rows=sum(d.fetch_log_rows for d in done),
        stories_new=stories.stories_new,
        stories_merged=stories.stories_merged,
        revisions=sum(d.revisions for d in done),
        left_story=sum(d.left_story for d in done),
    )
