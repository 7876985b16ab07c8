"""The HTTP client of the pipeline: polite, bounded, safe fetching of feeds and pages.

One `Fetcher` serves one shard. It keeps a single `httpx.Client` (connection reuse),
per-host gates (concurrency, minimum delay, robots.txt) and the log of every attempt.
Whatever goes wrong with a URL comes back as a `Failure` value; only programmer errors
raise.
"""

from __future__ import annotations

import email.utils
import ipaddress
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urljoin
from urllib.robotparser import RobotFileParser

import httpx

from .config import FetchSettings
from .records import Failure, FetchKind, FetchLogRow, Response

__all__ = ["FetchLimits", "Fetcher", "backoff_delay", "is_forbidden_address", "parse_retry_after"]

Kind = Literal["feed", "page"]

# --- What a response may be -------------------------------------------------------------

PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml", "text/plain"}
)
ACCEPT = {
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}

# Magic numbers of formats that are never a page or a feed, whatever the header says.
BINARY_MAGIC = (
    (b"%PDF-", "PDF"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"PK\x03\x04", "ZIP"),
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"\x7fELF", "ELF"),
    (b"MZ", "Windows executable"),
    (b"OggS", "Ogg"),
    (b"ID3", "MP3"),
    (b"\x00asm", "WebAssembly"),
)
SNIFF_BYTES = 1024
# UTF-16/32 text legitimately contains NUL bytes; it announces itself with a BOM.
TEXT_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")

# --- Redirects, retries -----------------------------------------------------------------

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRYABLE_KINDS = frozenset({"timeout", "connect_error", "protocol_error"})
# Content encodings this module inflates itself, so the size cap counts decoded bytes
# without ever holding more than one bounded chunk beyond it (a gzip bomb stops at the cap).
ACCEPT_ENCODING = "gzip, deflate"
GZIP_MAGIC = b"\x1f\x8b"

# --- Addresses --------------------------------------------------------------------------

# Cloud instance-metadata endpoints: refused even when private addresses are allowed,
# since no fixture or feed lives there and a redirect to them is the classic SSRF.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

# robots.txt: RFC 9309 asks parsers to read at least 500 KiB; the rest is ignored.
ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Timeouts, caps and politeness for one Fetcher: a value object built once.

    Every HTTP field of `config.FetchSettings`, same names and defaults (a test keeps
    them in step); the settings that steer the run (page quota, error rate) stay there.
    """

    user_agent: str = "newspipe/0.1 (+https://github.com/newspipe/newspipe)"
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 10_000_000
    max_redirects: int = 5
    retries: int = 2
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    per_host_concurrency: int = 2
    per_host_delay: float = 0.0
    global_concurrency: int = 16
    respect_robots: bool = True
    allow_private_addresses: bool = False

    def __post_init__(self) -> None:
        positive = ("connect_timeout", "read_timeout", "total_timeout", "max_bytes")
        at_least_one = ("per_host_concurrency", "global_concurrency")
        not_negative = (
            "max_redirects", "retries", "backoff_seconds", "backoff_max_seconds",
            "per_host_delay",
        )  # fmt: skip
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchLimits.{name} must be > 0")
        for name in at_least_one:
            if getattr(self, name) < 1:
                raise ValueError(f"FetchLimits.{name} must be >= 1")
        for name in not_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"FetchLimits.{name} must be >= 0")

    @classmethod
    def from_settings(cls, settings: FetchSettings) -> FetchLimits:
        """The limits a validated config asks for (its run-level fields left out)."""
        given = type(settings).model_fields
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls) if f.name in given})


# --- Pure helpers (exported for tests and for callers that log their own waits) ---------


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before retry number `attempt` (1-based): exponential, equal jitter.

    Half the exponential step is kept and half is random, so retries from many
    shards spread out but a retry never comes back immediately.
    """
    step = min(cap, base * 2 ** (attempt - 1))
    return step / 2 + rng.uniform(0, step / 2)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def is_forbidden_address(address: str) -> bool:
    """True for addresses a public crawler must not reach: private, loopback, link-local,
    reserved, multicast, unspecified (IPv4 embedded in IPv6 is checked as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            ip = embedded
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def is_metadata_address(address: str) -> bool:
    """True for cloud instance-metadata endpoints, refused whatever the config says."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip in METADATA_ADDRESSES


# --- Internals --------------------------------------------------------------------------


