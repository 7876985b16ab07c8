"""The fixture server: every page served, conditional GET, gzip, request log, hostile routes."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.etree import ElementTree

import feedparser
import httpx
import pytest

from pipeline.config import load_config
from pipeline.fixtures import (
    HOSTILE_ROUTES,
    PLACEHOLDER_ORIGIN,
    FixtureServer,
    HostileRoute,
    HostileSettings,
    build_web,
    load_labels,
    write_feeds_config,
    write_hostile_config,
)
from pipeline.fixtures.hostile import CP1252_TEXT, OK_PAGE_PATH, PAGES_FEED_PATH

SMALL = HostileSettings(
    slow_seconds=1.0, oversize_bytes=300_000, bomb_inflated_bytes=5_000_000, huge_feed_entries=10_000
)
CLIENT_TIMEOUT = 0.4  # well under SMALL.slow_seconds


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web")
    build_web(root)
    return root


@pytest.fixture(scope="module")
def server(web: Path) -> Iterator[FixtureServer]:
    with FixtureServer(web, hostile_settings=SMALL) as running:
        yield running


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=CLIENT_TIMEOUT, follow_redirects=False) as c:
        yield c


def test_every_labelled_page_is_served_with_the_real_origin(
    web: Path, server: FixtureServer, client: httpx.Client
) -> None:
    for label in load_labels(web).articles:
        response = client.get(server.url(label.path))
        assert response.status_code == 200, label.path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert PLACEHOLDER_ORIGIN not in response.text
        declared = server.url(label.syndicated_from or label.path)  # syndication: the original
        assert f'<link rel="canonical" href="{declared}">' in response.text


def test_feeds_are_served_and_parse(web: Path, server: FixtureServer, client: httpx.Client) -> None:
    for outlet in load_labels(web).outlets:
        for feed in outlet.feeds:
            response = client.get(server.url(feed.path))
            assert response.status_code == 200
            assert "xml" in response.headers["content-type"]
            parsed = feedparser.parse(response.content, response_headers=dict(response.headers))
            assert parsed.entries and not parsed.bozo, feed.path


def test_conditional_get_by_etag_and_by_last_modified(
    server: FixtureServer, client: httpx.Client
) -> None:
    path = "/northern-post/rss/latest.xml"
    first = client.get(server.url(path))
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = client.get(server.url(path), headers={"If-None-Match": etag})
    by_date = client.get(server.url(path), headers={"If-Modified-Since": modified})
    stale = client.get(server.url(path), headers={"If-None-Match": '"something-else"'})
    assert (by_etag.status_code, by_date.status_code, stale.status_code) == (304, 304, 200)
    assert by_etag.content == b"" and by_etag.headers["etag"] == etag
    # If-None-Match wins over a matching If-Modified-Since (RFC 9110)
    both = {"If-None-Match": '"other"', "If-Modified-Since": modified}
    assert client.get(server.url(path), headers=both).status_code == 200
    old = {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
    assert client.get(server.url(path), headers=old).status_code == 200


def test_gzip_only_when_accepted(server: FixtureServer) -> None:
    path = "/moneycontrol/rss/business.xml"
    with httpx.Client() as c:
        plain = c.get(server.url(path), headers={"Accept-Encoding": "identity"})
        with c.stream("GET", server.url(path), headers={"Accept-Encoding": "gzip"}) as zipped:
            raw = b"".join(zipped.iter_raw())
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert zipped.headers["etag"] != plain.headers["etag"]


def test_request_log_counts_per_path(server: FixtureServer, client: httpx.Client) -> None:
    path = "/straits-daily/feeds/nation.atom"
    before = server.hits(path)
    for _ in range(3):
        client.get(server.url(path) + "?utm_source=x", headers={"User-Agent": "counter/1"})
    assert server.hits(path) == before + 3
    mine = [r for r in server.requests() if r.headers.get("User-Agent") == "counter/1"]
    assert [(r.method, r.status) for r in mine] == [("GET", 200)] * 3


@pytest.mark.parametrize("path", ["/../etc/passwd", "/nope.html", "/moneycontrol/%2e%2e/x"])
def test_missing_and_escaping_paths_are_404(
    server: FixtureServer, client: httpx.Client, path: str
) -> None:
    assert client.get(server.base_url + path).status_code == 404


def test_feeds_config_loads_and_groups_feeds_by_topic(web: Path, server: FixtureServer,
                                                     tmp_path: Path) -> None:
    path = write_feeds_config(web, server.base_url, tmp_path / "feeds.yaml", shards=2,
                              fetch={"retries": 0})
    config = load_config(path)
    labels = load_labels(web)
    assert config.shards == 2 and config.fetch.retries == 0
    assert config.fetch.allow_private_addresses
    urls = {f.url for _, f in config.feeds()}
    assert urls == {server.url(f.path) for o in labels.outlets for f in o.feeds}
    for topic in config.topics:
        assert {f.url for f in topic.feeds} == {
            server.url(f.path) for o in labels.outlets for f in o.feeds if f.topic == topic.name
        }


def test_hostile_config_lists_every_feed_route(server: FixtureServer, tmp_path: Path) -> None:
    config = load_config(write_hostile_config(server.base_url, tmp_path / "hostile.yaml"))
    urls = {f.url for _, f in config.feeds()}
    for route in HOSTILE_ROUTES:
        assert (server.url(route.path) in urls) == (route.kind in ("feed", "any"))
    assert server.url(PAGES_FEED_PATH) in urls
    assert config.fetch.total_timeout < SMALL.slow_seconds * 3
    only = load_config(
        write_hostile_config(server.base_url, tmp_path / "one.yaml", routes=["gzip-bomb"])
    )
    assert [f.url for _, f in only.feeds()] == [server.url(PAGES_FEED_PATH) + "?routes=gzip-bomb"]


# --- hostile routes: each answers as designed --------------------------------------------


def _get(server: FixtureServer, path: str, **kw: object) -> httpx.Response:
    with httpx.Client(timeout=CLIENT_TIMEOUT, follow_redirects=False) as c:
        return c.get(server.url(path), **kw)


def _parsed(response: httpx.Response) -> feedparser.FeedParserDict:
    return feedparser.parse(response.content, response_headers=dict(response.headers))


def _slow(server: FixtureServer, route: HostileRoute) -> None:
    with pytest.raises(httpx.ReadTimeout):
        _get(server, route.path)


def _status(code: int) -> Callable[[FixtureServer, HostileRoute], None]:
    def check(server: FixtureServer, route: HostileRoute) -> None:
        response = _get(server, route.path)
        assert response.status_code == code
        if code == 429:
            assert int(response.headers["retry-after"]) == SMALL.retry_after_seconds
    return check


def _redirect_loop(server: FixtureServer, route: HostileRoute) -> None:
    with httpx.Client(timeout=CLIENT_TIMEOUT, follow_redirects=True, max_redirects=6) as c:
        with pytest.raises(httpx.TooManyRedirects):
            c.get(server.url(route.path))


def _too_large(server: FixtureServer, route: HostileRoute) -> None:
    with httpx.Client(timeout=5) as c, c.stream("GET", server.url(route.path)) as response:
        declared = response.headers.get("content-length")
        total = sum(len(chunk) for chunk in response.iter_bytes())
    assert total == SMALL.oversize_bytes
    assert (declared is not None) == (route.name == "too-large")


def _gzip_bomb(server: FixtureServer, route: HostileRoute) -> None:
    response = _get(server, route.path, headers={"Accept-Encoding": "identity"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) * 100 < SMALL.bomb_inflated_bytes
    assert len(response.content) == SMALL.bomb_inflated_bytes


def _cp1252(server: FixtureServer, route: HostileRoute) -> None:
    response = _get(server, route.path)
    assert "charset=utf-8" in response.headers["content-type"]
    with pytest.raises(UnicodeDecodeError):
        response.content.decode("utf-8")
    assert CP1252_TEXT in response.content.decode("cp1252")


def _latin1(server: FixtureServer, route: HostileRoute) -> None:
    response = _get(server, route.path)
    assert "charset" not in response.headers["content-type"]
    assert b"encoding=" not in response.content.split(b"\n", 1)[0]
    assert "Málaga" in response.content.decode("iso-8859-1")
    assert _parsed(response).entries


def _malformed(server: FixtureServer, route: HostileRoute) -> None:
    parsed = _parsed(_get(server, route.path))
    assert parsed.bozo


def _entries(count: int) -> Callable[[FixtureServer, HostileRoute], None]:
    def check(server: FixtureServer, route: HostileRoute) -> None:
        with httpx.Client(timeout=10) as c:
            response = c.get(server.url(route.path))
        if route.name == "huge-feed":  # ElementTree, not feedparser: that needs seconds here
            assert len(ElementTree.fromstring(response.content).findall("channel/item")) == count
            return
        parsed = _parsed(response)
        assert len(parsed.entries) == count
        if route.name == "duplicate-guids":
            assert len({e.id for e in parsed.entries}) < count
        if route.name == "no-links":
            assert sum(1 for e in parsed.entries if not e.get("link")) >= 2
        if route.name == "relative-links":
            base = server.url(route.path)
            assert all(not e.link.startswith("http") or e.link.startswith(base[:4]) for e in
                       parsed.entries)
        if route.name == "odd-dates":
            assert sum(1 for e in parsed.entries if e.get("published_parsed")) < count
    return check


def _binary(server: FixtureServer, route: HostileRoute) -> None:
    response = _get(server, route.path)
    assert response.headers["content-type"].startswith("text/html")
    assert b"\0" in response.content and len(response.content) == 64 * 1024


def _empty(server: FixtureServer, route: HostileRoute) -> None:
    response = _get(server, route.path)
    assert response.status_code == 200 and response.content == b""


def _billion_laughs(server: FixtureServer, route: HostileRoute) -> None:
    response = _get(server, route.path)
    assert b"<!ENTITY lol9" in response.content and len(response.content) < 4096


CHECKS: dict[str, Callable[[FixtureServer, HostileRoute], None]] = {
    "slow": _slow,
    "server-error": _status(500),
    "rate-limited": _status(429),
    "not-found": _status(404),
    "redirect-loop": _redirect_loop,
    "too-large": _too_large,
    "too-large-undeclared": _too_large,
    "gzip-bomb": _gzip_bomb,
    "cp1252-as-utf8": _cp1252,
    "latin1-feed": _latin1,
    "malformed-xml": _malformed,
    "billion-laughs": _billion_laughs,
    "huge-feed": _entries(SMALL.huge_feed_entries),
    "duplicate-guids": _entries(5),
    "no-links": _entries(5),
    "relative-links": _entries(5),
    "odd-dates": _entries(9),
    "binary-as-html": _binary,
    "empty-page": _empty,
    "empty-feed": _empty,
}


@pytest.mark.parametrize("route", HOSTILE_ROUTES, ids=lambda r: r.name)
def test_hostile_route_answers_as_designed(server: FixtureServer, route: HostileRoute) -> None:
    CHECKS[route.name](server, route)


def test_every_hostile_route_has_a_check() -> None:
    assert set(CHECKS) == {r.name for r in HOSTILE_ROUTES}


def test_pages_feed_links_page_routes_and_a_good_page(server: FixtureServer) -> None:
    parsed = _parsed(_get(server, PAGES_FEED_PATH + "?routes=gzip-bomb,empty-page"))
    links = [e.link for e in parsed.entries]
    assert links == [server.url("/hostile/gzip-bomb"), server.url("/hostile/empty-page"),
                     server.url(OK_PAGE_PATH)]
    assert _get(server, OK_PAGE_PATH).status_code == 200


def test_slow_route_does_not_delay_stop(web: Path) -> None:
    fixture = FixtureServer(web, hostile_settings=HostileSettings(slow_seconds=5.0)).start()
    with pytest.raises(httpx.ReadTimeout):
        _get(fixture, "/hostile/slow")
    fixture.stop()
    assert fixture.requests()[-1].path == "/hostile/slow"
