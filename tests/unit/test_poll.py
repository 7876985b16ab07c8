from datetime import UTC, datetime

from pipeline.poll import parse_feed, poll_result
from pipeline.records import Failure, Response

FEED_URL = "http://127.0.0.1:9/wire/feed.xml"
NOW = datetime(2025, 10, 26, 12, tzinfo=UTC)

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>Wire</title>
<atom:link rel="hub" href="http://hub.example/"/>
<atom:link rel="self" href="http://127.0.0.1:9/wire/feed.xml"/>
<item><title>A</title><link>/wire/a.html?utm_source=rss</link><guid>a-1</guid>
<pubDate>Sun, 26 Oct 2025 08:00:00 +0800</pubDate><category>Trade</category></item>
<item><title>No link</title><description>x</description></item>
<item><title>B</title><link>http://127.0.0.1:9/wire/b.html#top</link></item>
<item><title>A again</title><link>/wire/a-copy.html</link><guid>a-1</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:t</id>
<updated>2025-10-26T10:00:00Z</updated>
<entry><title>E</title><id>urn:e1</id><link href="http://127.0.0.1:9/t/e.html"/>
<updated>2025-10-26T10:00:00Z</updated><summary>Sum</summary></entry></feed>"""


def test_rss_entries_are_normalised():
    parsed = parse_feed(RSS, feed_url=FEED_URL)
    assert not isinstance(parsed, Failure)
    urls = [e.url for e in parsed.entries]
    assert urls == ["http://127.0.0.1:9/wire/a.html", "http://127.0.0.1:9/wire/b.html"]
    first = parsed.entries[0]
    assert first.published_at == datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    assert first.categories == ("Trade",)
    assert parsed.entries[1].published_at is None
    assert parsed.hub_url == "http://hub.example/"
    assert parsed.skipped_without_link == 1


def test_atom_entries_and_summary():
    parsed = parse_feed(ATOM, feed_url=FEED_URL)
    (entry,) = parsed.entries
    assert (entry.entry_key, entry.summary) == ("urn:e1", "Sum")


def test_http_link_headers_win_over_document_links():
    parsed = parse_feed(RSS, feed_url=FEED_URL, headers={"Link": '<http://hub.two/>; rel="hub"'})
    assert parsed.hub_url == "http://hub.two/"


def test_garbage_is_a_failure_not_an_exception():
    result = parse_feed(b"\x00\xffnot xml at all", feed_url=FEED_URL)
    assert isinstance(result, Failure) and result.kind == "not_a_feed"


def test_a_304_is_not_parsed():
    response = Response(FEED_URL, FEED_URL, 304, (("ETag", '"v1"'),), b"<<not even xml", NOW)
    poll = poll_result(FEED_URL, response, now=NOW)
    assert poll.not_modified and poll.entries == () and poll.failure is None
    assert poll.etag == '"v1"'


def test_a_fetch_failure_becomes_a_failed_poll():
    failure = Failure("timeout", FEED_URL, "read timed out")
    poll = poll_result(FEED_URL, failure, now=NOW)
    assert poll.failure == failure and poll.entries == ()
