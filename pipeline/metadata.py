"""Page metadata you can trust: dates, authors, section, tags, page type, canonical URLs.

Read from what publishers declare for machines (JSON-LD incl. @graph, microdata and
OpenGraph through extruct, meta tags), then from the feed entry, `<time>` elements and
the URL.

Date precedence (published; modified uses the first three):

1. JSON-LD `datePublished` of the page's main node: written for search engines, which
   validate it, and almost always a full timestamp with an offset.
2. Microdata `datePublished`: the same vocabulary in older markup.
3. Meta tags (`article:published_time`, `pubdate`, `DC.date.issued`, ...): also for
   machines, but CMSs fill them less carefully (build times, the modified time).
4. The feed entry's date: machine-made with a zone, but it is often the time the entry
   was (re)generated or updated rather than first published.
5. `<time datetime>` elements: meant for display; a page also shows times of related
   stories and comments, so only the page's own declarations outrank them.
6. The date in the URL (htmldate's URL rules): a day, never a time, but one the
   publisher chose when the page was made.
7. trafilatura's page date (htmldate without guessing from free text): whatever markup
   is left (abbr, classes); its URL rule is covered by 6.

A value with a time beats any day-only value, whatever their ranks (a day is read as
midnight in the outlet's zone only when nothing better exists). A time without an
offset is read in the outlet's configured time zone. Every value is checked before it is
believed: before 1990 or later than the fetch time plus a tolerance is impossible, and
becomes a `DateFinding` (recorded, never stored as the truth) while the next source is
tried.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from .records import DateFinding

__all__ = [
    "DateFinding",
    "PageMetadata",
    "parse_date",
    "read_metadata",
    "split_credits",
]

log = logging.getLogger(__name__)

# --- Vocabularies (data, grouped and named) --------------------------------------------
ARTICLE_TYPES = frozenset({
    "Article", "NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle",
    "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "BlogPosting",
    "Report", "ScholarlyArticle", "TechArticle", "SatiricalArticle",
})
#: JSON-LD @type of a page's main node -> page type (articles are "article").
NON_ARTICLE_TYPES = {
    "LiveBlogPosting": "live_blog",
    "VideoObject": "video",
    "ImageGallery": "gallery",
    "MediaGallery": "gallery",
    "CollectionPage": "index",
    "ItemList": "index",
    "SearchResultsPage": "index",
    "WebSite": "index",
}
MAIN_TYPES = ARTICLE_TYPES | frozenset(NON_ARTICLE_TYPES)
#: og:type prefixes that say what a page is (og:type "website" is too often wrong to use).
OG_TYPES = (("video", "video"), ("article", "article"))
#: URL path segments that mark non-article pages.
URL_PAGE_TYPES = {
    "live": "live_blog", "live-blog": "live_blog", "liveblog": "live_blog",
    "video": "video", "videos": "video", "watch": "video",
    "gallery": "gallery", "galleries": "gallery", "pictures": "gallery",
    "in-pictures": "gallery", "photos": "gallery",
    "tag": "index", "tags": "index", "topic": "index", "topics": "index",
}
PUBLISHED_META = ("article:published_time", "og:published_time", "pubdate", "publishdate",
                  "publish-date", "publish_date", "dc.date.issued", "dcterms.issued",
                  "dc.date", "date", "sailthru.date", "parsely-pub-date", "article.published",
                  "datepublished")
MODIFIED_META = ("article:modified_time", "og:updated_time", "dc.date.modified",
                 "dcterms.modified", "last-modified", "article.updated", "datemodified")
SECTION_META = ("article:section", "section", "parsely-section")
TAG_META = ("article:tag", "news_keywords", "keywords", "parsely-tags")
#: News agencies and credit words: credits are kept apart from people.
AGENCIES = frozenset({
    "reuters", "ap", "associated press", "afp", "agence france-presse", "bloomberg",
    "pti", "press trust of india", "ani", "ians", "xinhua", "dpa", "kyodo", "bernama",
    "efe", "ansa", "upi", "tass", "yonhap", "aap", "pa media", "press association",
})
CREDIT_WORDS = re.compile(
    r"\b(wire|wires|agency|agencies|news|newsroom|staff|desk|reporters|reports|press|"
    r"service|bureau|team|correspondents?)\b",
    re.IGNORECASE,
)
_AUTHOR_SPLIT = re.compile(r"\s*(?:;|,|\band\b|&|\|)\s*", re.IGNORECASE)
_BYLINE_PREFIX = re.compile(r"^\s*(?:by|von|par|por)\s+", re.IGNORECASE)
_HAS_TIME = re.compile(r"\d[T ]\d{1,2}:\d{2}")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?)?(Z|[+-]\d{4})?$")

#: Dates before this are impossible for an online news article.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
DEFAULT_FUTURE_TOLERANCE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class PageMetadata:
    """What a page declares about itself, reconciled (see the module docstring)."""

    canonicals: tuple[str, ...] = ()  # best first: rel=canonical, og:url, JSON-LD
    published_at: datetime | None = None  # UTC
    published_at_source: str | None = None
    modified_at: datetime | None = None  # UTC
    modified_at_source: str | None = None
    authors: tuple[str, ...] = ()  # people
    credits: tuple[str, ...] = ()  # agencies, desks, "staff and wire reports"
    section: str | None = None
    tags: tuple[str, ...] = ()
    page_type: str = "article"
    page_type_source: str = "default"
    language: str | None = None  # as declared (JSON-LD inLanguage, og:locale)
    is_amp: bool = False
    amp_urls: tuple[str, ...] = ()  # rel=amphtml: the page's AMP twin, a variant of it
    findings: tuple[DateFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class _Candidate:
    source: str
    raw: str
    value: datetime | None
    precise: bool


# --- Dates -----------------------------------------------------------------------------

def parse_date(raw: object, zone: ZoneInfo) -> tuple[datetime, bool] | None:
    """A declared date as an aware UTC datetime and whether it carried a time.

    ISO 8601 (with or without offset, date-only), RFC 2822 and compact `20251026T0912Z`.
    A value without an offset is local to `zone`; a date alone is midnight there.
    """
    if isinstance(raw, datetime):
        moment = raw if raw.tzinfo else raw.replace(tzinfo=zone)
        return moment.astimezone(UTC), True
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    precise = bool(_HAS_TIME.search(text))
    moment = _iso(text) or _rfc2822(text) or _compact(text)
    if moment is None:
        return None
    if not moment.tzinfo:
        moment = moment.replace(tzinfo=zone)
    precise = precise or bool(_COMPACT.match(text) and _COMPACT.match(text).group(4))
    return moment.astimezone(UTC), precise


def _iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return None


def _rfc2822(text: str) -> datetime | None:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None


def _compact(text: str) -> datetime | None:
    match = _COMPACT.match(text)
    if not match:
        return None
    y, mo, d, h, mi, s, zone = match.groups()
    try:
        moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError:
        return None
    if zone:
        offset = timedelta() if zone == "Z" else timedelta(
            hours=int(zone[1:3]), minutes=int(zone[3:5])) * (1 if zone[0] == "+" else -1)
        moment = (moment - offset).replace(tzinfo=UTC)
    return moment


def _candidates(raws: Iterable[tuple[str, object]], zone: ZoneInfo,
                *, midnight_is_day: bool = False) -> list[_Candidate]:
    out = []
    for source, raw in raws:
        if raw is None or raw == "":
            continue
        parsed = parse_date(raw, zone)
        value, precise = parsed if parsed else (None, False)
        if value is not None and midnight_is_day and source == "htmldate":
            local = value.astimezone(zone)
            precise = precise and (local.hour, local.minute, local.second) != (0, 0, 0)
        out.append(_Candidate(source, str(raw), value, precise))
    return out


def _choose(field: str, candidates: Sequence[_Candidate], *, latest: datetime,
            ) -> tuple[_Candidate | None, list[DateFinding]]:
    """The best believable candidate (timed before day-only, then by rank) and findings
    for every impossible or unparsable one met."""
    findings = []
    believable = []
    for c in candidates:
        if c.value is None:
            findings.append(DateFinding(field, c.source, c.raw[:200], "unparsable"))
        elif c.value < EARLIEST:
            findings.append(DateFinding(field, c.source, c.raw[:200], "before_1990"))
        elif c.value > latest:
            findings.append(DateFinding(field, c.source, c.raw[:200], "in_future"))
        else:
            believable.append(c)
    best = next((c for c in believable if c.precise), None) or next(iter(believable), None)
    return best, findings


# --- Structured data -------------------------------------------------------------------

def _types(node: dict) -> set[str]:
    raw = node.get("@type")
    names = raw if isinstance(raw, list) else [raw]
    return {str(n).rsplit("/", 1)[-1] for n in names if n}


def _flatten(items: Iterable[Any]) -> Iterator[dict]:
    """Every node of JSON-LD documents, @graph and nested lists included (not nested
    properties: a publisher's logo is not the page)."""
    for item in items:
        if isinstance(item, list):
            yield from _flatten(item)
        elif isinstance(item, dict):
            if "@graph" in item:
                yield from _flatten(item["@graph"] if isinstance(item["@graph"], list)
                                    else [item["@graph"]])
            if "@type" in item:
                yield item


def _json_ld(tree: Any) -> list[dict]:
    """JSON-LD nodes of the page, each script block on its own: one malformed block (a
    trailing comma, an HTML comment) costs that block only."""
    import extruct

    nodes: list[dict] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        snippet = f'<script type="application/ld+json">{script.text or ""}</script>'
        try:
            found = extruct.extract(snippet, syntaxes=["json-ld"], uniform=True)
        except Exception as exc:  # noqa: BLE001 - extruct's parsers on hostile input: skip the block
            log.debug("unreadable JSON-LD block skipped: %s: %s", type(exc).__name__, exc)
            continue
        nodes.extend(_flatten(found.get("json-ld", [])))
    return nodes


def _microdata_and_og(tree: Any, url: str) -> tuple[list[dict], list[tuple[str, str]]]:
    import extruct

    try:
        found = extruct.extract(tree, base_url=url, syntaxes=["microdata", "opengraph"],
                                uniform=False, errors="strict")
    except Exception as exc:  # noqa: BLE001 - a page extruct cannot read has no such metadata
        log.debug("microdata/OpenGraph of %s unreadable: %s: %s", url, type(exc).__name__, exc)
        return [], []
    micro = [m.get("properties", {}) | {"@type": m.get("type")} for m in found.get("microdata", [])
             if isinstance(m, dict)]
    og = [(str(k).lower(), str(v)) for block in found.get("opengraph", [])
          for k, v in block.get("properties", []) if v]
    return micro, og


def _main_node(nodes: Sequence[dict]) -> dict:
    """The node describing the page itself: the first article, live blog, video or
    gallery node; else the first page-kind node (a @graph lists the WebSite first)."""
    specific = ARTICLE_TYPES | {k for k, v in NON_ARTICLE_TYPES.items() if v != "index"}
    return next((n for n in nodes if _types(n) & specific), None) or next(
        (n for n in nodes if _types(n) & MAIN_TYPES), {})


def _names(value: object) -> list[tuple[str, bool]]:
    """(name, is_organisation) of a JSON-LD author value: strings, Person/Organization."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, False))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            out.append((item["name"], "Organization" in _types(item)
                        or "NewsMediaOrganization" in _types(item)))
    return out


def _text_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


# --- Authors ---------------------------------------------------------------------------

def _is_credit(name: str) -> bool:
    folded = name.casefold().strip(" .")
    return folded in AGENCIES or bool(CREDIT_WORDS.search(name))


def split_credits(raw_names: Iterable[tuple[str, bool]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """People and credits from bylines: "By A and B" is two people; "Reuters", "Staff and
    wire reports" and organisations are credits, kept apart from people."""
    people: dict[str, None] = {}
    credits: dict[str, None] = {}
    for raw, is_org in raw_names:
        raw = _BYLINE_PREFIX.sub("", " ".join(raw.split()))
        if not raw:
            continue
        if is_org or _is_credit(raw):
            # "Staff and wire reports" is one credit, not two people.
            credits.setdefault(raw, None)
            continue
        for part in _AUTHOR_SPLIT.split(raw):
            name = _BYLINE_PREFIX.sub("", part).strip(" .")
            if not name:
                continue
            (credits if _is_credit(name) else people).setdefault(name, None)
    return tuple(people), tuple(credits)


# --- Page type -------------------------------------------------------------------------

def _page_type(main: dict, og_type: str | None, url: str) -> tuple[str, str]:
    types = _types(main)
    if types & ARTICLE_TYPES:
        return "article", "json-ld"
    for name, kind in NON_ARTICLE_TYPES.items():
        if name in types:
            return kind, "json-ld"
    for prefix, kind in OG_TYPES:
        if og_type and og_type.lower().startswith(prefix):
            return kind, "og:type"
    segments = [s for s in urlsplit(url).path.lower().split("/") if s]
    for segment in segments:
        if segment in URL_PAGE_TYPES:
            return URL_PAGE_TYPES[segment], "url"
    if len(segments) <= 1 and not any("." in s or "-" in s for s in segments):
        return "index", "url"  # the front page or a bare section page
    return "article", "default"


# --- The whole page --------------------------------------------------------------------

def _meta_tags(tree: Any) -> list[tuple[str, str]]:
    out = []
    for meta in tree.xpath("//meta[@content]"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        if key:
            out.append((key.strip().lower(), meta.get("content", "").strip()))
    return out


def _first(pairs: Sequence[tuple[str, str]], keys: Sequence[str]) -> list[str]:
    """Values of the keys, in the order the keys are ranked."""
    return [v for key in keys for k, v in pairs if k == key and v]


def _time_element(tree: Any) -> str | None:
    marked = tree.xpath('//time[@datetime][@pubdate or @itemprop="datePublished" or '
                        'contains(@class, "publish")]/@datetime')
    anywhere = tree.xpath("//time[@datetime]/@datetime")
    found = marked or anywhere
    return found[0] if found else None


def _url_date(url: str) -> str | None:
    from htmldate.extractors import extract_url_date
    from htmldate.utils import Extractor

    options = Extractor(False, datetime(2100, 1, 1), datetime(1900, 1, 1), True, "%Y-%m-%d")
    try:
        return extract_url_date(url, options)
    except (ValueError, TypeError):
        return None


def _canonicals(tree: Any, og: Sequence[tuple[str, str]], main: dict) -> tuple[str, ...]:
    found = list(tree.xpath('//link[@rel="canonical"]/@href'))
    found += [v for k, v in og if k == "og:url"]
    entity = main.get("mainEntityOfPage")
    found += [main.get("url"), entity.get("@id") if isinstance(entity, dict) else entity]
    return tuple(dict.fromkeys(u.strip() for u in found if isinstance(u, str) and u.strip()))


def read_metadata(
    html: str,
    url: str,
    *,
    timezone: str = "UTC",
    feed_published: datetime | None = None,
    feed_categories: Sequence[str] = (),
    page_date: str | None = None,
    extra_authors: Sequence[str] = (),
    fetched_at: datetime | None = None,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    tree: Any = None,
) -> PageMetadata:
    """Reconcile what a page (and its feed entry) declares; never raises on bad HTML.

    `page_date` is trafilatura's (htmldate's) date for the page, `extra_authors` its
    author string: used after the page's structured declarations. `tree`: the page
    already parsed (extract.parse_page), read and never changed; parsed here if absent.
    """
    import lxml.html

    zone = ZoneInfo(timezone)
    if tree is None:
        try:
            tree = lxml.html.fromstring(html)
        except (ValueError, TypeError, lxml.etree.ParserError):
            return PageMetadata()
    nodes = _json_ld(tree)
    main = _main_node(nodes)
    micro, og = _microdata_and_og(tree, url)
    micro_main = _main_node(micro)
    metas = _meta_tags(tree)
    og_type = next((v for k, v in og if k == "og:type"), None)
    latest = (fetched_at or datetime.now(UTC)) + future_tolerance

    published_raw: list[tuple[str, object]] = [
        ("json-ld", main.get("datePublished")),
        ("microdata", micro_main.get("datePublished")),
        *(("meta", v) for v in _first(metas, PUBLISHED_META)),
        ("feed", feed_published),
        ("time", _time_element(tree)),
        ("url", _url_date(url)),
        ("htmldate", page_date),
    ]
    published, findings = _choose("published_at", _candidates(published_raw, zone,
                                                              midnight_is_day=True),
                                  latest=latest)
    modified_raw: list[tuple[str, object]] = [
        ("json-ld", main.get("dateModified")),
        ("microdata", micro_main.get("dateModified")),
        *(("meta", v) for v in _first(metas, MODIFIED_META)),
    ]
    modified, more = _choose("modified_at", _candidates(modified_raw, zone), latest=latest)
    findings += more
    if published and modified and modified.value < published.value:
        findings.append(DateFinding("modified_at", modified.source, modified.raw[:200],
                                    "modified_before_published"))
        modified = None

    names = _names(main.get("author")) + _names(micro_main.get("author"))
    names += [(v, False) for v in _first(metas, ("author", "article:author", "byl"))
              if not v.startswith("http")]
    names += [(a, False) for a in extra_authors if a]
    authors, credits = split_credits(names)

    section = main.get("articleSection")
    section = (section[0] if isinstance(section, list) and section else section) or next(
        iter(_first(metas, SECTION_META)), None)
    tags = [*feed_categories, *_text_list(main.get("keywords"))]
    tags += [t for v in _first(metas, TAG_META) for t in _text_list(v)]
    kind, kind_source = _page_type(main, og_type, url)
    html_node = tree if tree.tag == "html" else next(iter(tree.xpath("//html")), None)
    is_amp = html_node is not None and ("amp" in html_node.attrib or "⚡" in html_node.attrib)
    language = main.get("inLanguage") if isinstance(main.get("inLanguage"), str) else None
    return PageMetadata(
        canonicals=_canonicals(tree, og, main),
        published_at=published.value if published else None,
        published_at_source=published.source if published else None,
        modified_at=modified.value if modified else None,
        modified_at_source=modified.source if modified else None,
        authors=authors,
        credits=credits,
        section=str(section).strip() if isinstance(section, str) and section.strip() else None,
        tags=tuple(dict.fromkeys(t for t in tags if t)),
        page_type=kind,
        page_type_source=kind_source,
        language=language or next((v for k, v in og if k == "og:locale"), None),
        is_amp=is_amp,
        amp_urls=tuple(dict.fromkeys(
            u.strip() for u in tree.xpath('//link[@rel="amphtml"]/@href') if u.strip())),
        findings=tuple(findings),
    )
