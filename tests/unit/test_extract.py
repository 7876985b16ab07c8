from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from pipeline.extract import extract_page, summary_text
from pipeline.records import Failure, FeedEntry, Response

SEED = (Path(__file__).parents[2] / "seeds" / "000_fa51366d3b3745ac.txt").read_text(encoding="utf-8")
URL = "http://127.0.0.1:9/wire/talks.html"
NOW = datetime(2025, 10, 26, 12, tzinfo=UTC)


def _page(body: str, *, head: str = "") -> Response:
    html = f"""<!doctype html><html lang="en"><head><title>Talks end | Wire</title>{head}</head>
<body><nav><a href="/">Home</a> <a href="/w">World</a> Subscribe to our channels</nav>
<main><article><h1>Talks end</h1>{body}</article></main>
<aside>Related: Ten best beaches of the year</aside><footer>Copyright Pacific Wire Syndicate</footer>
</body></html>"""
    return Response(URL, URL, 200, (("content-type", "text/html"),), html.encode(), NOW)


def _entry(**kw) -> FeedEntry:
    return FeedEntry(feed_url="http://127.0.0.1:9/feed", entry_key=URL, url=URL, title="Talks end",
                     summary=kw.get("summary"), published_at=kw.get("published_at"))


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{line}</p>" for line in text.splitlines() if line.strip())


def test_body_text_without_template_or_headline():
    found = extract_page(_page(_paragraphs(SEED)), _entry())
    assert not isinstance(found, Failure)
    assert found.text_source == "page"
    assert found.text.startswith("KUALA LUMPUR: China and the United States")
    for template in ("Subscribe to our channels", "Ten best beaches", "Copyright Pacific Wire"):
        assert template not in found.text
    assert found.title == "Talks end"
    assert found.language == "en"


def test_metadata_authors_dates_and_local_time():
    head = ('<meta name="author" content="By Jane Roe and John Doe">'
            '<meta property="article:published_time" content="2025-10-26T08:15:00+08:00">'
            '<meta property="og:site_name" content="Pacific Wire">'
            f'<link rel="canonical" href="{URL}">')
    found = extract_page(_page(_paragraphs(SEED), head=head), _entry())
    assert found.authors == ("Jane Roe", "John Doe")
    assert found.published_at == datetime(2025, 10, 26, 0, 15, tzinfo=UTC)
    assert found.published_at_source == "meta"
    assert found.site_name == "Pacific Wire"
    assert found.canonical_url == URL


def test_feed_date_when_the_page_has_none():
    feed_time = datetime(2025, 10, 26, 3, 0, tzinfo=timezone(timedelta(0)))
    found = extract_page(_page(_paragraphs(SEED)), _entry(published_at=feed_time))
    assert (found.published_at, found.published_at_source) == (feed_time, "feed")


def test_summary_is_kept_when_the_page_has_no_text():
    summary = "<p>China and the United States agreed a framework on trade in Kuala Lumpur.</p>"
    found = extract_page(_page("<p>Video</p>"), _entry(summary=summary))
    assert found.text_source == "feed_summary"
    assert found.text == "China and the United States agreed a framework on trade in Kuala Lumpur."


def test_no_text_and_no_summary_is_a_recorded_failure():
    found = extract_page(_page(""), _entry())
    assert isinstance(found, Failure) and found.kind == "no_text"


def test_garbage_bytes_are_a_failure_not_an_exception():
    page = Response(URL, URL, 200, (), b"\x89PNG\r\n\x1a\n\x00\x00garbage", NOW)
    assert isinstance(extract_page(page, _entry()), Failure)


def test_summary_text_strips_markup():
    assert summary_text("<b>Hello</b> <i>world</i>") == "Hello world"
    assert summary_text(None) == ""


def test_a_windows_1252_page_declared_utf8_keeps_its_quotes():
    body = _paragraphs(SEED.replace('"We have agreed', "\u201cWe have agreed"))
    html = _page(body).body.decode().encode("cp1252")
    page = Response(URL, URL, 200, (("content-type", "text/html; charset=utf-8"),), html, NOW)
    found = extract_page(page, _entry())
    assert "\u201cWe have agreed" in found.text
