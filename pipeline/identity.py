"""Article identity: which URL an article is, and which other URLs are the same article.

An article is its canonical URL, taken from the page and kept only within the registrable
domain of the URL the page was served from: a canonical on another domain is syndication
(an outlet republishing the wire's page), recorded as `syndicated_from`, never a merge.
AMP twins and redirect wrappers are undone from the URL alone where the form is known, so
the seen-filter can recognise a variant before fetching it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from .urls import is_http_url, normalise_url

__all__ = [
    "Identity",
    "UrlKind",
    "amp_canonical_guess",
    "fetch_key",
    "registrable_domain",
    "resolve_identity",
    "same_registrable_domain",
    "unwrap_redirect",
]

UrlKind = Literal["canonical", "feed_link", "amp", "wrapper", "redirect", "served"]

# --- Known URL forms (data, not logic) -------------------------------------------------
#: Query parameters that carry the target of a redirect wrapper (`/go?url=...`).
WRAPPER_PARAMS = ("url", "u", "target", "dest", "destination", "redirect", "redirect_url",
                  "to", "link", "out")
#: Last path segments of redirect endpoints (`/r`, `/go`, `/l.php`, ...).
WRAPPER_PATHS = frozenset({"r", "go", "redirect", "redir", "out", "link", "click", "l.php",
                           "url", "track", "away"})
#: Hosts that only ever redirect (their query names the target).
WRAPPER_HOSTS = frozenset({"l.facebook.com", "lm.facebook.com", "www.google.com",
                           "out.reddit.com", "r.jina.ai"})
#: How AMP twins are spelled: a path segment, a file suffix, or a query flag.
AMP_SEGMENT = "amp"
AMP_SUFFIXES = (".amp.html", ".amp")
AMP_QUERY_FLAGS = {"amp": ("", "1", "true"), "outputType": ("amp",), "output": ("amp",)}


@lru_cache(maxsize=1)
def _extractor():  # noqa: ANN202 - tldextract's type, imported lazily
    import tldextract

    # The bundled suffix list only: no download (no internet here, and a run must not
    # depend on one), no cache directory written. Private suffixes (github.io) count, so
    # two sites on one hosting suffix are two owners.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=True)


def _host(url_or_host: str) -> str:
    if "/" in url_or_host:
        return (urlsplit(url_or_host).hostname or "").lower()
    return url_or_host.split(":")[0].strip("[]").lower()


def registrable_domain(url_or_host: str) -> str:
    """The domain a publisher owns (`bbc.co.uk` for `www.bbc.co.uk`), from a URL or host.

    An IP address or a host under no public suffix (`localhost`) is its own domain.
    """
    host = _host(url_or_host)
    if not host:
        return ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    found = _extractor()(host)
    return found.top_domain_under_public_suffix or host


def same_registrable_domain(a: str, b: str) -> bool:
    """True when two URLs belong to one publisher's domain (www, m. and amp. hosts alike)."""
    left, right = registrable_domain(a), registrable_domain(b)
    return bool(left) and left == right


def unwrap_redirect(url: str) -> str | None:
    """The target of a redirect wrapper whose query names it (`/go?url=...`), else None.

    Only endpoints that look like redirectors are unwrapped: an ordinary page with a
    `url=` parameter (a share page) is left alone.
    """
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1].lower()
    if last not in WRAPPER_PATHS and (parts.hostname or "") not in WRAPPER_HOSTS:
        return None
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name in WRAPPER_PARAMS:
        target = unquote(params.get(name, "")).strip()
        if is_http_url(target):
            return normalise_url(target)
    return None


def amp_canonical_guess(url: str) -> str | None:
    """The non-AMP spelling of a URL in a known AMP form, else None.

    `/story/amp`, `/amp/story`, `/story.amp.html`, `?amp=1`, `?outputType=amp`. A guess:
    it keys the seen-filter, while the page's own rel=canonical decides identity.
    """
    parts = urlsplit(url)
    path, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)
    segments = path.split("/")
    changed = False
    if AMP_SEGMENT in segments[1:]:
        segments = [s for i, s in enumerate(segments) if i == 0 or s != AMP_SEGMENT]
        path, changed = "/".join(segments) or "/", True
        if not path.startswith("/"):
            path = "/" + path
    for suffix in AMP_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)] + (".html" if suffix == ".amp.html" else "")
            changed = True
            break
    kept = [(k, v) for k, v in query if v.lower() not in AMP_QUERY_FLAGS.get(k, ())]
    changed = changed or len(kept) != len(query)
    if not changed:
        return None
    path = path.replace("//", "/")
    return normalise_url(urlunsplit((parts.scheme, parts.netloc, path, urlencode(kept), "")))


def fetch_key(url: str) -> str:
    """The URL the seen-filter keys an entry by: wrappers undone, AMP form dropped."""
    url = normalise_url(url)
    inner = unwrap_redirect(url) or url
    return amp_canonical_guess(inner) or inner


@dataclass(frozen=True, slots=True)
class Identity:
    """Which URL an article is, what it copies, and every URL it was met under."""

    url: str
    canonical_url: str | None
    syndicated_from: str | None
    variants: tuple[tuple[str, UrlKind], ...]


def _usable_canonical(candidate: str | None, served: str) -> str | None:
    """A declared canonical, absolute and normalised; a site's front page is not one.

    CMS templates that set every page's canonical to the home page would otherwise fold
    a whole site into one article.
    """
    if not candidate or not candidate.strip():
        return None
    absolute = urljoin(served, candidate.strip())
    if not is_http_url(absolute):
        return None
    canonical = normalise_url(absolute)
    if urlsplit(canonical).path in ("", "/") and urlsplit(served).path not in ("", "/"):
        return None
    return canonical


def resolve_identity(
    *,
    requested_url: str,
    fetched_url: str,
    final_url: str,
    redirects: Sequence[str] = (),
    canonicals: Iterable[str | None] = (),
    also_seen: Iterable[str] = (),
) -> Identity:
    """Decide an article's URL from where it was served and what the page declares.

    `canonicals` are the page's declarations, best first (rel=canonical, og:url,
    JSON-LD url). The first usable one on the served page's registrable domain is the
    article's URL; the first on another domain is `syndicated_from`; the served URL is
    the article otherwise. Every URL met (feed link, wrapper, hops, AMP) is a variant.
    """
    final = normalise_url(final_url)
    usable = [c for c in (_usable_canonical(c, final) for c in canonicals) if c]
    own = next((c for c in usable if same_registrable_domain(c, final)), None)
    foreign = next((c for c in usable if not same_registrable_domain(c, final)), None)
    url = own or final
    variants: dict[str, UrlKind] = {url: "canonical"}
    requested = normalise_url(requested_url)
    wrapped = unwrap_redirect(requested)
    kinds: list[tuple[str, UrlKind]] = [
        *((normalise_url(u), "amp") for u in (requested, fetched_url, final_url)
          if amp_canonical_guess(normalise_url(u))),
        (requested, "wrapper" if wrapped else "redirect" if redirects else "feed_link"),
        *((u, "amp" if amp_canonical_guess(u) else "feed_link") for u in also_seen),
        *((normalise_url(r), "redirect") for r in redirects[:-1]),
        (final, "served"),
    ]
    if wrapped:
        kinds.append((wrapped, "redirect"))
    for variant, kind in kinds:
        if variant and is_http_url(variant):
            variants.setdefault(normalise_url(variant), kind)
    return Identity(
        url=url,
        canonical_url=own or foreign,
        syndicated_from=None if own or not foreign else foreign,
        variants=tuple(variants.items()),
    )
