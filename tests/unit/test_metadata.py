"""Page metadata: date precedence, zones, impossible dates, credits, page types."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.metadata import parse_date, read_metadata, split_credits

NOW = datetime(2025, 10, 27, 12, tzinfo=UTC)
URL = "https://news.example.com/world/2025/10/26/talks-end"


def _page(*, ld: object = None, head: str = "", body: str = "<p>Text.</p>") -> str:
    script = (f'<script type="application/ld+json">{json.dumps(ld)}</script>'
              if ld is not None else "")
    return f"<html><head>{head}{script}</head><body><article>{body}</article></body></html>"


def _read(html: str, **kw):
    kw.setdefault("fetched_at", NOW)
    return read_metadata(html, kw.pop("url", URL), **kw)


def test_json_ld_beats_meta_feed_time_and_url():
    html = _page(ld={"@type": "NewsArticle", "datePublished": "2025-10-26T09:12:00+08:00"},
                 head='<meta property="article:published_time" content="2025-10-26T05:00:00Z">',
                 body='<time datetime="2025-10-26T07:00:00Z">7am</time>')
    found = _read(html, feed_published=datetime(2025, 10, 26, 6, tzinfo=UTC))
    assert (found.published_at, found.published_at_source) == (
        datetime(2025, 10, 26, 1, 12, tzinfo=UTC), "json-ld")


def test_graph_nodes_and_a_broken_block_are_handled():
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Ex"},
        {"@type": ["NewsArticle"], "datePublished": "2025-10-26T10:00:00Z",
         "author": [{"@type": "Person", "name": "Ana Lima"},
                    {"@type": "Organization", "name": "Reuters"}],
         "articleSection": "World", "keywords": "trade, China"},
    ]}
    html = _page(ld=graph, head='<script type="application/ld+json">{"@type": oops,</script>')
    found = _read(html)
    assert found.published_at == datetime(2025, 10, 26, 10, tzinfo=UTC)
    assert (found.authors, found.credits) == (("Ana Lima",), ("Reuters",))
    assert found.section == "World" and found.tags == ("trade", "China")
    assert found.page_type == "article"


def test_a_time_without_offset_is_read_in_the_outlet_zone():
    html = _page(ld={"@type": "NewsArticle", "datePublished": "2025-10-26T22:15:00"})
    found = _read(html, timezone="Australia/Sydney")
    assert found.published_at == datetime(2025, 10, 26, 11, 15, tzinfo=UTC)


def test_a_timed_feed_date_beats_a_day_only_page_date():
    html = _page(ld={"@type": "NewsArticle", "datePublished": "2025-10-26"})
    feed = datetime(2025, 10, 26, 8, 30, tzinfo=UTC)
    assert _read(html, feed_published=feed).published_at_source == "feed"
    url_only = _read(_page(), timezone="America/Chicago")
    assert url_only.published_at_source == "url"
    assert url_only.published_at == datetime(2025, 10, 26, 5, tzinfo=UTC)  # local midnight


@pytest.mark.parametrize(("raw", "reason"), [
    ("1970-01-01T00:00:00Z", "before_1990"),
    ("2099-12-31T23:59:00Z", "in_future"),
    ("the day before yesterday", "unparsable"),
])
def test_impossible_dates_are_findings_and_the_next_source_wins(raw, reason):
    html = _page(ld={"@type": "NewsArticle", "datePublished": raw})
    feed = datetime(2025, 10, 26, 8, 30, tzinfo=UTC)
    found = _read(html, feed_published=feed)
    assert (found.published_at, found.published_at_source) == (feed, "feed")
    assert [(f.field, f.source, f.reason) for f in found.findings] == [
        ("published_at", "json-ld", reason)]


def test_future_tolerance_is_respected():
    soon = (NOW + timedelta(minutes=30)).isoformat()
    html = _page(ld={"@type": "NewsArticle", "datePublished": soon})
    undated = "https://news.example.com/world/talks-end"
    assert _read(html, url=undated).published_at_source == "json-ld"
    assert _read(html, url=undated, future_tolerance=timedelta(minutes=10)).published_at is None


@pytest.mark.parametrize(("ld", "head", "url", "kind"), [
    ({"@type": "LiveBlogPosting"}, "", URL, "live_blog"),
    ({"@type": "VideoObject"}, "", URL, "video"),
    (None, '<meta property="og:type" content="video.other">', URL, "video"),
    (None, "", "https://ex.com/in-pictures/2025/storm-damage", "gallery"),
    (None, "", "https://ex.com/world/", "index"),
    ({"@type": "NewsArticle"}, "", "https://ex.com/video/explainer", "article"),
    (None, "", URL, "article"),
])
def test_page_types(ld, head, url, kind):
    assert _read(_page(ld=ld, head=head), url=url).page_type == kind


def test_credits_are_kept_apart_from_people():
    people, credits = split_credits([("By Jane Roe and John Doe", False),
                                     ("Staff and wire reports", False), ("AFP", False),
                                     ("Pacific Wire", False), ("Lantern Media", True)])
    assert people == ("Jane Roe", "John Doe")
    assert credits == ("Staff and wire reports", "AFP", "Pacific Wire", "Lantern Media")


def test_parse_date_forms():
    zone = ZoneInfo("Europe/London")
    assert parse_date("Sun, 26 Oct 2025 09:12:00 +0000", zone) == (
        datetime(2025, 10, 26, 9, 12, tzinfo=UTC), True)
    assert parse_date("20251026T0912Z", zone) == (datetime(2025, 10, 26, 9, 12, tzinfo=UTC), True)
    # a day alone is local midnight: 00:00 BST is 23:00 UTC the day before
    assert parse_date("2025-10-26", zone) == (datetime(2025, 10, 25, 23, 0, tzinfo=UTC), False)
    assert parse_date("", zone) is None and parse_date(None, zone) is None


def test_garbage_html_gives_empty_metadata():
    found = read_metadata("\x00\x01<<>", "https://ex.com/a/b")
    assert found.published_at is None and found.findings == ()
