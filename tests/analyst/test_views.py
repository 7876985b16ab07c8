"""The analyst views on a real fixture-web database, checked against the generator's labels."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from pipeline.store import VIEWS_DIR

from .conftest import DEAD_OUTLET

VIEWS = sorted(path.stem for path in VIEWS_DIR.glob("*.sql"))
SEED_STORY = "seed-000"
WIRE_OUTLET = "pacific-wire"


def rows(con, sql: str, params: dict | None = None) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def story_of_label(analyst_con, labels) -> dict[str, str]:
    """label story -> stored story_id, found through the article URLs."""
    by_path = {urlsplit(r["url"]).path: r["story_id"]
               for r in rows(analyst_con, "SELECT url, story_id FROM articles")}
    mapping: dict[str, set[str]] = defaultdict(set)
    for article in labels.article_pages:
        mapping[article.story].add(by_path[article.path])
    assert all(len(ids) == 1 for ids in mapping.values()), mapping  # dedup's job, checked here
    return {story: ids.pop() for story, ids in mapping.items()}


def _first_label(articles) -> object:
    return min(articles, key=lambda a: a.published)


#: Views whose rows need history a plain fixture run has not made, and the test that has it.
NEEDS_HISTORY = {
    "article_changes": "tests/integration/test_identity_revisions.py (revisions served between runs)",
}


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_answers(analyst_con, view: str) -> None:
    found = rows(analyst_con, f"SELECT * FROM {view}")  # names come from our own sql/ folder
    if view in NEEDS_HISTORY:
        assert found == [], f"{view} has rows before any revision; see {NEEDS_HISTORY[view]}"
    else:
        assert found, f"view {view} is empty on the fixture database"


def test_seed_story_outlets_and_first_publisher(analyst_con, labels, story_of_label) -> None:
    seed = labels.stories()[SEED_STORY]
    story_id = story_of_label[SEED_STORY]
    story = rows(analyst_con, "SELECT * FROM stories WHERE story_id = $s", {"s": story_id})[0]
    assert story["outlets"] == sorted({a.outlet for a in seed})
    first = rows(analyst_con, "SELECT * FROM first_publishers WHERE story_id = $s",
                 {"s": story_id})[0]
    assert first["first_outlet"] == WIRE_OUTLET == _first_label(seed).outlet
    assert first["first_published_at"] == _first_label(seed).published
    assert first["outlet_count"] == len({a.outlet for a in seed})
    second = sorted(seed, key=lambda a: a.published)[1]
    assert first["runner_up_outlet"] == second.outlet
    lead = (second.published - _first_label(seed).published).total_seconds() / 60
    assert first["lead_minutes"] == pytest.approx(lead)


def test_first_publisher_of_every_shared_story(analyst_con, labels, story_of_label) -> None:
    found = {r["story_id"]: r for r in rows(analyst_con, "SELECT * FROM first_publishers")}
    stories = labels.stories()
    shared = {k: v for k, v in stories.items() if len({a.outlet for a in v}) > 1}
    assert shared, "the fixture web should carry stories on several outlets"
    for story, articles in shared.items():
        assert found[story_of_label[story]]["first_outlet"] == _first_label(articles).outlet, story
    assert len(found) == len(stories)


def _expected_coverage(labels) -> dict[str, dict[str, object]]:
    """Per outlet from the labels: articles, copies of a story another outlet ran first,
    and the median delay of those copies in minutes."""
    expected: dict[str, dict[str, object]] = {}
    delays: dict[str, list[float]] = defaultdict(list)
    first_of = {story: _first_label(arts) for story, arts in labels.stories().items()}
    for article in labels.article_pages:
        first = first_of[article.story]
        if first.outlet != article.outlet:
            delays[article.outlet].append((article.published - first.published).total_seconds() / 60)
    for outlet, count in Counter(a.outlet for a in labels.article_pages).items():
        copies = delays.get(outlet, [])
        expected[outlet] = {"articles": count, "wire_copies": len(copies),
                            "median_delay_minutes": statistics.median(copies) if copies else None}
    return expected


def test_coverage_by_outlet_matches_labels(analyst_con, labels) -> None:
    found = {r["outlet"]: r for r in rows(analyst_con, "SELECT * FROM coverage_by_outlet")}
    expected = _expected_coverage(labels)
    assert set(found) == set(expected)
    for outlet, want in expected.items():
        got = found[outlet]
        assert got["articles"] == want["articles"], outlet
        assert got["wire_copies"] == want["wire_copies"], outlet
        assert got["wire_copy_share"] == pytest.approx(want["wire_copies"] / want["articles"])
        if want["median_delay_minutes"] is None:
            assert got["median_delay_minutes"] is None, outlet
        else:
            assert got["median_delay_minutes"] == pytest.approx(want["median_delay_minutes"])
    assert found[WIRE_OUTLET]["wire_copies"] == 0


def test_topic_timeline_adds_up(analyst_con, labels) -> None:
    per_topic = dict(analyst_con.execute(
        "SELECT topic, count(*) FROM articles WHERE page_type = 'article' GROUP BY topic").fetchall())
    for period in ("hour", "day"):
        sums = dict(analyst_con.execute(
            "SELECT topic, sum(articles) FROM topic_timeline WHERE period = $p GROUP BY topic",
            {"p": period}).fetchall())
        assert sums == per_topic, period
        new = analyst_con.execute(
            "SELECT sum(new_stories) FROM topic_timeline WHERE period = $p", {"p": period}
        ).fetchall()[0][0]
        stories_per_topic = analyst_con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT topic, story_id FROM articles "
            "WHERE page_type = 'article')").fetchall()[0][0]
        assert new == stories_per_topic, period  # each story is new once per topic
    assert sum(per_topic.values()) == len(labels.article_pages)
    # Hours roll up into their day.
    mismatched = analyst_con.execute("""
        SELECT d.topic, d.period_start_at FROM topic_timeline AS d
        LEFT JOIN (SELECT topic, date_trunc('day', timezone('UTC', period_start_at)) AS day,
                          sum(articles) AS articles
                   FROM topic_timeline WHERE period = 'hour' GROUP BY ALL) AS h
          ON h.topic = d.topic AND h.day = timezone('UTC', d.period_start_at)
        WHERE d.period = 'day' AND h.articles IS DISTINCT FROM d.articles""").fetchall()
    assert mismatched == []


def test_topic_timeline_buckets_are_utc(analyst_con) -> None:
    starts = [r[0] for r in analyst_con.execute(
        "SELECT period_start_at FROM topic_timeline WHERE period = 'day'").fetchall()]
    assert starts and all(isinstance(s, datetime) and s.utcoffset() is not None for s in starts)
    utc = analyst_con.execute("""SELECT count(*) FROM topic_timeline WHERE period = 'day'
        AND timezone('UTC', period_start_at)::TIME <> TIME '00:00'""").fetchall()[0][0]
    assert utc == 0


def test_fetch_health_per_feed(analyst_con, analyst_world) -> None:
    found = {r["feed_url"]: r for r in rows(analyst_con, "SELECT * FROM fetch_health")}
    assert set(found) == set(analyst_world.feed_urls)
    runs = len(analyst_world.run_ids)
    for url, feed in found.items():
        assert feed["polls"] == runs, url
        if url == analyst_world.dead_feed_url:
            continue
        assert not feed["is_failing"] and feed["error_rate"] == 0, url
        assert feed["last_success_at"] is not None and feed["last_success_at"] == feed["last_polled_at"]
        assert feed["pages"] > 0, url
    dead = found[analyst_world.dead_feed_url]
    assert dead["outlet"] == DEAD_OUTLET and dead["is_failing"]
    assert dead["last_success_at"] is None and dead["error_rate"] == 1.0
    assert dead["poll_errors"] == runs and dead["last_error_class"] == "http_status"
    assert "404" in dead["last_error_detail"]
