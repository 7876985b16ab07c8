"""Identity: registrable domains (bundled suffix list), AMP and wrapper keys, canonicals."""

from __future__ import annotations

import pytest

from pipeline.identity import (
    amp_canonical_guess,
    fetch_key,
    registrable_domain,
    resolve_identity,
    same_registrable_domain,
    unwrap_redirect,
)


@pytest.mark.parametrize(("host", "domain"), [
    ("https://www.bbc.co.uk/news/x", "bbc.co.uk"),
    ("amp.theguardian.com", "theguardian.com"),
    ("http://m.example.com:8080/a", "example.com"),
    ("alice.github.io", "alice.github.io"),  # a private suffix: each site its own owner
    ("http://127.0.0.1:8000/a", "127.0.0.1"),
    ("http://localhost:8000/a", "localhost"),
    ("", ""),
])
def test_registrable_domain_offline(host, domain):
    assert registrable_domain(host) == domain


def test_subdomains_share_a_domain_but_loopback_names_do_not():
    assert same_registrable_domain("https://www.example.com/a", "https://amp.example.com/b")
    assert not same_registrable_domain("http://localhost:1/a", "http://127.0.0.1:1/a")
    assert not same_registrable_domain("https://alice.github.io/", "https://bob.github.io/")


@pytest.mark.parametrize(("url", "plain"), [
    ("https://ex.com/news/story/amp", "https://ex.com/news/story"),
    ("https://ex.com/amp/news/story", "https://ex.com/news/story"),
    ("https://ex.com/news/story.amp.html", "https://ex.com/news/story.html"),
    ("https://ex.com/news/story?amp=1&id=4", "https://ex.com/news/story?id=4"),
    ("https://ex.com/news/story?outputType=amp", "https://ex.com/news/story"),
    ("https://ex.com/news/example-story", None),
    ("https://ex.com/news/amplifier", None),
])
def test_amp_forms(url, plain):
    assert amp_canonical_guess(url) == plain


def test_wrappers_unwrap_only_at_redirect_endpoints():
    inner = "https://news.example.com/a/story?utm_source=x"
    assert unwrap_redirect(f"https://t.example.org/go?url={inner}") == "https://news.example.com/a/story"
    assert unwrap_redirect(f"https://l.facebook.com/l.php?u={inner}") is not None
    assert unwrap_redirect(f"https://ex.com/share-page?url={inner}") is None  # not a redirector
    assert unwrap_redirect("https://ex.com/go?url=javascript:alert(1)") is None
    assert fetch_key(f"https://t.example.org/r?url={inner.replace('story', 'story/amp')}") == \
        "https://news.example.com/a/story"


def test_same_domain_canonical_is_the_identity_and_every_url_is_a_variant():
    found = resolve_identity(
        requested_url="http://ex.com/go/abc", fetched_url="http://ex.com/go/abc",
        final_url="http://www.ex.com/story/amp",
        redirects=("http://www.ex.com/story/amp",),
        canonicals=("/story", "http://www.ex.com/story"),
    )
    assert found.url == "http://www.ex.com/story" and found.syndicated_from is None
    kinds = dict(found.variants)
    assert kinds["http://www.ex.com/story"] == "canonical"
    assert kinds["http://www.ex.com/story/amp"] == "amp"
    assert kinds["http://ex.com/go/abc"] == "redirect"


def test_cross_domain_canonical_is_syndication_not_identity():
    found = resolve_identity(
        requested_url="http://localhost:9/paper/copy", fetched_url="http://localhost:9/paper/copy",
        final_url="http://localhost:9/paper/copy",
        canonicals=("http://127.0.0.1:9/wire/original",),
    )
    assert found.url == "http://localhost:9/paper/copy"
    assert found.syndicated_from == "http://127.0.0.1:9/wire/original"


def test_a_front_page_canonical_is_ignored():
    found = resolve_identity(requested_url="https://ex.com/a/story", fetched_url="https://ex.com/a/story",
                             final_url="https://ex.com/a/story", canonicals=("https://ex.com/",))
    assert found.url == "https://ex.com/a/story" and found.canonical_url is None
