"""The fetcher against a loopback server whose routes misbehave on purpose."""

from __future__ import annotations

import email.utils
import gzip
import ipaddress
import random
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import FetchSettings
from pipeline.fetch import (
    Fetcher,
    FetchLimits,
    backoff_delay,
    is_forbidden_address,
    parse_retry_after,
)
from pipeline.records import Failure, Response

HTML = b"<!doctype html><html><head><title>t</title></head><body><p>Hello</p></body></html>"
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title></channel></rss>'
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
ETAG = '"v1"'
LAST_MODIFIED = "Tue, 03 Nov 2026 10:00:00 GMT"
RETRY_DATE = datetime(2026, 10, 21, 7, 28, tzinfo=UTC)
CAP = 100_000  # max_bytes in the size tests
BOMB = gzip.compress(b"\0" * 20_000_000, compresslevel=9)  # ~20 KB on the wire, 20 MB inflated

# Fast limits for the loopback server: no robots, private addresses allowed, no waits.
FAST = FetchLimits(
    connect_timeout=2.0,
    read_timeout=2.0,
    total_timeout=5.0,
    retries=0,
    backoff_seconds=0.01,
    respect_robots=False,
    allow_private_addresses=True,
)


def limits(**changes: object) -> FetchLimits:
    values = {f.name: getattr(FAST, f.name) for f in fields(FetchLimits)}
    values.update(changes)
    return FetchLimits(**values)


# --- The misbehaving server ---------------------------------------------------------------


@dataclass
class InFlight:
    """Requests being served right now, and the most ever at once (may span servers)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    now: int = 0
    most: int = 0

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


@dataclass
class ServerState:
    robots: bytes | int = 404  # a body to serve, or a status
    hold_seconds: float = 0.1
    shared: InFlight | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    hits: Counter = field(default_factory=Counter)
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    peers: set[int] = field(default_factory=set)  # client ports: one per TCP connection
    agents: set[str] = field(default_factory=set)
    in_flight: InFlight = field(default_factory=InFlight)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    state: ServerState  # set on the per-server subclass

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the tests read the recorded state instead."""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        state = self.state
        path = urlsplit(self.path).path
        with state.lock:
            state.hits[path] += 1
            count = state.hits[path]
            state.arrivals.append((path, time.monotonic()))
            state.peers.add(self.client_address[1])
            state.agents.add(self.headers.get("User-Agent", ""))
        for tracker in (state.in_flight, state.shared):
            if tracker is not None:
                tracker.enter()
        try:
            self.route(path, count)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, as the timeout tests intend
        finally:
            for tracker in (state.in_flight, state.shared):
                if tracker is not None:
                    tracker.leave()

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": "text/html; charset=utf-8", **(headers or {})}
        for name, value in headers.items():
            if value:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def route(self, path: str, count: int) -> None:  # noqa: C901 (one branch per route)
        parts = path.strip("/").split("/")
        head = parts[0]
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        if path == "/robots.txt":
            robots = self.state.robots
            if isinstance(robots, int):
                self.send(robots, b"no")
            else:
                self.send(200, robots, {"Content-Type": "text/plain"})
        elif head in ("page", "private"):
            self.send(200, HTML)
        elif head == "hold":
            time.sleep(self.state.hold_seconds)
            self.send(200, HTML)
        elif head == "cond":
            if (
                self.headers.get("If-None-Match") == ETAG
                or self.headers.get("If-Modified-Since") == LAST_MODIFIED
            ):
                self.send(304, b"", {"ETag": ETAG, "Content-Type": ""})
            else:
                self.send(200, RSS, {"ETag": ETAG, "Last-Modified": LAST_MODIFIED,
                                     "Content-Type": "application/rss+xml"})  # fmt: skip
        elif head == "flaky":
            if count == 1:
                self.send(500, b"oops")
            else:
                self.send(200, HTML)
        elif head == "down":
            self.send(503, b"down")
        elif head == "missing":
            self.send(404, b"missing")
        elif head == "ratelimit":
            after = parts[1]
            if count == 1:
                self.send(429, b"slow down", {"Retry-After": after})
            else:
                self.send(200, HTML)
        elif head == "ratelimit-date":
            if count == 1:
                date = email.utils.format_datetime(RETRY_DATE, usegmt=True)
                self.send(429, b"slow down", {"Retry-After": date})
            else:
                self.send(200, HTML)
        elif head == "slow":
            time.sleep(1.0)
            self.send(200, HTML)
        elif head == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        elif head == "loop":
            self.send(302, b"", {"Location": "/loop/b" if parts[1] == "a" else "/loop/a"})
        elif head == "chain":
            hops = int(parts[1])
            if hops == 0:
                self.send(200, HTML)
            else:
                self.send(301, b"", {"Location": f"/chain/{hops - 1}"})
        elif head == "to":
            self.send(302, b"", {"Location": query["url"][0]})
        elif head == "big":
            self.send(200, b"<p>" + b"x" * (3 * CAP))
        elif head == "big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(30):
                chunk = b"y" * 16_384
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif head == "bomb":
            self.send(200, BOMB, {"Content-Encoding": "gzip"})
        elif head == "gzip":
            self.send(200, gzip.compress(HTML), {"Content-Encoding": "gzip"})
        elif head == "deflate":
            self.send(200, zlib.compress(HTML), {"Content-Encoding": "deflate"})
        elif head == "raw-deflate":
            squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            body = squeeze.compress(HTML) + squeeze.flush()
            self.send(200, body, {"Content-Encoding": "deflate"})
        elif head == "typed":
            self.send(200, RSS if parts[1] == "feed" else HTML, {"Content-Type": query["ct"][0]})
        elif head == "png-as-html":
            self.send(200, PNG)
        elif head == "nul-as-html":
            self.send(200, b"<html>\x00\x00\x00\x01\x02</html>")
        elif head == "utf16":
            self.send(200, "<html><p>€</p></html>".encode("utf-16"))
        elif head == "empty":
            self.send(200, b"")
        else:
            self.send(404, b"no route")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up (timeouts, caps) are expected; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Server:
    state: ServerState
    base: str

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """Start loopback servers on free ports; all are stopped after the test."""
    started: list[QuietServer] = []

    def start(**settings: object) -> Server:
        state = ServerState(**settings)
        handler = type("BoundHandler", (Handler,), {"state": state})
        httpd = QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}).start()
        started.append(httpd)
        return Server(state, f"http://127.0.0.1:{httpd.server_address[1]}")

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(serve: Callable[..., Server]) -> Server:
    return serve()


