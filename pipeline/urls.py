"""URL normalisation: one spelling per article, so the seen-filter and keys agree."""

from __future__ import annotations

import hashlib
from urllib.parse import urljoin, urlsplit, urlunsplit

import courlan

__all__ = ["is_http_url", "normalise_url", "resolve_link", "url_key"]


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, default port, tracking parameters and fragment dropped.

    A feed link with `?utm_source=rss#comments` and the bare link must be one article.
    """
    url = url.strip()
    try:
        cleaned = courlan.normalize_url(url, strict=False)
    except (ValueError, AttributeError):
        cleaned = url
    parts = urlsplit(cleaned)
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def resolve_link(link: str, base: str) -> str | None:
    """An absolute, normalised URL for a (possibly relative) link, or None if unusable."""
    link = (link or "").strip()
    if not link:
        return None
    absolute = urljoin(base, link)
    return normalise_url(absolute) if is_http_url(absolute) else None


def url_key(url: str) -> str:
    """A short, stable key derived from a normalised URL (article_id and friends)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:20]
