"""WebSub subscriber protocol: discovery order, signatures, intents, leases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline import websub
from pipeline.records import Failure, Response

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FEED = "https://news.example/feeds/world.rss"

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<atom:link href="https://news.example/feeds/world.rss" rel="self" type="application/rss+xml"/>
<atom:link rel='hub' href="https://doc-hub.example/"/>
<item><title>x</title><link>https://news.example/a</link></item>
</channel></rss>"""
ATOM = b"""<feed xmlns="http://www.w3.org/2005/Atom">
<link rel="alternate" href="/"/><link href="/hub/" rel="hub"/><link rel="self" href="atom.xml"/>
</feed>"""
HTML = b"""<html><head><link rel="hub" href="https://html-hub.example/">
<LINK REL="self" HREF="https://news.example/page"></head><body></body></html>"""


def _response(body: bytes, *, headers=(), url: str = FEED, final_url: str | None = None) -> Response:
    return Response(url=url, final_url=final_url or url, status=200, headers=tuple(headers),
                    body=body, fetched_at=NOW)


def test_link_header_parsing_handles_several_links_and_rels():
    links = websub.parse_link_header(
        ['<https://hub.example/>; rel="hub", <https://x.example/feed>; rel=self',
         '<https://both.example/>; title="a;b"; rel="hub self"'])
    assert links == [("https://hub.example/", ("hub",)), ("https://x.example/feed", ("self",)),
                     ("https://both.example/", ("hub", "self"))]


@pytest.mark.parametrize(("body", "hub", "topic"), [
    (RSS, "https://doc-hub.example/", FEED),
    (ATOM, "https://news.example/hub/", "https://news.example/feeds/atom.xml"),
    (HTML, "https://html-hub.example/", "https://news.example/page"),
], ids=["rss-atom-link", "atom-relative", "html"])
def test_discovery_reads_the_document_when_no_header(body, hub, topic):
    found = websub.discover(_response(body))
    assert isinstance(found, websub.Discovery)
    assert (found.hubs[0], found.topic, found.hub_source) == (hub, topic, "document")


def test_link_headers_win_over_the_document():
    headers = [("Link", '<https://header-hub.example/>; rel="hub"'),
               ("Link", '<https://news.example/canonical.rss>; rel="self"')]
    found = websub.discover(_response(RSS, headers=headers))
    assert found.hubs == ("https://header-hub.example/",)
    assert found.topic == "https://news.example/canonical.rss"
    assert (found.hub_source, found.topic_source) == ("header", "header")


def test_without_rel_self_the_topic_is_the_url_after_redirects():
    body = b'<rss><channel><atom:link rel="hub" href="https://hub.example/"/></channel></rss>'
    found = websub.discover(_response(body, final_url="https://news.example/moved.rss"))
    assert found.topic == "https://news.example/moved.rss" and found.topic_source == "final_url"


def test_a_feed_without_hub_is_a_failure_value():
    found = websub.discover(_response(b"<rss><channel><title>t</title></channel></rss>"))
    assert isinstance(found, Failure) and found.kind == "no_hub"


@pytest.mark.parametrize("method", sorted(websub.SIGNATURE_METHODS))
def test_every_signature_method_verifies_and_detects_tampering(method):
    body, secret = b"<feed>news</feed>", "s3cret-for-this-feed"
    header = websub.sign(body, secret, method)
    assert websub.check_signature(header, body, secret) == websub.SignatureCheck(True, "ok", method)
    assert websub.check_signature(header, body + b" ", secret).reason == "mismatch"
    assert websub.check_signature(header, body, "another secret").reason == "mismatch"
    assert websub.check_signature(header.upper(), body, secret).ok  # hex case is not meaning


@pytest.mark.parametrize(("header", "reason"), [
    (None, "missing"), ("", "missing"), ("sha256", "malformed"), ("sha256=", "malformed"),
    ("md5=d41d8cd98f00b204e9800998ecf8427e", "unsupported_method"),
])
def test_bad_signature_headers_are_refused_with_their_reason(header, reason):
    check = websub.check_signature(header, b"body", "secret")
    assert not check.ok and check.reason == reason


def test_feed_secrets_differ_per_feed_and_fit_the_hub_limit():
    a = websub.feed_secret(b"master" * 4, FEED)
    b = websub.feed_secret(b"master" * 4, FEED + "?other")
    assert a != b and len(a.encode()) < 200
    assert a == websub.feed_secret(b"master" * 4, FEED)  # stable across restarts


def test_subscription_form_carries_lease_and_secret_only_for_subscribe():
    form = websub.subscription_form(mode="subscribe", topic=FEED, callback="http://cb/x",
                                    lease_seconds=600, secret="s")
    assert form == {"hub.mode": "subscribe", "hub.topic": FEED, "hub.callback": "http://cb/x",
                    "hub.lease_seconds": "600", "hub.secret": "s"}
    gone = websub.subscription_form(mode="unsubscribe", topic=FEED, callback="http://cb/x",
                                    lease_seconds=600, secret="s")
    assert "hub.secret" not in gone and "hub.lease_seconds" not in gone
    with pytest.raises(ValueError):
        websub.subscription_form(mode="subscribe", topic=FEED, callback="http://cb/x",
                                 lease_seconds=None, secret="x" * 200)


def _intent(requested_at: float = 100.0) -> websub.Intent:
    return websub.Intent(websub.callback_key(FEED), FEED, "https://hub.example/", FEED,
                         "subscribe", requested_at)


def test_only_verifications_we_asked_for_are_confirmed():
    book = websub.IntentBook()
    key = websub.callback_key(FEED)
    assert book.confirm(key, mode="subscribe", topic=FEED, lease_seconds=60, now=1) is None
    book.expect(_intent())
    assert book.confirm(key, mode="unsubscribe", topic=FEED, lease_seconds=None, now=1) is None
    assert book.confirm(key, mode="subscribe", topic=FEED + "x", lease_seconds=60, now=1) is None
    assert book.confirm("0" * 16, mode="subscribe", topic=FEED, lease_seconds=60, now=1) is None
    assert book.confirm(key, mode="subscribe", topic=FEED, lease_seconds=None, now=1) is None
    confirmed = book.confirm(key, mode="subscribe", topic=FEED, lease_seconds=60, now=101)
    assert confirmed is not None and confirmed.active and confirmed.expires_at() == 161


def test_leases_are_renewed_before_they_end_and_not_twice_at_once():
    book = websub.IntentBook()
    book.expect(_intent(requested_at=100))
    book.confirm(websub.callback_key(FEED), mode="subscribe", topic=FEED, lease_seconds=100, now=100)
    due_at = websub.renewal_due_at(100, 100)
    assert 100 < due_at < 200
    assert book.due(due_at - 1) == []
    assert [i.feed_url for i in book.due(due_at)] == [FEED]
    book.expect(_intent(requested_at=due_at))  # the renewal is sent
    renewing = book.get(websub.callback_key(FEED))
    assert renewing.active  # the running lease holds until the hub confirms the new one
    assert book.due(due_at + 1) == []
    assert book.due(due_at + websub.RENEWAL_PATIENCE_SECONDS + 1)  # unanswered: send again


def test_a_distribution_naming_another_topic_does_not_match():
    assert websub.topic_matches(FEED, [f'<https://hub.example/>; rel="hub", <{FEED}>; rel="self"'])
    assert websub.topic_matches(FEED, [])  # no rel=self: nothing to contradict
    assert not websub.topic_matches(FEED, ['<https://other.example/feed>; rel="self"'])