class Sleeps:
    """A `sleep` that records what it was asked to wait instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fetch(url: str, lim: FetchLimits = FAST, **kwargs: object) -> tuple[object, Fetcher]:
    """One page fetched by a fresh Fetcher, and the Fetcher (for its log)."""
    with Fetcher(lim, **kwargs) as fetcher:  # type: ignore[arg-type]
        return fetcher.get(url, kind="page"), fetcher


def query(path: str, **params: str) -> str:
    return f"{path}?{urlencode(params)}"


def failure_kind(result: object) -> str | None:
    return result.kind if isinstance(result, Failure) else None


# --- Pure helpers -------------------------------------------------------------------------


# FetchSettings fields that steer the run rather than the HTTP client (the runner reads them).
RUN_LEVEL_SETTINGS = {"max_new_pages_per_feed", "max_error_rate"}


def test_limits_mirror_the_settings_field_for_field() -> None:
    limit_names = {f.name for f in fields(FetchLimits)}
    assert set(FetchSettings.model_fields) - limit_names == RUN_LEVEL_SETTINGS, (
        "a new FetchSettings field: add it to FetchLimits, or to RUN_LEVEL_SETTINGS if only "
        "the runner reads it"
    )
    assert limit_names <= set(FetchSettings.model_fields)
    assert FetchLimits() == FetchLimits.from_settings(FetchSettings())  # same defaults
    custom = FetchSettings(max_bytes=123, per_host_delay=0.5, allow_private_addresses=True)
    assert FetchLimits.from_settings(custom).max_bytes == 123


@pytest.mark.parametrize("bad", [{"max_bytes": 0}, {"retries": -1}, {"global_concurrency": 0}])
def test_impossible_limits_are_a_programmer_error(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        FetchLimits(**bad)


@pytest.mark.parametrize("attempt", [1, 2, 3, 8])
def test_backoff_grows_exponentially_with_jitter_under_the_cap(attempt: int) -> None:
    rng = random.Random(attempt)
    step = min(4.0, 0.5 * 2 ** (attempt - 1))
    delays = [backoff_delay(attempt, base=0.5, cap=4.0, rng=rng) for _ in range(200)]
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 1  # jittered


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = RETRY_DATE - timedelta(seconds=20)
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(email.utils.format_datetime(RETRY_DATE, usegmt=True), now=now) == 20
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


@pytest.mark.parametrize(
    ("address", "forbidden"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("240.0.0.1", True),
        ("::1", True),
        ("fe80::1%eth0", True),
        ("fd00:ec2::254", True),
        ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
        ("2002:7f00:1::", True),  # 6to4 wrapping 127.0.0.1
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)
def test_forbidden_addresses(address: str, forbidden: bool) -> None:
    assert is_forbidden_address(address) is forbidden
    ipaddress.ip_address(address.split("%")[0])  # the table itself holds real addresses


# --- Plain fetching and conditional GET ---------------------------------------------------


def test_a_page_is_fetched_and_logged_once(server: Server) -> None:
    result, fetcher = fetch(server.url("/page/1"))
    assert isinstance(result, Response)
    assert (result.status, result.body, result.redirects) == (200, HTML, ())
    assert result.header("content-type") == "text/html; charset=utf-8"
    [row] = fetcher.log()
    assert (row.kind, row.status, row.error_class, row.bytes, row.attempt) == (
        "page", 200, None, len(HTML), 1,
    )  # fmt: skip
    assert server.state.agents == {FAST.user_agent}


def test_conditional_get_answers_304_with_an_empty_body(server: Server) -> None:
    url = server.url("/cond")
    with Fetcher(FAST) as fetcher:
        fresh = fetcher.get(url, kind="feed")
        by_etag = fetcher.get(url, kind="feed", etag=ETAG)
        by_date = fetcher.get(url, kind="feed", last_modified=LAST_MODIFIED)
        stale = fetcher.get(url, kind="feed", etag='"v0"')
    assert isinstance(fresh, Response) and fresh.header("etag") == ETAG and fresh.body == RSS
    for result in (by_etag, by_date):
        assert isinstance(result, Response) and (result.status, result.body) == (304, b"")
    assert isinstance(stale, Response) and stale.status == 200
    assert [row.status for row in fetcher.log()] == [200, 304, 304, 200]


def test_one_client_keeps_its_connection_across_many_requests(server: Server) -> None:
    with Fetcher(limits(global_concurrency=1, per_host_concurrency=1)) as fetcher:
        results = fetcher.get_many([server.url(f"/page/{i}") for i in range(20)], kind="page")
    assert all(isinstance(r, Response) for r in results)
    assert len(server.state.peers) == 1  # one TCP connection, not one client per request


def test_get_many_keeps_input_order_and_mixes_failures(server: Server) -> None:
    wrong_type = query("/typed/page", ct="application/json")
    urls = [server.url(p) for p in ("/page/1", "/missing/1", "/page/2", wrong_type, "/page/3")]
    urls.append("ftp://example.com/x")
    with Fetcher(limits(global_concurrency=4, per_host_concurrency=4)) as fetcher:
        results = fetcher.get_many(urls, kind="page")
    assert [r.url for r in results] == urls
    assert [failure_kind(r) for r in results] == [
        None, "http_status", None, "bad_content_type", None, "invalid_url",
    ]  # fmt: skip
    assert len(fetcher.log()) == len(urls)


# --- Retries --------------------------------------------------------------------------------


def test_a_500_is_retried_after_a_backoff_then_succeeds(server: Server) -> None:
    sleeps = Sleeps()
    lim = limits(retries=2, backoff_seconds=0.4)
    result, fetcher = fetch(server.url("/flaky/a"), lim, sleep=sleeps)
    assert isinstance(result, Response) and result.status == 200
    log = fetcher.log()
    assert [(r.attempt, r.status, r.error_class) for r in log] == [
        (1, 500, "http_status"), (2, 200, None),
    ]  # fmt: skip
    [delay] = sleeps.delays
    assert 0.2 <= delay <= 0.4


def test_retries_stop_after_the_configured_number(server: Server) -> None:
    sleeps = Sleeps()
    result, fetcher = fetch(server.url("/down"), limits(retries=3, backoff_seconds=1), sleep=sleeps)
    assert isinstance(result, Failure) and (result.kind, result.status) == ("http_status", 503)
    assert [r.attempt for r in fetcher.log()] == [1, 2, 3, 4]
    assert server.state.hits["/down"] == 4
    for attempt, delay in enumerate(sleeps.delays, start=1):
        step = 2 ** (attempt - 1)
        assert step / 2 <= delay <= step


def test_a_404_is_not_retried(server: Server) -> None:
    result, fetcher = fetch(server.url("/missing/x"), limits(retries=3), sleep=Sleeps())
    assert isinstance(result, Failure) and (result.kind, result.status) == ("http_status", 404)
    assert len(fetcher.log()) == 1


@pytest.mark.parametrize(("after", "expected"), [("7", 7.0), ("3600", 30.0)])
def test_429_retry_after_seconds_is_honoured_up_to_the_cap(
    server: Server, after: str, expected: float
) -> None:
    sleeps = Sleeps()
    lim = limits(retries=1, backoff_max_seconds=30.0)
    result, fetcher = fetch(server.url(f"/ratelimit/{after}"), lim, sleep=sleeps)
    assert isinstance(result, Response) and result.status == 200
    assert sleeps.delays == [expected]
    assert [r.status for r in fetcher.log()] == [429, 200]


def test_429_retry_after_http_date_is_honoured(server: Server) -> None:
    sleeps = Sleeps()
    now = RETRY_DATE - timedelta(seconds=20)
    result, _ = fetch(
        server.url("/ratelimit-date/x"), limits(retries=1), sleep=sleeps, wall_clock=lambda: now
    )
    assert isinstance(result, Response)
    assert sleeps.delays == [20.0]


# --- Timeouts -----------------------------------------------------------------------------


def test_a_response_slower_than_the_read_timeout_times_out(server: Server) -> None:
    sleeps = Sleeps()
    result, fetcher = fetch(server.url("/slow"), limits(read_timeout=0.2, retries=1), sleep=sleeps)
    assert failure_kind(result) == "timeout"
    assert [(r.attempt, r.error_class) for r in fetcher.log()] == [(1, "timeout"), (2, "timeout")]
    assert len(sleeps.delays) == 1


def test_a_body_that_drips_in_is_cut_at_the_total_timeout(server: Server) -> None:
    started = time.monotonic()
    result, fetcher = fetch(server.url("/drip"), limits(read_timeout=1.0, total_timeout=0.4))
    assert failure_kind(result) == "timeout" and "total timeout" in result.detail
    assert time.monotonic() - started < 1.5  # the whole body would take 2 s
    [row] = fetcher.log()
    assert 0 < row.bytes < 40


# --- Redirects ----------------------------------------------------------------------------


def test_redirects_are_followed_and_listed(server: Server) -> None:
    result, fetcher = fetch(server.url("/chain/2"), limits(max_redirects=2))
    assert isinstance(result, Response) and result.status == 200
    assert result.redirects == (server.url("/chain/1"), server.url("/chain/0"))
    assert result.final_url == server.url("/chain/0")
    assert len(fetcher.log()) == 1  # one attempt, however many hops


def test_a_redirect_loop_is_detected(server: Server) -> None:
    result, _ = fetch(server.url("/loop/a"), limits(max_redirects=10))
    assert failure_kind(result) == "redirect_loop"
    assert server.state.hits["/loop/a"] == 1 and server.state.hits["/loop/b"] == 1


def test_too_many_redirects(server: Server) -> None:
    result, _ = fetch(server.url("/chain/5"), limits(max_redirects=3))
    assert failure_kind(result) == "too_many_redirects"
    assert server.state.hits["/chain/1"] == 0


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "refused_address"),
        ("http://[fd00:ec2::254]/latest/", "refused_address"),
        ("file:///etc/passwd", "invalid_url"),
        ("gopher://127.0.0.1:25/", "invalid_url"),
    ],
)
def test_every_redirect_hop_is_vetted(server: Server, target: str, kind: str) -> None:
    result, _ = fetch(server.url(query("/to", url=target)))
    assert failure_kind(result) == kind


@pytest.mark.parametrize("target", ["http://127.0.0.1/admin", "http://[::1]/", "http://10.0.0.5/"])
def test_a_public_page_redirecting_to_a_private_address_is_refused(target: str) -> None:
    """A public host (stubbed: a mock transport and resolver) redirecting inward."""
    seen: list[str] = []

    def public_site(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": target})

    def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34"] if host == "news.example" else [host]

    lim = limits(allow_private_addresses=False)
    transport = httpx.MockTransport(public_site)
    with Fetcher(lim, transport=transport, resolve=resolve) as fetcher:
        result = fetcher.get("http://news.example/story", kind="page")
    assert failure_kind(result) == "refused_address"
    assert seen == ["http://news.example/story"]  # the private hop got no request


# --- Size caps ----------------------------------------------------------------------------


def test_a_body_over_the_cap_is_refused_from_its_content_length(server: Server) -> None:
    result, fetcher = fetch(server.url("/big"), limits(max_bytes=CAP))
    assert failure_kind(result) == "too_large" and result.status == 200
    assert fetcher.log()[0].bytes == 0  # refused before reading


def test_a_streamed_body_over_the_cap_stops_at_the_cap(server: Server) -> None:
    result, fetcher = fetch(server.url("/big-chunked"), limits(max_bytes=CAP))
    assert failure_kind(result) == "too_large"
    assert CAP < fetcher.log()[0].bytes <= CAP + 65_536  # at most one network read past it


def test_a_gzip_bomb_stops_at_the_cap(server: Server) -> None:
    result, fetcher = fetch(server.url("/bomb"), limits(max_bytes=CAP))
    assert failure_kind(result) == "too_large"
    assert fetcher.log()[0].bytes == CAP + 1  # inflated no further than one byte past the cap


@pytest.mark.parametrize("route", ["/gzip", "/deflate", "/raw-deflate"])
def test_compressed_bodies_are_inflated(server: Server, route: str) -> None:
    result, _ = fetch(server.url(route))
    assert isinstance(result, Response) and result.body == HTML


# --- Content checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content_type", "accepted"),
    [
        ("page", "text/html; charset=utf-8", True),
        ("page", "application/xhtml+xml", True),
        ("page", "application/json", False),
        ("page", "application/pdf", False),
        ("feed", "application/rss+xml", True),
        ("feed", "application/atom+xml; charset=utf-8", True),
        ("feed", "application/rdf+xml", True),
        ("feed", "text/xml", True),
        ("feed", "text/plain", True),
        ("feed", "", True),  # no Content-Type at all
        ("feed", "text/html", False),
        ("feed", "image/png", False),
    ],
)
def test_content_types(server: Server, kind: str, content_type: str, accepted: bool) -> None:
    with Fetcher(FAST) as fetcher:
        result = fetcher.get(server.url(query(f"/typed/{kind}", ct=content_type)), kind=kind)
    assert isinstance(result, Response) is accepted
    if not accepted:
        assert failure_kind(result) == "bad_content_type"


@pytest.mark.parametrize(("route", "named"), [("/png-as-html", "PNG"), ("/nul-as-html", "NUL")])
def test_binary_served_as_html_is_caught_by_sniffing(server: Server, route: str, named: str) -> None:
    result, _ = fetch(server.url(route))
    assert failure_kind(result) == "bad_content_type" and named in result.detail


def test_utf16_html_with_a_bom_is_not_mistaken_for_binary(server: Server) -> None:
    result, _ = fetch(server.url("/utf16"))
    assert isinstance(result, Response)


def test_an_empty_body_is_a_failure(server: Server) -> None:
    result, fetcher = fetch(server.url("/empty"))
    assert failure_kind(result) == "empty_body" and result.status == 200
    assert fetcher.log()[0].error_class == "empty_body"


@pytest.mark.parametrize("url", ["ftp://example.com/", "not a url", "http:///nohost", "http://x:0/"])
def test_invalid_urls_are_values_and_logged(url: str) -> None:
    result, fetcher = fetch(url)
    assert failure_kind(result) == "invalid_url"
    assert fetcher.log()[0].error_class == "invalid_url"


def test_programmer_errors_raise(server: Server) -> None:
    fetcher = Fetcher(FAST)
    with pytest.raises(ValueError, match="kind"):
        fetcher.get(server.url("/page/1"), kind="article")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fetcher.get_many(server.url("/page/1"), kind="page")
    fetcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        fetcher.get(server.url("/page/1"), kind="page")


# --- Address safety -----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_by_default_and_allowed_by_the_switch(server: Server, host: str) -> None:
    url = server.url("/page/1").replace("127.0.0.1", host)
    refused, fetcher = fetch(url, limits(allow_private_addresses=False))
    assert failure_kind(refused) == "refused_address" and refused.status is None
    assert fetcher.log()[0].error_class == "refused_address"
    assert server.state.hits["/page/1"] == 0  # no byte was sent
    allowed, _ = fetch(url, limits(allow_private_addresses=True))
    assert isinstance(allowed, Response) and server.state.hits["/page/1"] == 1


def test_cloud_metadata_is_refused_even_with_the_switch() -> None:
    result, _ = fetch("http://169.254.169.254/latest/meta-data/", limits(retries=2))
    assert failure_kind(result) == "refused_address"


def test_a_name_resolving_to_any_private_address_is_refused() -> None:
    resolve = lambda host, port: ["93.184.216.34", "10.0.0.7"]  # noqa: E731
    result, _ = fetch("http://mixed.example/", limits(allow_private_addresses=False),
                      resolve=resolve)  # fmt: skip
    assert failure_kind(result) == "refused_address" and "10.0.0.7" in result.detail


# --- robots.txt ---------------------------------------------------------------------------


def test_robots_is_honoured_and_fetched_once_per_host(serve: Callable[..., Server]) -> None:
    server = serve(robots=b"User-agent: *\nDisallow: /private/\n")
    urls = [server.url(f"/page/{i}") for i in range(8)] + [server.url("/private/1")]
    with Fetcher(limits(respect_robots=True, global_concurrency=8)) as fetcher:
        results = fetcher.get_many(urls, kind="page")
    assert [failure_kind(r) for r in results] == [None] * 8 + ["robots_disallowed"]
    assert server.state.hits["/robots.txt"] == 1
    assert server.state.hits["/private/1"] == 0
    assert [row.kind for row in fetcher.log()].count("robots") == 1


def test_robots_rules_for_our_agent_apply(serve: Callable[..., Server]) -> None:
    server = serve(robots=b"User-agent: newspipe\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    result, _ = fetch(server.url("/page/1"), limits(respect_robots=True))
    assert failure_kind(result) == "robots_disallowed"


@pytest.mark.parametrize(("robots", "allowed"), [(404, True), (403, True), (503, False)])
def test_robots_status_per_rfc_9309(serve: Callable[..., Server], robots: int, allowed: bool) -> None:
    server = serve(robots=robots)
    result, fetcher = fetch(server.url("/page/1"), limits(respect_robots=True))
    assert isinstance(result, Response) is allowed
    [robots_row] = [row for row in fetcher.log() if row.kind == "robots"]
    assert robots_row.status == robots
    if allowed:
        assert robots_row.error_class is None  # no robots.txt is an answer, not an error
    else:
        assert failure_kind(result) == "robots_disallowed" and "503" in result.detail
        assert robots_row.error_class == "http_status"


def test_robots_is_ignored_when_not_respected(serve: Callable[..., Server]) -> None:
    server = serve(robots=b"User-agent: *\nDisallow: /\n")
    result, _ = fetch(server.url("/page/1"), limits(respect_robots=False))
    assert isinstance(result, Response) and server.state.hits["/robots.txt"] == 0


# --- Politeness ---------------------------------------------------------------------------


def test_per_host_concurrency_holds_under_load(serve: Callable[..., Server]) -> None:
    server = serve(hold_seconds=0.2)
    lim = limits(per_host_concurrency=2, global_concurrency=16)
    with Fetcher(lim) as fetcher:
        results = fetcher.get_many([server.url(f"/hold/{i}") for i in range(12)], kind="page")
    assert all(isinstance(r, Response) for r in results)
    assert server.state.in_flight.most == 2  # reached, never exceeded


def test_per_host_delay_spaces_a_run_of_requests(serve: Callable[..., Server]) -> None:
    # No hold: without the delay the twelve requests would arrive within a few milliseconds.
    # The whole span is measured, not each gap: one late thread on a busy machine can
    # shorten a single gap as the server sees it, never the run's span.
    delay, count = 0.08, 12
    server = serve()
    lim = limits(per_host_concurrency=2, per_host_delay=delay, global_concurrency=16)
    with Fetcher(lim) as fetcher:
        results = fetcher.get_many([server.url(f"/page/{i}") for i in range(count)], kind="page")
    assert all(isinstance(r, Response) for r in results)
    starts = sorted(t for path, t in server.state.arrivals if path != "/robots.txt")
    assert len(starts) == count
    assert starts[-1] - starts[0] >= (count - 1) * delay - delay / 2


def test_global_concurrency_holds_across_hosts(serve: Callable[..., Server]) -> None:
    shared = InFlight()
    servers = [serve(hold_seconds=0.1, shared=shared) for _ in range(3)]
    urls = [s.url(f"/hold/{i}") for i in range(4) for s in servers]
    lim = limits(per_host_concurrency=2, global_concurrency=3)
    # Callers' own threads, more of them than the limit: the Fetcher, not its pool, limits.
    with Fetcher(lim) as fetcher, ThreadPoolExecutor(len(urls)) as callers:
        results = list(callers.map(lambda url: fetcher.get(url, kind="page"), urls))
    assert all(isinstance(r, Response) for r in results)
    assert shared.most == 3
    assert all(s.state.in_flight.most <= 2 for s in servers)


# --- Arbitrary responses --------------------------------------------------------------------


class Scripted:
    """A mock transport answering whatever the current example says, streamed in pieces
    (as from a socket) or in memory (as mock transports usually answer)."""

    def __init__(self) -> None:
        self.status, self.headers, self.body, self.pieces = 200, {}, b"", 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if not self.pieces:
            return httpx.Response(self.status, headers=self.headers, content=self.body)
        size = len(self.body) // self.pieces + 1
        chunks = [self.body[i : i + size] for i in range(0, len(self.body), size)]
        return httpx.Response(self.status, headers=self.headers, content=iter(chunks))


@pytest.fixture(scope="module")
def scripted() -> Iterator[tuple[Scripted, Fetcher]]:
    script = Scripted()
    lim = limits(max_bytes=2048, allow_private_addresses=False, respect_robots=False)
    public = lambda host, port: ["93.184.216.34"]  # noqa: E731
    with Fetcher(lim, transport=httpx.MockTransport(script), resolve=public) as fetcher:
        yield script, fetcher


header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.sampled_from([200, 204, 206, 301, 302, 304, 308, 404, 429, 500, 503]),
    body=st.one_of(st.binary(max_size=4096), st.just(gzip.compress(b"<p>" * 5000))),
    content_type=st.one_of(st.sampled_from(["text/html", "application/rss+xml", ""]), header_text),
    encoding=st.sampled_from(["", "gzip", "deflate", "x-gzip", "br", "identity", "gzip, gzip"]),
    location=header_text,
    retry_after=header_text,
    kind=st.sampled_from(["page", "feed"]),
    pieces=st.integers(0, 7),
)
def test_any_response_becomes_a_response_or_a_failure(
    scripted: tuple[Scripted, Fetcher],
    status: int,
    body: bytes,
    content_type: str,
    encoding: str,
    location: str,
    retry_after: str,
    kind: str,
    pieces: int,
) -> None:
    script, fetcher = scripted
    script.pieces = pieces
    headers = {"Content-Type": content_type, "Content-Encoding": encoding,
               "Location": location, "Retry-After": retry_after}  # fmt: skip
    script.status, script.body = status, body
    script.headers = {k: v for k, v in headers.items() if v}
    logged = len(fetcher.log())
    result = fetcher.get("http://news.example/a", kind=kind)
    assert isinstance(result, Response | Failure) and result.url == "http://news.example/a"
    if isinstance(result, Response):
        assert len(result.body) <= 2048 and (result.status == 304) == (result.body == b"")
    assert len(fetcher.log()) == logged + 1


@settings(max_examples=300, deadline=None)
@given(
    url=st.one_of(
        st.text(max_size=60),
        st.builds(lambda rest: "http://" + rest, st.text(max_size=40)),
        st.builds(lambda rest: "https://news.example" + rest, st.text(max_size=40)),
    )
)
def test_any_url_string_becomes_a_response_or_a_failure(scripted: tuple[Scripted, Fetcher], url: str) -> None:
    script, fetcher = scripted
    script.status, script.headers, script.body, script.pieces = 200, {}, HTML, 0
    result = fetcher.get(url, kind="page")
    assert isinstance(result, Response | Failure) and result.url == url
