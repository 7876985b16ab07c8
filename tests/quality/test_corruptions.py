"""Corrupt a copy of a real database one defect at a time; exactly the right checks fail.

Each test runs what the news_quality task runs (`check_from_env`), then reads the failed
expectations back from `quality_results`: a critical defect must raise QualityFailed, a
warning must not, and no other expectation may fail.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipeline import quality, store
from pipeline.errors import QualityFailed

RUN_ID = "quality-run"


def _corrupt(db_path: Path, *statements: str) -> None:
    """Apply raw statements to the copy, read-write (what a bug or a hand edit would do)."""
    con = duckdb.connect(str(db_path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()


def _one(db_path: Path, sql: str) -> str:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        (value,) = con.execute(sql).fetchall()[0]
    finally:
        con.close()
    return value


def _failed(db_path: Path) -> set[str]:
    con = store.reader(db_path)
    try:
        rows = con.execute("SELECT suite || '.' || expectation FROM quality_results "
                           "WHERE run_id = ? AND NOT success", [RUN_ID]).fetchall()
    finally:
        con.close()
    return {name for (name,) in rows}


def _check(db_path: Path, *, critical: bool) -> set[str]:
    """Run the DAG task's function; it raises exactly when a critical expectation failed."""
    if critical:
        with pytest.raises(QualityFailed, match="critical expectations failed"):
            quality.check_from_env(RUN_ID)
    else:
        quality.check_from_env(RUN_ID)
    return _failed(db_path)


def test_a_clean_run_passes_every_expectation_and_reports_each_suite(world_copy: Path):
    summary = quality.check_from_env(RUN_ID)
    assert summary["critical_failures"] == 0 and summary["warnings"] == 0
    assert _failed(world_copy) == set()
    assert _one(world_copy, "SELECT count(*) FROM quality_results") == summary["expectations"]
    html = Path(summary["data_docs_index"]).read_text(encoding="utf-8")
    assert all(suite in html for suite in quality.SUITES)


def test_checking_a_run_twice_keeps_one_verdict_per_expectation(world_copy: Path):
    first = quality.check_from_env(RUN_ID)
    quality.check_from_env(RUN_ID)
    assert _one(world_copy, "SELECT count(*) FROM quality_results") == first["expectations"]


def _duplicate_url(db: Path) -> None:
    # articles has PRIMARY KEY and UNIQUE: a table copy without them lets the defect in,
    # as a loader bug on a constraint-free table would.
    _corrupt(
        db,
        "CREATE TABLE articles_free AS SELECT * FROM articles",
        "DROP TABLE articles",
        "ALTER TABLE articles_free RENAME TO articles",
        "INSERT INTO articles SELECT * REPLACE (article_id || '-again' AS article_id) "
        "FROM articles WHERE article_id = (SELECT min(article_id) FROM articles)",
    )


def _null_text(db: Path) -> None:
    _corrupt(
        db,
        "ALTER TABLE articles ALTER COLUMN text DROP NOT NULL",
        "UPDATE articles SET text = NULL WHERE article_id = (SELECT min(article_id) FROM articles)",
    )


def _future_date(db: Path) -> None:
    _corrupt(db, "UPDATE articles SET published_at = now() + INTERVAL 2 DAY "
                 "WHERE article_id = (SELECT min(article_id) FROM articles)")


def _orphan_story(db: Path) -> None:
    # A copy that is not its story's canonical, in a story of several: only its link breaks.
    _corrupt(db, """
        UPDATE articles SET story_id = 'story-that-never-was'
        WHERE article_id = (
            SELECT min(a.article_id)
            FROM articles AS a
            INNER JOIN stories AS s ON s.story_id = a.story_id
            WHERE s.article_count > 1 AND a.article_id <> s.canonical_article_id
        )""")


def _stale_feed(db: Path) -> None:
    _corrupt(db, "UPDATE feeds SET last_entries_at = now() - INTERVAL 30 DAY, last_error = NULL "
                 "WHERE feed_url = (SELECT min(feed_url) FROM feeds)")


def _boilerplate_left(db: Path) -> None:
    # Put a learned promo sentence back at the end of one of its outlet's articles.
    _corrupt(db, """
        UPDATE articles AS a SET text = a.text || chr(10) || p.sentence
        FROM (SELECT outlet, min(sentence) AS sentence FROM outlet_boilerplate GROUP BY outlet) AS p
        WHERE a.article_id = (
            SELECT min(article_id) FROM articles
            WHERE outlet = (SELECT min(outlet) FROM outlet_boilerplate)
        ) AND p.outlet = a.outlet""")


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], bool, set[str]]] = {
    "duplicated_url": (_duplicate_url, True, {"keys.url_unique"}),
    "null_text": (_null_text, True, {"content.text_not_null"}),
    "future_date": (_future_date, True, {"time.published_not_in_future"}),
    "orphan_story_id": (_orphan_story, True, {"story_links.article_story_exists"}),
    "stale_feed": (_stale_feed, False, {"feeds.feeds_fresh_or_failing_loudly"}),
    "boilerplate_left": (_boilerplate_left, False, {"content.no_boilerplate_left"}),
}


@pytest.mark.parametrize("defect", CORRUPTIONS)
def test_one_defect_fails_exactly_its_expectations(defect: str, world_copy: Path):
    corrupt, critical, expected = CORRUPTIONS[defect]
    corrupt(world_copy)
    assert _check(world_copy, critical=critical) == expected


def test_chunked_batches_give_the_verdicts_of_one_frame(world_copy: Path, tmp_path: Path,
                                                          monkeypatch):
    """Batch suites are pulled in chunks to bound memory; the merged verdicts (and observed
    counts) must be those of validating the batch at once."""
    from datetime import UTC, datetime

    from pipeline.config import QualitySettings

    _future_date(world_copy)
    _null_text(world_copy)
    now = datetime.now(UTC)

    def verdicts() -> list[tuple]:
        report = quality.run_checks(world_copy, settings=QualitySettings(), run_id=RUN_ID,
                                    reports_dir=tmp_path / "reports", now=now)
        return [(r.suite, r.expectation, r.success, r.observed_value.split(", e.g.")[0])
                for r in report.results]

    whole = verdicts()
    monkeypatch.setattr(quality, "CHUNK_ROWS", 3)
    assert verdicts() == whole
    assert ("time", "published_not_in_future", False) in {v[:3] for v in whole}
