"""The scaled fixture web: deterministic, the promised shape, wire copies, served on request."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from pathlib import Path

import feedparser
import httpx
import pytest

from pipeline.config import load_config
from pipeline.fixtures import FixtureServer
from pipeline.fixtures.scale import SCALE_PREFIX, WIRE_COPIES, ScaledWeb, write_scaled_config

SAMPLE = range(0, 100_000, 997)


@pytest.fixture(scope="module")
def web() -> ScaledWeb:
    return ScaledWeb()


@pytest.fixture(scope="module")
def small() -> ScaledWeb:
    return ScaledWeb(articles=600, feeds=40)


@pytest.fixture(scope="module")
def served(small: ScaledWeb, tmp_path_factory: pytest.TempPathFactory):
    with FixtureServer(tmp_path_factory.mktemp("empty-root")) as server:
        small.mount(server)
        yield server


def test_default_shape_is_at_least_the_issue_asks(web: ScaledWeb) -> None:
    assert web.articles >= 100_000
    assert web.feeds >= 1_000
    assert len({web.feed(f).path for f in range(web.feeds)}) == web.feeds


def test_same_seed_same_bytes_other_seed_other_text(web: ScaledWeb) -> None:
    again, other = ScaledWeb(), ScaledWeb(seed=web.seed + 1)
    for i in (0, 4_321, 99_999):
        assert web.page_html(i, "http://h") == again.page_html(i, "http://h")
        assert web.paragraphs(i) != other.paragraphs(i)
    assert web.feed_xml(17, "http://h") == again.feed_xml(17, "http://h")


def test_every_sampled_path_resolves_back_to_its_article(web: ScaledWeb) -> None:
    paths = [web.article(i).path for i in SAMPLE]
    assert len(set(paths)) == len(paths)
    assert all(web.resolve(p) == ("page", i) for p, i in zip(paths, SAMPLE, strict=True))
    assert web.resolve(paths[0] + "x") is None
    assert web.resolve(f"{SCALE_PREFIX}/o0001/2025/01/01/no-such-{web.articles}") is None


def test_articles_are_news_sized(web: ScaledWeb) -> None:
    words = [len(" ".join(web.paragraphs(i)).split()) for i in SAMPLE]
    sizes = [len(web.page_html(i, "http://h").encode()) for i in SAMPLE[:20]]
    assert 300 <= min(words) and max(words) <= 1_500
    assert all(40_000 <= s <= 300_000 for s in sizes)


def test_wire_stories_are_copied_by_distinct_outlets_and_own_stories_are_single(small: ScaledWeb) -> None:
    stories: dict[str, list[int]] = defaultdict(list)
    for i in range(small.articles):
        stories[small.article(i).story].append(i)
    wire = {s: ids for s, ids in stories.items() if s.startswith("wire-")}
    assert wire and all(len(ids) == 1 for s, ids in stories.items() if s not in wire)
    for ids in wire.values():
        outlets = {small.article(i).outlet for i in ids}
        assert 1 < len(ids) <= WIRE_COPIES and len(outlets) == len(ids)
        # copies share most of their text, yet are not byte-identical pages
        first = set(" ".join(small.paragraphs(ids[0])).split("."))
        for other in ids[1:]:
            shared = first & set(" ".join(small.paragraphs(other)).split("."))
            assert len(shared) >= 0.6 * len(first)
    share = sum(len(ids) for ids in wire.values()) / small.articles
    assert 0.1 <= share <= 0.3


def test_each_feed_lists_exactly_its_articles_newest_first(small: ScaledWeb) -> None:
    for f in (0, 7, small.feeds - 1):
        parsed = feedparser.parse(small.feed_xml(f, "http://h").encode())
        links = [e.link for e in parsed.entries]
        assert links == ["http://h" + small.article(i).path for i in small.feed_articles(f)]
        dates = [small.article(i).published_at for i in small.feed_articles(f)]
        assert dates == sorted(dates, reverse=True)


def test_server_answers_pages_feeds_304_and_404(small: ScaledWeb, served: FixtureServer) -> None:
    label = small.article(42)
    with httpx.Client() as client:
        page = client.get(served.url(label.path))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert escape(small.paragraphs(42)[1]) in page.text and served.base_url in page.text
        again = client.get(served.url(label.path), headers={"If-None-Match": page.headers["etag"]})
        assert again.status_code == 304
        feed = client.get(served.url(small.feed(3).path))
        assert feed.status_code == 200 and "xml" in feed.headers["content-type"]
        assert client.get(served.url(label.path + "-nope")).status_code == 404


def test_scaled_config_names_every_feed_and_validates(small: ScaledWeb, tmp_path: Path) -> None:
    path = write_scaled_config(small, "http://127.0.0.1:9", tmp_path / "feeds.yaml", shards=3)
    config = load_config(path)
    assert len(config.feeds()) == small.feeds and config.shards == 3
    assert config.fetch.allow_private_addresses
    outlets = {feed.outlet for _, feed in config.feeds()}
    assert len(outlets) == small.outlets
