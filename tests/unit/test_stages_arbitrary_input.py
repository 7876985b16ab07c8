"""Arbitrary bytes into the feed and page stages: a result or a recorded Failure, never a raise."""

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.extract import Extraction, extract_page
from pipeline.poll import ParsedFeed, parse_feed, poll_result
from pipeline.records import Failure, FeedEntry, FeedPoll, Response

URL = "http://127.0.0.1:9/x"
NOW = datetime(2025, 10, 26, tzinfo=UTC)
ENTRY = FeedEntry(feed_url=URL, entry_key=URL, url=URL, title=None, summary=None, published_at=None)

XMLISH = st.one_of(
    st.binary(max_size=4000),
    st.text(max_size=2000).map(lambda t: f"<?xml version='1.0'?><rss><channel>{t}".encode()),
    st.lists(st.sampled_from([b"<item>", b"</item>", b"<link>", b"</link>", b"<entry>", b"&amp;",
                              b"<![CDATA[", b"]]>", b"\x00", b"\xff\xfe", b"<!ENTITY a 'b'>", b"&a;",
                              b"http://x/y", b"<pubDate>", b"Sun, 99 Foo 2025", b"<guid>"]),
             max_size=60).map(b"".join),
)
HTMLISH = st.one_of(
    st.binary(max_size=4000),
    st.lists(st.sampled_from([b"<html>", b"<body>", b"<p>", b"</p>", b"<article>", b"<script>",
                              b"<meta charset='utf-16'>", b"\xe2\x80", b"\x00", b"word ",
                              b"<title>", b"<time datetime='2025-13-45'>", b"<!--", b"-->"]),
             max_size=200).map(b"".join),
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(body=XMLISH)
def test_parse_feed_never_raises(body: bytes):
    result = parse_feed(body, feed_url=URL, headers={"content-type": "application/xml"})
    assert isinstance(result, ParsedFeed | Failure)
    if isinstance(result, ParsedFeed):
        assert all(e.url.startswith(("http://", "https://")) for e in result.entries)


@FAST
@given(body=XMLISH, status=st.sampled_from([200, 203, 304]))
def test_poll_result_never_raises(body: bytes, status: int):
    poll = poll_result(URL, Response(URL, URL, status, (), body, NOW), now=NOW)
    assert isinstance(poll, FeedPoll)


CONTENT_TYPES = ["text/html", "text/html; charset=utf-8", "text/html; charset=bogus",
                 "text/html; charset=cp1252"]


@FAST
@given(body=HTMLISH, content_type=st.sampled_from(CONTENT_TYPES))
def test_extract_page_never_raises(body: bytes, content_type: str):
    page = Response(URL, URL, 200, (("content-type", content_type),), body, NOW)
    assert isinstance(extract_page(page, ENTRY), Extraction | Failure)
