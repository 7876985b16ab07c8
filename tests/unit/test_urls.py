import pytest

from pipeline.urls import is_http_url, normalise_url, resolve_link, url_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM:80/a/b?utm_source=x&id=3#frag", "http://example.com/a/b?id=3"),
        ("https://ex.com/p?utm_medium=rss&utm_campaign=q&fbclid=1", "https://ex.com/p"),
        ("https://ex.com", "https://ex.com/"),
        ("  https://ex.com/a  ", "https://ex.com/a"),
    ],
)
def test_normalise_url(raw, expected):
    assert normalise_url(raw) == expected


def test_normalising_is_idempotent():
    once = normalise_url("HTTP://Ex.com/A?b=2&a=1&utm_term=z#x")
    assert normalise_url(once) == once


def test_resolve_link_handles_relative_and_unusable_links():
    base = "http://127.0.0.1:8000/wire/feed.xml"
    assert resolve_link("/wire/a.html?utm_source=rss", base) == "http://127.0.0.1:8000/wire/a.html"
    assert resolve_link("b.html", base) == "http://127.0.0.1:8000/wire/b.html"
    assert resolve_link("", base) is None
    assert resolve_link("mailto:x@y.z", base) is None
    assert not is_http_url("javascript:alert(1)")


def test_url_key_is_stable_and_distinct():
    assert url_key("http://a/x") == url_key("http://a/x")
    assert url_key("http://a/x") != url_key("http://a/y")
