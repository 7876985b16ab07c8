"""WebSub (W3C Recommendation) from the subscriber's side: the protocol, without I/O.

Discovery (HTTP Link headers win over the document's own links), the subscription request
form, the signature check of a content distribution (sha1, sha256, sha384, sha512: widely
deployed hubs still sign with sha1), and the book of intents, so that only verifications
we asked for are confirmed. The app that speaks HTTP around this is pipeline.push.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urljoin, urlsplit

from .records import Failure, Response

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_METHODS",
    "Discovery",
    "Intent",
    "IntentBook",
    "SignatureCheck",
    "callback_key",
    "check_signature",
    "discover",
    "feed_secret",
    "parse_link_header",
    "renewal_due_at",
    "sign",
    "subscription_form",
    "topic_matches",
]

SIGNATURE_HEADER = "X-Hub-Signature"
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
#: Renew when this share of the lease has passed (and never later than RENEW_MARGIN before).
RENEW_AT_FRACTION = 0.8
RENEW_MARGIN_SECONDS = 60.0
#: A renewal the hub has not verified within this time is sent again.
RENEWAL_PATIENCE_SECONDS = 30.0
KEY_HEX_CHARS = 16
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_PARAM = re.compile(r'\s*;\s*([A-Za-z*]+)\s*=\s*(?:"([^"]*)"|([^\s;,"]+))')
_DOC_LINK = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?link\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')

Mode = Literal["subscribe", "unsubscribe"]


# --- discovery ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Discovery:
    """A feed's hubs and its canonical topic URL, and where each was found."""

    hubs: tuple[str, ...]
    topic: str
    hub_source: Literal["header", "document"]
    topic_source: Literal["header", "document", "final_url"]


def parse_link_header(values: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """(URL, rels) of each link in RFC 8288 Link header values; rels are lower-cased."""
    links = []
    for value in values:
        for match in _LINK.finditer(value):
            rels: tuple[str, ...] = ()
            for param in _PARAM.finditer(match.group(2)):
                if param.group(1).lower() == "rel":
                    rels = tuple((param.group(2) or param.group(3) or "").lower().split())
            links.append((match.group(1).strip(), rels))
    return links


def _document_links(body: bytes) -> list[tuple[str, tuple[str, ...]]]:
    """<link rel href> elements of an Atom, RSS (atom:link) or HTML document, in order.

    A tag scan rather than a parser: it reads malformed documents too, and never fetches
    or expands anything.
    """
    text = body[:2_000_000].decode("utf-8", "replace")
    links = []
    for match in _DOC_LINK.finditer(text):
        attrs = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
                 for m in _ATTR.finditer(match.group(1))}
        if attrs.get("href") and attrs.get("rel"):
            links.append((attrs["href"].strip(), tuple(attrs["rel"].lower().split())))
    return links


def _first(links: list[tuple[str, tuple[str, ...]]], rel: str, base: str) -> list[str]:
    return [urljoin(base, url) for url, rels in links if rel in rels]


def discover(response: Response) -> Discovery | Failure:
    """Hub and topic of a fetched feed, the HTTP Link header first, then the document.

    The topic is rel=self, or else the URL the feed was finally served from (after
    redirects), which is what a subscription must name.
    """
    base = response.final_url
    header = parse_link_header(v for k, v in response.headers if k.lower() == "link")
    document = _document_links(response.body)
    hubs, hub_source = _first(header, "hub", base), "header"
    if not hubs:
        hubs, hub_source = _first(document, "hub", base), "document"
    if not hubs:
        return Failure("no_hub", response.url, "no rel=hub in the Link header or the document")
    for links, source in ((header, "header"), (document, "document")):
        selves = _first(links, "self", base)
        if selves:
            return Discovery(tuple(dict.fromkeys(hubs)), selves[0], hub_source, source)
    return Discovery(tuple(dict.fromkeys(hubs)), base, hub_source, "final_url")


# --- subscription requests and secrets -------------------------------------------------------


def callback_key(feed_url: str) -> str:
    """The path segment naming a feed's callback: stable across restarts. Not a secret:
    signatures, not obscure URLs, are what keep forged pushes out."""
    return hashlib.sha256(feed_url.encode()).hexdigest()[:KEY_HEX_CHARS]


def feed_secret(master: bytes, feed_url: str) -> str:
    """The hub.secret for one feed, derived from the master secret.

    One secret per subscription (so one hub cannot sign for another feed's topic), and
    nothing to store: a restarted subscriber checks signatures at once.
    """
    return hmac.new(master, b"websub-secret\0" + feed_url.encode(), hashlib.sha256).hexdigest()


