"""Polling feeds: one conditional GET per feed, bytes handed to feedparser, entries normalised."""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from .records import Failure, FeedEntry, FeedPoll, Response
from .urls import resolve_link

__all__ = ["FeedState", "ParsedFeed", "parse_feed", "poll_feed", "poll_result"]

_LINK_HEADER = re.compile(r'<([^>]*)>\s*;[^,]*?rel="?([^",;]+)"?', re.IGNORECASE)
SUMMARY_MAX_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class FeedState:
    """Conditional-GET validators kept from the last successful poll."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """Entries of one feed document, plus what it says about itself."""

    entries: tuple[FeedEntry, ...]
    hub_url: str | None
    self_url: str | None
    is_malformed: bool
    skipped_without_link: int


def _link_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """rel -> URL from HTTP Link headers, which WebSub says win over the document's links."""
    value = (headers or {}).get("link", "")
    return {rel.lower(): url for url, rel in _LINK_HEADER.findall(value)}


def _entry_time(entry: Mapping) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _clip(text: str | None, limit: int) -> str | None:
    return text[:limit] if text else text


def parse_feed(
    body: bytes, *, feed_url: str, headers: Mapping[str, str] | None = None
) -> ParsedFeed | Failure:
    """Entries of a feed document, or a Failure when nothing feed-like is in it.

    Malformed XML that feedparser's loose parser still reads is kept and flagged.
    """
    import feedparser  # heavy: imported where used

    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    response_headers = {"content-location": feed_url, **lowered}
    try:
        parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except Exception as exc:  # feedparser's own bugs on hostile input: a recorded failure
        return Failure("feed_parse_error", feed_url, f"{type(exc).__name__}: {exc}"[:500])
    version = parsed.get("version") or ""
    if not parsed.entries and not version:
        reason = parsed.get("bozo_exception") or "no RSS or Atom content"
        return Failure("not_a_feed", feed_url, str(reason)[:500])
    entries, skipped, seen = [], 0, set()
    for position, entry in enumerate(parsed.entries):
        url = resolve_link(entry.get("link") or "", feed_url)
        if url is None:
            skipped += 1
            continue
        key = (entry.get("id") or "").strip() or url
        if key in seen:  # duplicate GUIDs within one document: the first wins
            continue
        seen.add(key)
        tags = tuple(t.get("term", "").strip() for t in entry.get("tags", []) if t.get("term"))
        entries.append(FeedEntry(
            feed_url=feed_url,
            entry_key=key[:2000],
            url=url,
            title=_clip((entry.get("title") or "").strip() or None, 2000),
            summary=_clip(entry.get("summary") or None, SUMMARY_MAX_CHARS),
            published_at=_entry_time(entry),
            categories=tags,
            position=position,
        ))
    doc_links = {
        (link.get("rel") or "").lower(): link.get("href")
        for link in parsed.feed.get("links", [])
        if link.get("href")
    }
    http_links = _link_headers(lowered)
    return ParsedFeed(
        entries=tuple(entries),
        hub_url=http_links.get("hub") or doc_links.get("hub"),
        self_url=http_links.get("self") or doc_links.get("self"),
        is_malformed=bool(parsed.get("bozo")),
        skipped_without_link=skipped,
    )


def poll_result(feed_url: str, result: Response | Failure, *, now: datetime) -> FeedPoll:
    """Turn one fetch outcome into a FeedPoll; a 304 is answered without parsing."""
    if isinstance(result, Failure):
        return FeedPoll(feed_url, polled_at=now, status=result.status, failure=result)
    etag, last_modified = result.header("etag"), result.header("last-modified")
    if result.status == 304:
        return FeedPoll(feed_url, polled_at=now, status=304, not_modified=True,
                        etag=etag, last_modified=last_modified)
    parsed = parse_feed(result.body, feed_url=feed_url, headers=dict(result.headers))
    if isinstance(parsed, Failure):
        return FeedPoll(feed_url, polled_at=now, status=result.status, failure=parsed)
    return FeedPoll(
        feed_url,
        polled_at=now,
        status=result.status,
        entries=parsed.entries,
        etag=etag,
        last_modified=last_modified,
        hub_url=parsed.hub_url,
        self_url=parsed.self_url,
        is_malformed=parsed.is_malformed,
    )


def poll_feed(feed_url: str, *, fetcher, state: FeedState | None, now: datetime,
              interpret: Callable[..., FeedPoll] = poll_result) -> FeedPoll:
    """Fetch one feed with its conditional-GET validators and parse it if it changed.

    `interpret` is `poll_result` or a stand-in that runs it elsewhere (another process)."""
    state = state or FeedState()
    result = fetcher.get(feed_url, kind="feed", etag=state.etag, last_modified=state.last_modified)
    return interpret(feed_url, result, now=now)
