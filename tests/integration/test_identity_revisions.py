"""Issue 11's acceptance, in-process against its own fixture server (publishing revisions
changes what a server serves, so this module does not share the session's).

Runs: first ingest, an immediate rerun (nothing fetched), then re-checks at +1 h (after
the headline change is published), +3 h (nothing new published) and +12 h (after the
correction is published), and finally a replay of an already loaded run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import store
from pipeline.config import load_config
from pipeline.fixtures import FixtureServer, build_web, load_labels, write_feeds_config
from pipeline.load import RunInfo
from pipeline.runner import load_staged, run_once
from pipeline.staging import read_report
from pipeline.urls import normalise_url

RECHECK_OFFSETS = {"rev2": timedelta(hours=1, minutes=5), "quiet": timedelta(hours=3, minutes=5),
                   "rev3": timedelta(hours=12, minutes=5)}


def _rows(db: Path, sql: str, params: object = None) -> list[tuple]:
    con = store.reader(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The fixture web ingested through every run above; yields what the tests read."""
    root = tmp_path_factory.mktemp("identity")
    build_web(root / "web")
    labels = load_labels(root / "web")
    db, staging = root / "news.duckdb", root / "staging"
    with FixtureServer(root / "web") as server:
        config = load_config(write_feeds_config(root / "web", server.base_url, root / "f.yaml"))
        start = datetime.now(UTC)

        def run(run_id: str, offset: timedelta = timedelta()):
            return run_once(config, db_path=db, staging_dir=staging, run_id=run_id,
                            now=lambda: datetime.now(UTC) + offset)

        state = {"server": server, "labels": labels, "db": db, "first_hits": {}}
        state["first"] = run("first")
        state["first_requests"] = server.requests()
        server.clear_requests()
        state["rerun"] = run("rerun")
        state["rerun_requests"] = server.requests()
        state["stories_before"] = dict(_rows(db, "SELECT article_id, story_id FROM articles"))
        server.publish_revision(2)
        state["rev2"] = run("rev2", RECHECK_OFFSETS["rev2"])
        state["quiet"] = run("quiet", RECHECK_OFFSETS["quiet"])
        server.publish_revision(3)
        state["rev3"] = run("rev3", RECHECK_OFFSETS["rev3"])
        state["counts_before_replay"] = _table_counts(db)
        reports = [read_report(p) for p in sorted((staging / "rev3").iterdir())]
        state["replay"] = load_staged(db, reports, run=RunInfo("rev3", "cli", start),
                                      dedup=config.dedup)
        state["counts_after_replay"] = _table_counts(db)
        state["elapsed"] = datetime.now(UTC) - start
        yield state


