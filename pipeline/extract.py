"""Text and metadata of an article page (trafilatura), or the feed summary when it gives none."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .charsets import declared_charset, decode_html
from .languages import confirms
from .metadata import DEFAULT_FUTURE_TOLERANCE, PageMetadata, read_metadata
from .records import DateFinding, Failure, FeedEntry, Response, TextSource

__all__ = ["Extraction", "extract_page", "parse_page", "summary_text", "warm_up"]

log = logging.getLogger(__name__)

#: Below this many words a page is taken to have given no article text.
MIN_WORDS = 25
_HTML_LANG = re.compile(rb"<html[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_DATE_PARAMS = {
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
    "extensive_search": False,  # guesses from free text are worse than the feed's date
    "original_date": True,  # published, not modified
}
#: Below this many words the detector's guess is too weak to overrule a declaration.
MIN_WORDS_TO_CHECK_LANGUAGE = 60
#: Characters of text the detector reads: its verdict is settled well within this much
#: running text, and its tokenizer (a Python loop per byte) costs time in proportion.
LANGUAGE_SAMPLE_CHARS = 1200


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
    credits: tuple[str, ...] = ()
    modified_at: datetime | None = None
    modified_at_source: str | None = None
    section: str | None = None
    page_type: str = "article"
    canonicals: tuple[str, ...] = ()
    amp_urls: tuple[str, ...] = ()
    findings: tuple[DateFinding, ...] = ()


def _drop_title_line(text: str, title: str | None) -> str:
    """Headlines are metadata: a copy with a rewritten headline must keep the same text."""
    first, _, rest = text.partition("\n")
    if title and first.strip().casefold() == title.strip().casefold():
        return rest.lstrip("\n")
    return text


def _language(body: bytes, declared: tuple[str | None, ...], text: str) -> str | None:
    """The page's declared language, checked against the text.

    Templates declare one language for a whole site, so a long text the detector reads
    as another language wins over the declaration.
    """
    match = _HTML_LANG.search(body[:4096])
    stated = [d for d in (match.group(1).decode() if match else None, *declared) if d]
    lang = (stated[0] if stated else "").lower()[:2]
    if lang and len(text.split()) < MIN_WORDS_TO_CHECK_LANGUAGE:
        return lang
    if not text:
        return lang or None
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if lang and confirms(lang, sample):
        return lang  # the declaration holds: no need for the detector
    import py3langid  # ships its model; imported where used

    return py3langid.classify(sample)[0] or lang or None


def warm_up() -> None:
    """Import the extractor and load the language model now, in a new extraction process:
    the first pages do not wait for them, and the process's memory is what it will stay
    (the model is 90 MB, and pages that need it come sooner or later)."""
    import py3langid
    import trafilatura  # noqa: F401 - imported for its import time

    py3langid.classify("warm up")


def summary_text(summary: str | None) -> str:
    """Plain text of a feed summary (feedparser already sanitised its HTML)."""
    if not summary:
        return ""
    import lxml.html

    try:
        return " ".join(lxml.html.fromstring(summary).text_content().split())
    except (ValueError, lxml.etree.ParserError):
        return " ".join(summary.split())


def parse_page(html: str) -> Any:
    """The page's lxml tree as trafilatura parses it (None when it is not HTML at all)."""
    from trafilatura.utils import load_html

    return load_html(html)


@dataclass(frozen=True, slots=True)
class _PageFields:
    """What the pipeline keeps of trafilatura's metadata."""

    title: str | None = None
    author: str | None = None
    date: str | None = None
    sitename: str | None = None
    url: str | None = None


