"""Every example query in sql/queries/ runs on the fixture database, and the analyst's
questions get the answers the labels predict."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from pipeline.query import QueryResult, read_query, run_query
from pipeline.store import SQL_DIR

from .conftest import DEAD_OUTLET

QUERY_FILES = sorted(SQL_DIR.glob("queries/*.sql"))
SEED_STORY = "seed-000"


def _result(con, path, run_id: str) -> QueryResult:
    """Run a query file; files that take $run_id get the world's first run."""
    sql = read_query(str(path))
    cursor = con.execute(sql, {"run_id": run_id} if "$run_id" in sql else None)
    return QueryResult(tuple(d[0] for d in cursor.description), tuple(cursor.fetchall()))


def _dicts(result: QueryResult) -> list[dict]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _query(con, name: str, run_id: str = "") -> list[dict]:
    return _dicts(_result(con, SQL_DIR / "queries" / f"{name}.sql", run_id))


@pytest.mark.parametrize("path", QUERY_FILES, ids=[p.stem for p in QUERY_FILES])
def test_query_file_runs_and_says_what_it_answers(analyst_con, analyst_world, path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"-- {path.stem}:"), "open with `-- <name>: what it answers`"
    assert "Grain:" in text, "say the grain"
    result = _result(analyst_con, path, analyst_world.first_run)
    assert result.columns


@pytest.mark.parametrize("path", [p for p in QUERY_FILES if "$" not in p.read_text()],
                         ids=lambda p: p.stem)
def test_query_file_runs_through_newspipe_sql(analyst_world, path) -> None:
    """The files without parameters are what `newspipe sql FILE.sql` runs, read-only."""
    result = run_query(analyst_world.db_path, read_query(str(path)))
    assert result is not None and result.columns


def test_trade_talks_stories_today(analyst_con, labels) -> None:
    found = _query(analyst_con, "trade_talks_stories_today")
    seed = labels.stories()[SEED_STORY]
    assert found[0]["outlet_count"] == len({a.outlet for a in seed})
    assert found[0]["first_outlet"] == min(seed, key=lambda a: a.published).outlet
    counts = [r["outlet_count"] for r in found]
    assert counts == sorted(counts, reverse=True)
    trade_topics = {a.story for a in labels.articles if a.topic == "trade"}
    assert len(found) <= len(trade_topics)


def test_who_published_first_lists_shared_stories(analyst_con, labels) -> None:
    found = _query(analyst_con, "who_published_first")
    shared = {k: v for k, v in labels.stories().items() if len({a.outlet for a in v}) > 1}
    firsts = sorted(min(v, key=lambda a: a.published).outlet for v in shared.values())
    assert sorted(r["first_outlet"] for r in found) == firsts
    assert all(r["lead_minutes"] > 0 for r in found)


def test_failing_feeds_names_the_dead_feed_only(analyst_con, analyst_world) -> None:
    found = _query(analyst_con, "failing_feeds")
    assert [r["feed_url"] for r in found] == [analyst_world.dead_feed_url]
    assert found[0]["outlet"] == DEAD_OUTLET and "404" in found[0]["last_error"]


def _words(text: str) -> list[str]:
    return [w for w in (re.sub(r"[^\w]", "", t).lower() for t in text.split()) if w]


def test_what_each_copy_cut_matches_the_edits(analyst_con, labels, fixture_web) -> None:
    by_id = {r["article_id"]: r for r in _query(analyst_con, "what_each_copy_cut")}
    urls = dict(analyst_con.execute("SELECT article_id, url FROM articles").fetchall())
    by_path = {urlsplit(urls[k]).path: v for k, v in by_id.items()}
    copies = [a for a in labels.articles if a.edits]
    assert copies and all(a.path in by_path for a in copies)
    for copy in copies:
        row = by_path[copy.path]
        canonical = " ".join(_words(analyst_con.execute(
            "SELECT a.text FROM articles AS a JOIN stories AS s "
            "ON s.canonical_article_id = a.article_id WHERE s.story_id = $s",
            {"s": row["story_id"]}).fetchall()[0][0]))
        if "cut_last" in copy.edits:
            assert row["words_cut"] > 0, copy.path
            for passage in row["cut"].split(" … "):
                assert " ".join(_words(passage)) in canonical, (copy.path, passage)
        if "editors_note" in copy.edits:
            assert "Editor's note" in row["added"], copy.path
    canonicals = {r[0] for r in analyst_con.execute(
        "SELECT canonical_article_id FROM stories").fetchall()}
    assert not canonicals & set(by_id), "the canonical is not a copy of itself"


def test_run_queries_answer_for_the_run(analyst_con, analyst_world, labels) -> None:
    first, second = analyst_world.run_ids
    outlets = _query(analyst_con, "run_articles_per_outlet", first)
    assert sum(r["articles"] for r in outlets) == len(labels.article_pages)
    assert all(r["originals"] + r["copies"] == r["articles"] for r in outlets)
    assert _query(analyst_con, "run_articles_per_outlet", second) == []
    rates = _query(analyst_con, "recent_duplicate_rates", second)
    assert [r["run_id"] for r in rates] == [first, second]
    assert rates[1]["duplicate_rate"] is None and 0 < rates[0]["duplicate_rate"] < 1
    sizes = _query(analyst_con, "run_story_sizes", first)
    assert sum(r["story_size"] * r["stories"] for r in sizes) == len(labels.article_pages)
    assert sum(r["stories"] for r in sizes) == len(labels.stories())
    errors = _query(analyst_con, "run_fetch_errors", first)
    assert [(r["error_class"], r["kind"], r["requests"]) for r in errors] == [
        ("http_status", "feed", 1)]
    top = _query(analyst_con, "run_top_stories", first)
    assert top[0]["story_id"] == _query(analyst_con, "trade_talks_stories_today")[0]["story_id"]