def _table_counts(db: Path) -> dict[str, int]:
    tables = ("articles", "article_urls", "article_checks", "article_revisions",
              "article_findings")
    return {t: _rows(db, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def _url(world, path: str) -> str:
    return normalise_url(world["server"].url(path))


def _stored(world) -> dict[str, tuple]:
    rows = _rows(world["db"], "SELECT url, article_id, published_at, published_at_source, "
                              "page_type, story_id, syndicated_from FROM articles")
    return {r[0]: r[1:] for r in rows}


def test_every_variant_maps_to_one_article_and_none_is_fetched_again(world):
    labels, server = world["labels"], world["server"]
    stored = _stored(world)
    assert set(stored) == {_url(world, a.path) for a in labels.articles}
    url_map = dict(_rows(world["db"], "SELECT url, article_id FROM article_urls"))
    variants_checked = 0
    for label in labels.articles:
        article_id = stored[_url(world, label.path)][0]
        for variant in label.variants:
            # a wrapper lives on the primary origin; an AMP twin beside its page
            url = normalise_url(server.base_url + variant) if variant.startswith("/go/") \
                else _url(world, variant)
            assert url_map.get(url) == article_id, (label.path, variant)
            variants_checked += 1
    assert variants_checked >= 5
    # The rerun fetched no article page and no variant: only feeds (answered 304).
    rerun = world["rerun_requests"]
    assert rerun and all(r.status == 304 for r in rerun if not r.path.endswith("robots.txt"))
    fetched_first = [r.path.split("?")[0] for r in world["first_requests"]]
    for label in labels.articles:
        seen = [p for p in fetched_first if p in (label.path, *label.variants)]
        assert 1 <= len(seen) <= 2, (label.path, seen)  # a wrapper and its target at most
        assert len(set(seen)) == len(seen)


def test_syndicated_copy_keeps_its_identity_and_joins_the_original_story(world):
    stored = _stored(world)
    copies = [a for a in world["labels"].articles if a.syndicated_from]
    assert copies
    for label in copies:
        _, _, _, _, story, syndicated = stored[_url(world, label.path)]
        original = stored[_url(world, label.syndicated_from)]
        assert syndicated == _url(world, label.syndicated_from)
        assert story is not None and story == original[4]


def test_published_times_match_the_labels_with_their_source(world):
    stored = _stored(world)
    wrong = {}
    for label in world["labels"].articles:
        _, published, source, *_ = stored[_url(world, label.path)]
        expected = label.published.replace(second=0)
        if (published.replace(second=0, microsecond=0), source) != (expected,
                                                                    label.published_source):
            wrong[label.path] = (published, source, expected, label.published_source)
    assert wrong == {}
    assert {a.published_source for a in world["labels"].articles} >= {
        "json-ld", "meta", "feed", "url"}


def test_impossible_dates_become_findings_not_the_truth(world):
    stored = _stored(world)
    found = {(a, f"{field}:{source}:{reason}") for a, field, source, reason in _rows(
        world["db"], "SELECT article_id, field, source, reason FROM article_findings")}
    expected = {(stored[_url(world, a.path)][0], f) for a in world["labels"].articles
                for f in a.findings}
    assert expected and expected <= found
    years = [r[1].year for r in stored.values() if r[1] is not None]
    assert min(years) >= 1990 and max(years) < 2099


def test_non_articles_are_flagged_and_join_no_story(world):
    stored = _stored(world)
    for label in world["labels"].articles:
        _, _, _, page_type, story, _ = stored[_url(world, label.path)]
        assert page_type == label.page_type, label.path
        assert (story is None) == (label.page_type != "article"), label.path
    assert {a.page_type for a in world["labels"].articles} >= {"article", "live_blog", "video"}


def test_fixture_updates_produce_exactly_the_expected_revisions(world):
    stored = _stored(world)
    expected = {(stored[_url(world, a.path)][0], r["revision"], r["title"])
                for a in world["labels"].articles for r in a.revisions}
    got = {(a, n, t) for a, n, t in _rows(
        world["db"], "SELECT article_id, revision, title FROM article_revisions WHERE revision > 1")}
    assert expected and got == expected
    assert [world[k].load.revisions for k in ("rerun", "rev2", "quiet", "rev3")] == [0, 1, 0, 1]
    changes = _rows(world["db"], "SELECT revision, headline_changed, is_correction, diff "
                                 "FROM article_changes ORDER BY revision")
    assert [(n, h, c) for n, h, c, _ in changes] == [(2, True, False), (3, False, True)]
    assert "+[Correction:" in changes[1][3]
    latest = _rows(world["db"], "SELECT a.title, a.revision FROM articles AS a "
                                "WHERE a.revision > 1")
    assert latest == [(max(expected, key=lambda e: e[1])[2], 3)]


def test_unchanged_rechecks_record_the_check_only(world):
    checks = dict(_rows(world["db"], "SELECT outcome, count(*) FROM article_checks "
                                     "WHERE outcome <> 'first' GROUP BY ALL"))
    assert checks.get("revised") == 2
    assert checks.get("not_modified", 0) > 0  # answered 304 to the stored validators
    assert set(checks) <= {"revised", "not_modified", "unchanged"}
    assert world["quiet"].load.revisions == 0


def test_revisions_keep_stories_and_reruns_are_idempotent(world):
    after = dict(_rows(world["db"], "SELECT article_id, story_id FROM articles"))
    assert after == world["stories_before"]
    assert world["replay"].batches_loaded == 0
    assert world["counts_after_replay"] == world["counts_before_replay"]