class _Refused(Exception):
    """A URL that must not be requested; becomes a Failure of the given kind."""

    def __init__(self, kind: str, detail: str, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.status = kind, detail, status


@dataclass(slots=True)
class _Host:
    """Politeness state of one host (scheme-less authority): slots and the next start."""

    slots: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_start: float = 0.0


@dataclass(slots=True)
class _Origin:
    """robots.txt of one origin, fetched once; the lock makes concurrent askers wait."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: RobotFileParser | None = None
    note: str = ""


@dataclass(slots=True)
class _Attempt:
    """What one attempt has seen so far, across its redirect hops."""

    deadline: float | None = None
    sent_at: float | None = None
    bytes: int = 0
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class _Redirect:
    location: str
    status: int


class _Inflater:
    """Content-decoding with a bound on output per call, so a bomb never inflates whole."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()  # zlib wrapper first; raw deflate on failure
        elif encoding not in ("", "identity"):
            raise _Refused("decoding_error", f"unsupported content-encoding {encoding!r}")
        self._first = True

    def feed(self, data: bytes, limit: int) -> Iterator[bytes]:
        """Decoded pieces of `data`, each at most `limit` + 1 bytes long."""
        if self._zlib is None:
            yield data
            return
        try:
            while data:
                out = self._inflate(data, limit + 1)
                data = self._zlib.unconsumed_tail
                rest = self._zlib.unused_data if self._zlib.eof else b""
                if rest.startswith(GZIP_MAGIC) and self._encoding != "deflate":
                    data = rest + data  # the next member of a multi-member gzip body
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if out:
                    yield out
        except zlib.error as exc:
            raise _Refused("decoding_error", f"bad {self._encoding} body: {exc}") from None

    def _inflate(self, data: bytes, max_length: int) -> bytes:
        assert self._zlib is not None
        if self._first and self._encoding == "deflate":
            self._first = False
            try:
                return self._zlib.decompress(data, max_length)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        self._first = False
        return self._zlib.decompress(data, max_length)


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _content_type_problem(kind: FetchKind, media_type: str | None) -> str | None:
    """Why a response of this media type is not a `kind`, or None if acceptable."""
    if kind == "robots":
        return None
    if kind == "page":
        if media_type in PAGE_TYPES:
            return None
        return f"page served as {media_type or 'no content type'}"
    if media_type is None or media_type in FEED_TYPES or media_type.endswith("+xml"):
        return None
    return f"feed served as {media_type}"


def _sniff_binary(body: bytes) -> str | None:
    """The binary format a text response really holds, or None if it looks like text."""
    head = body[:SNIFF_BYTES]
    for magic, name in BINARY_MAGIC:
        if head.startswith(magic):
            return name
    if b"\x00" in head and not head.startswith(TEXT_BOMS):
        return "binary data (NUL bytes)"
    return None


class Fetcher:
    """Fetches feeds and pages for one shard within `FetchLimits`; thread-safe.

    A context manager: leaving it closes the HTTP client and the worker threads.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        resolve: Callable[[str, int], list[str]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._limits = limits
        self._sleep = sleep
        self._clock = clock
        self._now = wall_clock
        self._resolve = resolve or _resolve
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,  # followed by hand: each hop is vetted and logged
            trust_env=False,  # no proxy from the environment: the address check must hold
            headers={"User-Agent": limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            limits=httpx.Limits(
                max_connections=limits.global_concurrency,
                max_keepalive_connections=limits.global_concurrency,
            ),
        )
        self._global = threading.BoundedSemaphore(limits.global_concurrency)
        self._lock = threading.Lock()  # guards the maps below, the log and the executor
        self._hosts: dict[str, _Host] = {}
        self._origins: dict[str, _Origin] = {}
        self._addresses: dict[tuple[str, int], str | None] = {}
        self._log: list[FetchLogRow] = []
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    # --- Public surface -----------------------------------------------------------------

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client and stop the worker threads; idempotent."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self._client.close()

    def get(
        self,
        url: str,
        *,
        kind: Kind,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Response | Failure:
        """GET one feed or page, retrying timeouts, connect errors, 429 and 5xx.

        A 304 is a Response with an empty body (the caller skips parsing). Redirects are
        followed by hand: `Response.redirects` lists each Location followed, in order, the
        last being `final_url`. Each attempt has its own `total_timeout`.
        """
        if kind not in ("feed", "page"):
            raise ValueError(f"kind must be 'feed' or 'page', not {kind!r}")
        if self._closed:
            raise RuntimeError("Fetcher is closed")
        headers = {"Accept": ACCEPT[kind]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._with_retries(url, kind, headers, max_bytes=self._limits.max_bytes)

    def get_many(self, urls: Sequence[str], *, kind: Kind) -> list[Response | Failure]:
        """GET many URLs concurrently within the limits; results in input order."""
        if isinstance(urls, str):
            raise TypeError("get_many takes a sequence of URLs, not one string")
        return list(self._pool().map(lambda url: self.get(url, kind=kind), urls))

    def log(self) -> list[FetchLogRow]:
        """Every attempt so far, successes and failures, in the order they ended."""
        with self._lock:
            return list(self._log)

    # --- Attempts and retries -----------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("Fetcher is closed")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._limits.global_concurrency, thread_name_prefix="fetch"
                )
            return self._executor

    def _with_retries(
        self, url: str, kind: FetchKind, headers: dict[str, str], *, max_bytes: int
    ) -> Response | Failure:
        attempt = 0
        while True:
            attempt += 1
            outcome, retry_after = self._attempt(url, kind, headers, attempt, max_bytes)
            if attempt > self._limits.retries or not _retryable(outcome):
                return outcome
            if retry_after is not None:
                delay = min(retry_after, self._limits.backoff_max_seconds)
            else:
                delay = backoff_delay(
                    attempt,
                    base=self._limits.backoff_seconds,
                    cap=self._limits.backoff_max_seconds,
                    rng=self._rng,
                )
            self._sleep(delay)

    def _attempt(
        self, url: str, kind: FetchKind, headers: dict[str, str], attempt: int, max_bytes: int
    ) -> tuple[Response | Failure, float | None]:
        """One attempt: follow redirects by hand, vetting every hop; log the outcome."""
        state = _Attempt()
        fetched_at = self._now()
        hops: list[str] = []
        current = url
        try:
            while True:
                vetted = self._vet(current, kind)
                result = self._exchange(vetted, kind, headers, state, max_bytes)
                if isinstance(result, Response):
                    outcome: Response | Failure = Response(
                        url=url,
                        final_url=current,
                        status=result.status,
                        headers=result.headers,
                        body=result.body,
                        fetched_at=fetched_at,
                        redirects=tuple(hops),
                    )
                    break
                current = self._next_hop(url, current, result, hops)
        except _Refused as refused:
            outcome = Failure(kind=refused.kind, url=url, detail=refused.detail, status=refused.status)
        self._record(url, kind, outcome, state, attempt, fetched_at)
        return outcome, state.retry_after

    def _next_hop(self, url: str, current: str, redirect: _Redirect, hops: list[str]) -> str:
        target = urljoin(current, redirect.location.strip())
        if target == url or target in hops:
            raise _Refused("redirect_loop", f"{current} redirects back to {target}", redirect.status)
        if len(hops) >= self._limits.max_redirects:
            raise _Refused(
                "too_many_redirects",
                f"more than {self._limits.max_redirects} redirects, last to {target}",
                redirect.status,
            )
        hops.append(target)
        return target

    def _record(
        self,
        url: str,
        kind: FetchKind,
        outcome: Response | Failure,
        state: _Attempt,
        attempt: int,
        fetched_at: datetime,
    ) -> None:
        ended = self._clock()
        duration_ms = 0.0 if state.sent_at is None else (ended - state.sent_at) * 1000
        if isinstance(outcome, Response):
            status, error, detail = outcome.status, None, None
            if outcome.final_url != url:
                detail = f"final url {outcome.final_url}"
        else:
            status, error, detail = outcome.status, outcome.kind, outcome.detail
        row = FetchLogRow(
            url=url,
            kind=kind,
            status=status,
            error_class=error,
            bytes=state.bytes,
            duration_ms=duration_ms,
            fetched_at=fetched_at,
            attempt=attempt,
            detail=detail,
        )
        with self._lock:
            self._log.append(row)

    # --- One HTTP exchange --------------------------------------------------------------

    def _exchange(
        self,
        url: httpx.URL,
        kind: FetchKind,
        headers: dict[str, str],
        state: _Attempt,
        max_bytes: int,
    ) -> Response | _Redirect:
        """One request to one URL through the politeness gates; failures raise _Refused."""
        limits = self._limits
        with self._gate(_authority(*_host_port(url))):
            now = self._clock()
            if state.deadline is None:
                state.deadline, state.sent_at = now + limits.total_timeout, now
            remaining = state.deadline - now
            if remaining <= 0:
                raise _Refused("timeout", f"no time left for {url} (total timeout)")
            timeout = httpx.Timeout(
                connect=min(limits.connect_timeout, remaining),
                read=min(limits.read_timeout, remaining),
                write=min(limits.read_timeout, remaining),
                pool=remaining,
            )
            try:
                request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
                response = self._client.send(request, stream=True)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _transport_failure(exc) from None
            try:
                return self._read(str(url), kind, response, state, max_bytes)
            except httpx.HTTPError as exc:
                raise _transport_failure(exc) from None
            finally:
                response.close()

    def _read(
        self,
        url: str,
        kind: FetchKind,
        response: httpx.Response,
        state: _Attempt,
        max_bytes: int,
    ) -> Response | _Redirect:
        status = response.status_code
        state.status = status
        if status in REDIRECT_STATUSES and response.headers.get("location"):
            return _Redirect(response.headers["location"], status)
        headers = tuple(response.headers.multi_items())
        if status == 304:
            return Response(url, url, status, headers, b"", self._now())
        if kind == "robots" and _robots_absent(status):
            return Response(url, url, status, headers, b"", self._now())
        if not 200 <= status < 300:
            if status == 429 or status >= 500:
                state.retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._now())
            raise _Refused("http_status", f"HTTP {status} {response.reason_phrase}", status)
        problem = _content_type_problem(kind, _media_type(response.headers.get("content-type")))
        if problem:
            raise _Refused("bad_content_type", problem, status)
        body = self._read_body(response, state, max_bytes, truncate=kind == "robots")
        if not body and kind != "robots":
            raise _Refused("empty_body", "the response has no body", status)
        binary = _sniff_binary(body) if kind != "robots" else None
        if binary:
            raise _Refused("bad_content_type", f"{binary} served as text", status)
        return Response(url, url, status, headers, body, self._now())

    def _read_body(
        self, response: httpx.Response, state: _Attempt, max_bytes: int, *, truncate: bool
    ) -> bytes:
        """The decoded body, streamed under the byte cap and the attempt's deadline."""
        declared = response.headers.get("content-length", "")
        status = response.status_code
        if not truncate and declared.isdigit() and int(declared) > max_bytes:
            raise _Refused("too_large", f"Content-Length {declared} > {max_bytes}", status)
        if response.is_stream_consumed:  # in-memory response of a mock transport: already read
            return self._capped(response.content, state, max_bytes, truncate=truncate)
        inflater = _Inflater(response.headers.get("content-encoding", "").strip().lower())
        assert state.deadline is not None
        chunks: list[bytes] = []
        size = 0
        for raw in response.iter_raw():
            for piece in inflater.feed(raw, max_bytes - size):
                size += len(piece)
                state.bytes = size
                if size > max_bytes:
                    if truncate:
                        chunks.append(piece[: len(piece) - (size - max_bytes)])
                        return b"".join(chunks)
                    raise _Refused("too_large", f"body exceeds {max_bytes} bytes", status)
                chunks.append(piece)
            if self._clock() > state.deadline:
                raise _Refused("timeout", f"total timeout {self._limits.total_timeout}s passed", status)
        return b"".join(chunks)

    def _capped(self, body: bytes, state: _Attempt, max_bytes: int, *, truncate: bool) -> bytes:
        state.bytes = len(body)
        if len(body) > max_bytes and not truncate:
            raise _Refused("too_large", f"body exceeds {max_bytes} bytes", state.status)
        return body[:max_bytes]

    # --- Gates: politeness, safety, robots ----------------------------------------------

    @contextmanager
    def _gate(self, authority: str) -> Iterator[None]:
        """Hold a per-host slot and a global slot, spacing request starts per host.

        The host slot is taken first and the global one last, so threads waiting for a
        busy host never sit on global capacity; most of the delay is waited out before
        the global slot is taken, the rest (a reservation) after it.
        """
        host = self._host(authority)
        delay = self._limits.per_host_delay
        with host.slots:
            if delay > 0:
                with host.lock:
                    early = host.next_start - self._clock()
                if early > 0:
                    self._sleep(early)
            with self._global:
                if delay > 0:
                    with host.lock:
                        now = self._clock()
                        start = max(now, host.next_start)
                        host.next_start = start + delay
                    if start > now:
                        self._sleep(start - now)
                yield

    def _host(self, authority: str) -> _Host:
        with self._lock:
            host = self._hosts.get(authority)
            if host is None:
                slots = threading.BoundedSemaphore(self._limits.per_host_concurrency)
                host = self._hosts[authority] = _Host(slots=slots)
            return host

    def _vet(self, url: str, kind: FetchKind) -> httpx.URL:
        """Refuse a URL before any byte is sent (scheme, address, robots.txt); the parsed
        URL is the one requested, so the check and the request cannot read it apart."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise _Refused("invalid_url", f"unparsable URL: {exc}") from None
        if parsed.scheme not in ("http", "https"):
            raise _Refused("invalid_url", f"scheme {parsed.scheme!r} is not http(s)")
        host, port = _host_port(parsed)
        if not host:
            raise _Refused("invalid_url", "URL has no host")
        if not 0 < port < 65536:
            raise _Refused("invalid_url", f"port {port} out of range")
        self._check_address(host, port)
        if kind != "robots" and self._limits.respect_robots:
            self._check_robots(f"{parsed.scheme}://{_authority(host, port)}", parsed)
        return parsed

    def _check_address(self, hostname: str, port: int) -> None:
        """Refuse a host that resolves to a forbidden address; verdicts cached per host."""
        key = (hostname, port)
        with self._lock:
            problem = self._addresses.get(key)
            known = key in self._addresses
        if not known:
            try:
                addresses = self._resolve(hostname, port)
            except (OSError, UnicodeError, ValueError) as exc:  # not cached: may be transient
                raise _Refused("connect_error", f"cannot resolve {hostname}: {exc}") from None
            problem = _address_problem(hostname, addresses, self._limits.allow_private_addresses)
            with self._lock:
                self._addresses[key] = problem
        if problem is not None:
            raise _Refused("refused_address", problem)

    def _check_robots(self, origin_key: str, url: httpx.URL) -> None:
        with self._lock:
            origin = self._origins.setdefault(origin_key, _Origin())
        with origin.lock:
            if origin.rules is None:
                origin.rules, origin.note = self._fetch_robots(origin_key)
        if not origin.rules.can_fetch(self._limits.user_agent, str(url)):
            raise _Refused("robots_disallowed", f"{origin_key}/robots.txt{origin.note}")

    def _fetch_robots(self, origin: str) -> tuple[RobotFileParser, str]:
        """The origin's robots rules per RFC 9309: a 4xx (no robots.txt) allows all, a 5xx,
        429 or an unreachable host disallows all (for the life of this Fetcher)."""
        robots_url = f"{origin}/robots.txt"
        outcome = self._with_retries(
            robots_url, "robots", {"Accept": ACCEPT["robots"]}, max_bytes=ROBOTS_MAX_BYTES
        )
        rules = RobotFileParser(robots_url)
        if isinstance(outcome, Response) and _robots_absent(outcome.status):
            rules.allow_all = True
            rules.modified()
            return rules, ""
        if isinstance(outcome, Response):
            rules.parse(outcome.body.decode("utf-8", errors="replace").splitlines())
            return rules, " disallows this URL"
        rules.disallow_all = True
        rules.modified()
        return rules, f" unavailable ({outcome.kind}: {outcome.detail}); disallowing all"


def _robots_absent(status: int) -> bool:
    """A robots.txt answer meaning "no rules" (RFC 9309 "unavailable"), not an error."""
    return 400 <= status < 500 and status != 429


def _retryable(outcome: Response | Failure) -> bool:
    if isinstance(outcome, Response):
        return False
    if outcome.kind == "http_status":
        return outcome.status is not None and (outcome.status == 429 or outcome.status >= 500)
    return outcome.kind in RETRYABLE_KINDS


def _transport_failure(exc: httpx.HTTPError | httpx.InvalidURL) -> _Refused:
    """Map an httpx exception to a stable failure kind."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return _Refused("timeout", detail)
    if isinstance(exc, httpx.ConnectError):
        return _Refused("connect_error", detail)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return _Refused("invalid_url", detail)
    if isinstance(exc, httpx.DecodingError):
        return _Refused("decoding_error", detail)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return _Refused("protocol_error", detail)
    return _Refused("transport_error", detail)


def _address_problem(hostname: str, addresses: list[str], allow_private: bool) -> str | None:
    """Why a host with these addresses must not be contacted, or None. Any bad address
    refuses the host: the connection may go to any of them."""
    for address in addresses:
        if is_metadata_address(address):
            return f"{hostname} resolves to cloud metadata address {address}"
        if not allow_private and is_forbidden_address(address):
            return f"{hostname} resolves to non-public address {address}"
    return None


def _host_port(url: httpx.URL) -> tuple[str, int]:
    """The IDNA-encoded host and the explicit or default port of an http(s) URL."""
    port = url.port if url.port is not None else DEFAULT_PORTS[url.scheme]
    return url.raw_host.decode("ascii"), port


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _resolve(hostname: str, port: int) -> list[str]:
    """Every address the system resolver gives for the host (IP literals included)."""
    infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
