"""One run over every hostile route: each gets its recorded outcome, the good article lands."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import store
from pipeline.cli import cmd_run, parse_args
from pipeline.config import load_config
from pipeline.errors import TooManyFailures
from pipeline.fixtures import HOSTILE_ROUTES
from pipeline.fixtures.feeds_config import write_hostile_config
from pipeline.fixtures.hostile import OK_PAGE_PATH
from pipeline.runner import run_once

#: What the fixture calls each misbehaviour, and the error classes the pipeline records.
RECORDED_AS = {
    "timeout": {"timeout"},
    "http_status": {"http_status"},
    "too_many_redirects": {"too_many_redirects", "redirect_loop"},
    "too_large": {"too_large"},
    "not_html": {"bad_content_type"},
    "no_text": {"empty_body", "no_text"},
    "not_feed": {"empty_body", "not_a_feed"},
}
ROUTES = [r for r in HOSTILE_ROUTES if r.name != "huge-feed"]  # needs the default size cap


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory, fixture_server) -> Path:
    state = tmp_path_factory.mktemp("hostile")
    config = write_hostile_config(fixture_server.base_url, state / "feeds.yaml",
                                  routes=[r.name for r in ROUTES], fetch={"max_error_rate": 1.0})
    run_once(load_config(config), db_path=state / "news.duckdb", staging_dir=state / "staging",
             run_id="hostile-1")
    return state / "news.duckdb"


def _rows(db: Path, sql: str, *params) -> list[tuple]:
    con = store.reader(db)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _errors(db: Path, path: str, kind: str) -> set[str | None]:
    """The error class of the last attempt at each URL under `path` of this kind."""
    rows = _rows(db, """
        SELECT arg_max(error_class, attempt) FROM fetch_log
        WHERE kind IN (?, 'extract') AND url LIKE '%' || ? || '%' AND url NOT LIKE '%robots.txt'
        GROUP BY url""", kind, path)
    return {r[0] for r in rows}


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_each_hostile_route_gets_its_recorded_outcome(route, hostile_db):
    if route.expect in RECORDED_AS:
        for kind in ("feed", "page") if route.kind == "any" else (route.kind,):
            assert _errors(hostile_db, route.path, kind) <= RECORDED_AS[route.expect] | {None}
            assert _errors(hostile_db, route.path, kind) & RECORDED_AS[route.expect]
        assert _rows(hostile_db, "SELECT count(*) FROM articles WHERE url LIKE '%' || ?",
                     route.path) == [(0,)]
        if route.kind in ("feed", "any"):
            (error,), = _rows(hostile_db, "SELECT last_error FROM feeds WHERE feed_url LIKE '%' || ?",
                              route.path)
            assert error.split(":")[0] in RECORDED_AS[route.expect]
    elif route.expect == "stored":
        (text,), = _rows(hostile_db, "SELECT text FROM articles WHERE url LIKE '%' || ?", route.path)
        assert "\u201cnew rules\u201d" in text and "Z\u00fcrich" in text
    elif route.expect in ("entries", "malformed"):
        (error, count, malformed), = _rows(
            hostile_db, "SELECT last_error, last_entry_count, last_malformed FROM feeds "
                        "WHERE feed_url LIKE '%' || ?", route.path)
        assert error is None and count > 0
        if route.expect == "malformed":
            assert malformed is True
        urls = _rows(hostile_db, "SELECT url FROM feed_entries WHERE feed_url LIKE '%' || ?", route.path)
        assert urls and all(u.startswith("http://127.0.0.1:") for (u,) in urls)
    else:
        pytest.fail(f"no check for the expectation {route.expect!r} of {route.name}")


def test_the_good_article_lands_and_nothing_is_half_written(hostile_db):
    assert _rows(hostile_db, "SELECT count(*) FROM articles WHERE url LIKE '%' || ?", OK_PAGE_PATH) == [(1,)]
    (batches, runs), = _rows(hostile_db, "SELECT (SELECT count(*) FROM staged_batches), "
                                         "(SELECT count(*) FROM runs)")
    assert batches >= 1 and runs == 1
    orphans = _rows(hostile_db, "SELECT count(*) FROM article_urls u ANTI JOIN articles a USING (article_id)")
    assert orphans == [(0,)]


def test_a_huge_feed_is_read_and_drained_over_runs(tmp_path, fixture_server):
    config_path = write_hostile_config(
        fixture_server.base_url, tmp_path / "feeds.yaml", routes=["huge-feed"],
        fetch={"max_bytes": 10_000_000, "max_new_pages_per_feed": 50},
    )
    config = load_config(config_path)
    db = tmp_path / "news.duckdb"
    for run in ("huge-1", "huge-2"):
        run_once(config, db_path=db, staging_dir=tmp_path / "staging", run_id=run)
    entries = _rows(db, "SELECT count(*) FROM feed_entries WHERE feed_url LIKE '%huge-feed'")
    per_run = _rows(db, "SELECT run_id, count(*) FROM articles WHERE feed_url LIKE '%huge-feed' "
                        "GROUP BY run_id ORDER BY run_id")
    assert entries == [(10_000,)]
    assert per_run == [("huge-1", 50), ("huge-2", 50)]  # the backlog drains, capped per run


def test_above_the_error_rate_the_run_fails_after_loading_what_succeeded(tmp_path, fixture_server):
    config_path = write_hostile_config(fixture_server.base_url, tmp_path / "feeds.yaml",
                                       routes=["not-found", "server-error", "empty-page"],
                                       fetch={"max_error_rate": 0.2, "retries": 0})
    db = tmp_path / "news.duckdb"
    with pytest.raises(TooManyFailures, match="exceed fetch.max_error_rate 20%"):
        cmd_run(parse_args(["run", "--config", str(config_path), "--db", str(db)]))
    assert _rows(db, "SELECT count(*) FROM articles WHERE url LIKE '%' || ?", OK_PAGE_PATH) == [(1,)]
    assert _rows(db, "SELECT count(*) FROM fetch_log WHERE error_class IS NOT NULL")[0][0] >= 3