def _trafilatura_fields(tree: Any, url: str) -> _PageFields:
    """Title, author, date, site name and URL by trafilatura's own metadata steps.

    `bare_extraction(with_metadata=True)` also derives categories, tags and a licence
    from every link of the page (a tenth of its time), which the pipeline reads its own
    way (metadata.py) or not at all; so these fields are asked for one by one, in the
    order and with the fallbacks trafilatura uses.
    """
    from htmldate import find_date
    from trafilatura import metadata as tm

    meta = tm.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a bare handle, not a name
    try:
        meta = tm.extract_meta_json(tree, meta)
    except Exception as exc:  # trafilatura's JSON-LD bugs: the meta tags' fields still hold
        log.warning("%s: trafilatura could not read its JSON-LD: %s", url, exc)
    title = meta.title or tm.extract_title(tree)
    author = meta.author or tm.extract_author(tree)
    page_url = meta.url or tm.extract_url(tree, url)
    sitename = (meta.sitename or tm.extract_sitename(tree) or "").lstrip("@")
    if sitename and "." not in sitename and not sitename[0].isupper():
        sitename = sitename.title()
    elif not sitename and page_url:
        match = tm.META_URL.match(page_url)
        sitename = match[1] if match else ""
    fields = tm.Document()
    fields.title, fields.author, fields.url, fields.sitename = title, author, page_url, sitename
    fields.date = find_date(tree, **_DATE_PARAMS, url=page_url)
    fields.clean_and_trim()  # entities, spaces and length, as trafilatura leaves them
    return _PageFields(fields.title or None, fields.author or None, fields.date,
                       fields.sitename or None, fields.url or None)


def extract_page(
    page: Response,
    entry: FeedEntry,
    *,
    timezone: str = "UTC",
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
) -> Extraction | Failure:
    """Article text and metadata from a fetched page; the feed summary if the page has none.

    An article is never lost because a page defeated the extractor: its summary is kept
    and marked `text_source='feed_summary'`. Dates, authors, section, tags and page type
    come from `metadata.read_metadata` (its docstring gives the date precedence).
    """
    import trafilatura  # heavy: imported where used

    try:
        html = decode_html(page.body, declared_charset(page.header("content-type")))
        tree = parse_page(html)
        # trafilatura works on its own copy of a tree it is given, so the metadata code
        # below reads the same parse: one parse per page instead of three.
        doc = trafilatura.bare_extraction(
            tree if tree is not None else html, url=page.final_url, include_comments=False,
        )
        fields = _trafilatura_fields(tree, page.final_url) if tree is not None else _PageFields()
    except Exception as exc:  # the extractor's own bugs on hostile HTML: a recorded failure
        html, tree, doc, error = "", None, None, f"{type(exc).__name__}: {exc}"[:300]
        fields = _PageFields()
    else:
        error = "no article text found"
    meta = read_metadata(
        html, page.final_url, timezone=timezone, feed_published=entry.published_at,
        feed_categories=entry.categories, page_date=fields.date,
        extra_authors=(fields.author,) if fields.author else (),
        fetched_at=page.fetched_at, future_tolerance=future_tolerance, tree=tree,
    ) if html else PageMetadata()
    title = fields.title or entry.title
    text = _drop_title_line((doc.text or "") if doc else "", title)
    source: TextSource = "page"
    if len(text.split()) < MIN_WORDS:
        fallback = summary_text(entry.summary)
        if fallback:
            text, source = fallback, "feed_summary"
        elif meta.page_type == "article":
            return Failure("no_text", page.final_url, error, status=page.status)
        # A video or index page with little text is still kept, flagged by page_type.
    return Extraction(
        title=title,
        text=text,
        text_source=source,
        authors=meta.authors,
        credits=meta.credits,
        published_at=meta.published_at,
        published_at_source=meta.published_at_source,
        modified_at=meta.modified_at,
        modified_at_source=meta.modified_at_source,
        site_name=fields.sitename,
        language=_language(page.body, (meta.language,), text),
        canonical_url=meta.canonicals[0] if meta.canonicals else fields.url,
        canonicals=meta.canonicals,
        amp_urls=meta.amp_urls,
        section=meta.section,
        tags=meta.tags,
        page_type=meta.page_type,
        findings=meta.findings,
    )
