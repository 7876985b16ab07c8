"""Text and metadata of an article page (trafilatura), or the feed summary when it gives none."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .charsets import declared_charset, decode_html
from .records import Failure, FeedEntry, Response, TextSource

__all__ = ["Extraction", "extract_page", "summary_text"]

#: Below this many words a page is taken to have given no article text.
MIN_WORDS = 25
_HTML_LANG = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_DATE_PARAMS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "extensive_search": False,  # guesses from free text are worse than the feed's date
    "original_date": True,  # published, not modified
}
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&)\s*", re.IGNORECASE)
_BYLINE_PREFIX = re.compile(r"^\s*by\s+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Extraction:
    """What a page (or its feed entry) says about the article."""

    title: str | None
    text: str
    text_source: TextSource
    authors: tuple[str, ...]
    published_at: datetime | None
    published_at_source: str | None
    site_name: str | None
    language: str | None
    canonical_url: str | None
    tags: tuple[str, ...]


def _parse_time(value: str | None, zone: ZoneInfo) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A time without an offset is the outlet's local time, not UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _authors(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    names = (_BYLINE_PREFIX.sub("", part).strip() for part in _AUTHOR_SPLIT.split(raw))
    return tuple(dict.fromkeys(n for n in names if n))


def _drop_title_line(text: str, title: str | None) -> str:
    """Headlines are metadata: a copy with a rewritten headline must keep the same text."""
    first, _, rest = text.partition("\n")
    if title and first.strip().casefold() == title.strip().casefold():
        return rest.lstrip("\n")
    return text


def _language(body: bytes, declared: str | None, text: str) -> str | None:
    match = _HTML_LANG.search(body[:4096])
    lang = (declared or (match.group(1).decode() if match else "") or "").lower()[:2]
    if lang:
        return lang
    import py3langid  # ships its model; imported where used

    return py3langid.classify(text[:5000])[0] if text else None


def summary_text(summary: str | None) -> str:
    """Plain text of a feed summary (feedparser already sanitised its HTML)."""
    if not summary:
        return ""
    import lxml.html

    try:
        return " ".join(lxml.html.fromstring(summary).text_content().split())
    except (ValueError, lxml.etree.ParserError):
        return " ".join(summary.split())


def extract_page(page: Response, entry: FeedEntry, *, timezone: str = "UTC") -> Extraction | Failure:
    """Article text and metadata from a fetched page; the feed summary if the page has none.

    An article is never lost because a page defeated the extractor: its summary is kept
    and marked `text_source='feed_summary'`.
    """
    import trafilatura  # heavy: imported where used

    zone = ZoneInfo(timezone)
    try:
        html = decode_html(page.body, declared_charset(page.header("content-type")))
        doc = trafilatura.bare_extraction(
            html,
            url=page.final_url,
            include_comments=False,
            with_metadata=True,
            date_extraction_params=_DATE_PARAMS,
        )
    except Exception as exc:  # the extractor's own bugs on hostile HTML: a recorded failure
        doc, error = None, f"{type(exc).__name__}: {exc}"[:300]
    else:
        error = "no article text found"
    title = (doc.title if doc else None) or entry.title
    text = _drop_title_line((doc.text or "") if doc else "", title)
    source: TextSource = "page"
    if len(text.split()) < MIN_WORDS:
        fallback = summary_text(entry.summary)
        if not fallback:
            return Failure("no_text", page.final_url, error, status=page.status)
        text, source = fallback, "feed_summary"
    page_time = _parse_time(doc.date, zone) if doc else None
    # A page date at midnight is a day-only date: the feed's timestamp is more precise.
    if page_time and (page_time.hour, page_time.minute, page_time.second) != (0, 0, 0):
        published, published_source = page_time, "page"
    elif entry.published_at:
        published, published_source = entry.published_at, "feed"
    else:
        published, published_source = page_time, "page" if page_time else None
    return Extraction(
        title=title,
        text=text,
        text_source=source,
        authors=_authors(doc.author if doc else None),
        published_at=published,
        published_at_source=published_source,
        site_name=doc.sitename if doc else None,
        language=_language(page.body, doc.language if doc else None, text),
        canonical_url=doc.url if doc else None,
        tags=tuple(dict.fromkeys((*entry.categories, *((doc.tags or []) if doc else ())))),
    )
