"""Frozen records that cross a stage boundary: what one stage hands the next."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = [
    "Article",
    "DateFinding",
    "Failure",
    "FeedEntry",
    "FeedPoll",
    "FetchLogRow",
    "Fingerprint",
    "PageCheck",
    "Response",
    "Shard",
]

FetchKind = Literal["feed", "page", "robots", "extract", "push"]
TextSource = Literal["page", "feed_summary"]


@dataclass(frozen=True, slots=True)
class Shard:
    """A slice of the configured feeds that one task (or one CLI loop step) ingests."""

    index: int
    feed_urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why one feed or page could not be had; recorded in fetch_log, never raised.

    `kind` is a short, stable class name (`timeout`, `http_status`, `too_large`,
    `not_feed`, `no_text`, `refused_address`, ...) that analysts group by.
    """

    kind: str
    url: str
    detail: str
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """A successful HTTP exchange, body fully read within the size cap."""

    url: str
    final_url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: datetime
    redirects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass(frozen=True, slots=True)
class FetchLogRow:
    """One request and its outcome, success or not: a row of fetch_log."""

    url: str
    kind: FetchKind
    status: int | None
    error_class: str | None
    bytes: int
    duration_ms: float
    fetched_at: datetime
    attempt: int = 1
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed, its link normalised; the unit the seen-filter works on."""

    feed_url: str
    entry_key: str
    url: str
    title: str | None
    summary: str | None
    published_at: datetime | None
    categories: tuple[str, ...] = ()
    position: int = 0


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """The outcome of polling one feed, with the conditional-GET state to keep."""

    feed_url: str
    polled_at: datetime
    status: int | None
    entries: tuple[FeedEntry, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    failure: Failure | None = None
    hub_url: str | None = None
    self_url: str | None = None
    is_malformed: bool = False


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What dedup needs of a text: exact hash, size, and the stored MinHash signature."""

    content_hash: str
    word_count: int
    signature: bytes = b""


@dataclass(frozen=True, slots=True)
class DateFinding:
    """A date a page or feed declared that was not believed, and why (a quality finding)."""

    field: str  # 'published_at' or 'modified_at'
    source: str  # 'json-ld', 'meta', 'feed', ...
    raw: str
    reason: str  # 'before_1990', 'in_future', 'unparsable', 'modified_before_published'


@dataclass(frozen=True, slots=True)
class Article:
    """An extracted article page (or its feed summary when the page gave no text)."""

    article_id: str
    url: str
    requested_url: str
    feed_url: str
    outlet: str
    topic: str
    title: str | None
    text: str
    text_source: TextSource
    fetched_at: datetime
    fingerprint: Fingerprint
    authors: tuple[str, ...] = ()
    published_at: datetime | None = None
    published_at_source: str | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    language: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    page_type: str = "article"
    canonical_url: str | None = None
    syndicated_from: str | None = None
    url_variants: tuple[str, ...] = field(default=())
    url_kinds: tuple[str, ...] = ()  # parallel to url_variants: 'canonical', 'amp', ...
    credits: tuple[str, ...] = ()  # agencies and desks, kept apart from `authors`
    modified_at_source: str | None = None
    findings: tuple[DateFinding, ...] = ()
    etag: str | None = None  # the page's validators, for conditional re-checks
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class PageCheck:
    """One re-check of a stored article's page, and the revision it found, if any.

    `outcome` is 'not_modified' (304), 'unchanged' (200, same text and title),
    'revised', or 'failed'. The revision fields are set only when revised.
    """

    article_id: str
    url: str
    checked_at: datetime
    slot: int  # index into the re-check schedule this check served
    outcome: str
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    base_revision: int = 1  # the stored revision the page was compared with
    title: str | None = None
    text: str | None = None
    fingerprint: Fingerprint | None = None
    modified_at: datetime | None = None
    words_added: int = 0
    words_removed: int = 0
    diff: str | None = None
    detail: str | None = None