def subscription_form(
    *, mode: Mode, topic: str, callback: str, lease_seconds: int | None, secret: str | None
) -> dict[str, str]:
    """The form fields of a (un)subscription request to a hub."""
    form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}
    if lease_seconds is not None and mode == "subscribe":
        form["hub.lease_seconds"] = str(lease_seconds)
    if secret is not None and mode == "subscribe":
        if len(secret.encode()) >= 200:
            raise ValueError("hub.secret must be shorter than 200 bytes")
        form["hub.secret"] = secret
    return form


def renewal_due_at(verified_at: float, lease_seconds: int) -> float:
    """When to re-subscribe: before the lease ends, with room for a slow hub."""
    lease = float(lease_seconds)
    return verified_at + min(lease * RENEW_AT_FRACTION, max(lease - RENEW_MARGIN_SECONDS, lease / 2))


# --- signatures -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """Whether a distribution's signature holds; `reason` names why not."""

    ok: bool
    reason: Literal["ok", "missing", "malformed", "unsupported_method", "mismatch"]
    method: str | None = None


def sign(body: bytes, secret: str, method: str = "sha256") -> str:
    """The X-Hub-Signature value a hub sends for `body`."""
    digest = hmac.new(secret.encode(), body, SIGNATURE_METHODS[method]).hexdigest()
    return f"{method}={digest}"


def check_signature(header: str | None, body: bytes, secret: str) -> SignatureCheck:
    """Check X-Hub-Signature against the body, in constant time."""
    if not header:
        return SignatureCheck(False, "missing")
    method, sep, given = header.strip().partition("=")
    method = method.strip().lower()
    if not sep or not given:
        return SignatureCheck(False, "malformed")
    if method not in SIGNATURE_METHODS:
        return SignatureCheck(False, "unsupported_method", method)
    expected = hmac.new(secret.encode(), body, SIGNATURE_METHODS[method]).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        return SignatureCheck(False, "mismatch", method)
    return SignatureCheck(True, "ok", method)


# --- intents ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intent:
    """A (un)subscription we asked a hub for, and its state once verified."""

    key: str
    feed_url: str
    hub: str
    topic: str
    mode: Mode
    requested_at: float
    verified_at: float | None = None
    lease_seconds: int | None = None

    @property
    def active(self) -> bool:
        return self.mode == "subscribe" and self.verified_at is not None

    def expires_at(self) -> float | None:
        if self.verified_at is None or self.lease_seconds is None:
            return None
        return self.verified_at + self.lease_seconds


class IntentBook:
    """The subscriber's record of what it asked hubs for; thread-safe.

    An intent is written before the request is sent (a hub may verify before it answers),
    and a verification is confirmed only when key, mode and topic all match one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._intents: dict[str, Intent] = {}

    def expect(self, intent: Intent) -> None:
        with self._lock:
            current = self._intents.get(intent.key)
            # A renewal keeps the running lease until the hub confirms the new one.
            if current is not None and current.active and intent.mode == "subscribe":
                intent = replace(intent, verified_at=current.verified_at,
                                 lease_seconds=current.lease_seconds)
            self._intents[intent.key] = intent

    def confirm(self, key: str, *, mode: str, topic: str, lease_seconds: int | None,
                now: float) -> Intent | None:
        """The confirmed intent, or None when we never asked for this (answer 404)."""
        with self._lock:
            intent = self._intents.get(key)
            if intent is None or intent.mode != mode or intent.topic != topic:
                return None
            if mode == "subscribe" and lease_seconds is None:
                return None  # WebSub: a subscribe verification carries hub.lease_seconds
            confirmed = replace(intent, verified_at=now, lease_seconds=lease_seconds)
            self._intents[key] = confirmed
            return confirmed

    def get(self, key: str) -> Intent | None:
        with self._lock:
            return self._intents.get(key)

    def all(self) -> list[Intent]:
        with self._lock:
            return list(self._intents.values())

    def due(self, now: float) -> list[Intent]:
        """Active subscriptions whose renewal time has come, unless a renewal is in flight
        (sent after the last verification, less than RENEWAL_PATIENCE_SECONDS ago)."""
        due = []
        for i in self.all():
            if not i.active or i.lease_seconds is None or i.verified_at is None:
                continue
            in_flight = i.requested_at > i.verified_at and now - i.requested_at < RENEWAL_PATIENCE_SECONDS
            if not in_flight and now >= renewal_due_at(i.verified_at, i.lease_seconds):
                due.append(i)
        return due


def topic_matches(expected: str, link_values: Iterable[str]) -> bool:
    """Whether a distribution's rel=self (if it names one) is the topic we subscribed to."""
    selves = [url for url, rels in parse_link_header(link_values) if "self" in rels]
    return not selves or any(_same_url(s, expected) for s in selves)


def _same_url(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme.lower(), (pa.netloc or "").lower(), pa.path or "/", pa.query) == (
        pb.scheme.lower(), (pb.netloc or "").lower(), pb.path or "/", pb.query)
