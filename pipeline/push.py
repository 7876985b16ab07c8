"""`newspipe push serve`: the WebSub subscriber, a Starlette app under uvicorn.

It subscribes every configured feed (push: auto) that advertises a hub, answers
verifications only for intents it holds (else 404), renews leases before they end, and
turns each signed content distribution into a Redis Stream entry plus a pub/sub wake-up
(pipeline.pushq). Refusals are answered and recorded (log line + Redis list):

    404 unknown_topic            no configured push feed behind the callback, or rel=self differs
    404 unrequested_verification a verification for an intent we never sent
    413 oversize                 the body passes push.max_body_bytes
    403 signature_<reason>       X-Hub-Signature missing, malformed, unknown method or wrong
    503 (not a refusal)          Redis cannot take the entry: the hub retries later

The signing secret comes from NEWSPIPE_PUSH_SECRET or the Airflow connection
`newspipe_push` (AIRFLOW_CONN_NEWSPIPE_PUSH, its password), never from the YAML file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from . import pushq, websub
from .config import Config, load_config
from .errors import ConfigError
from .records import Failure, Response

__all__ = [
    "CALLBACK_PREFIX",
    "SECRET_CONNECTION",
    "SECRET_ENV",
    "Subscriber",
    "SubscribeOutcome",
    "build_server",
    "create_app",
    "load_secret",
    "serve",
]

log = logging.getLogger(__name__)

SECRET_ENV = "NEWSPIPE_PUSH_SECRET"
SECRET_CONNECTION = "newspipe_push"
CALLBACK_PREFIX = "/websub/"
MAX_HUB_REDIRECTS = 5
MAINTAIN_TICK_SECONDS = 0.5
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 600.0
HUB_TIMEOUT_SECONDS = 10.0
RETRY_AFTER_SECONDS = "2"
#: How often the subscriber looks for queued work no run is doing, and wakes the DAG again.
STALL_CHECK_SECONDS = 15.0
#: Pending longer than this, an entry's run is presumed dead (news_push runs take seconds).
STALE_PENDING_SECONDS = 300.0
TEXT = "text/plain; charset=utf-8"


# --- secrets ---------------------------------------------------------------------------------


def _connection_password(value: str) -> str | None:
    """The password of an Airflow connection given as a URI or as JSON."""
    value = value.strip()
    if value.startswith("{"):
        try:
            password = json.loads(value).get("password")
        except (ValueError, AttributeError):
            return None
        return str(password) if password else None
    password = urlsplit(value).password
    return unquote(password) if password else None


def load_secret(environ: dict[str, str] | None = None) -> bytes:
    """The subscriber's master secret: NEWSPIPE_PUSH_SECRET, else the Airflow connection."""
    environ = dict(os.environ if environ is None else environ)
    secret = environ.get(SECRET_ENV)
    if not secret:
        conn = environ.get(f"AIRFLOW_CONN_{SECRET_CONNECTION.upper()}", "")
        secret = _connection_password(conn) if conn else None
    if not secret:
        raise ConfigError(f"no push secret: set {SECRET_ENV} or the Airflow connection "
                          f"{SECRET_CONNECTION} (its password)")
    if len(secret) < 16:
        raise ConfigError(f"the push secret must have at least 16 characters, not {len(secret)}")
    return secret.encode()


# --- subscribing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscribeOutcome:
    """What one (re)subscription attempt did: the request was accepted, or why not."""

    feed_url: str
    accepted: bool
    hub: str | None = None
    topic: str | None = None
    detail: str = ""


def push_feeds(config: Config) -> dict[str, str]:
    """Callback key -> feed URL, for every feed that takes pushes (push: auto)."""
    return {websub.callback_key(f.url): f.url for _, f in config.feeds() if f.push == "auto"}


class Subscriber:
    """The subscriber's state and behaviour; the Starlette app routes requests to it."""

    def __init__(self, config: Config, *, secret: bytes, redis_client,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.settings = config.push
        self.secret = secret
        self.redis = redis_client
        self.clock = clock
        self.book = websub.IntentBook()
        self.feeds = push_feeds(config)
        self._retry_at: dict[str, tuple[float, float]] = {}  # feed -> (when, last delay)

    def callback(self, feed_url: str) -> str:
        base = str(self.settings.callback_base_url).rstrip("/")
        return base + CALLBACK_PREFIX + websub.callback_key(feed_url)

    async def _discover(self, feed_url: str) -> websub.Discovery | Failure:
        from .fetch import Fetcher, FetchLimits

        def fetch() -> Response | Failure:
            with Fetcher(FetchLimits.from_settings(self.config.fetch)) as fetcher:
                return fetcher.get(feed_url, kind="feed")

        fetched = await asyncio.to_thread(fetch)
        return fetched if isinstance(fetched, Failure) else websub.discover(fetched)

    async def subscribe(self, client: httpx.AsyncClient, feed_url: str) -> SubscribeOutcome:
        """Discover (or reuse) the feed's hub and topic, and ask the hub to subscribe us."""
        known = self.book.get(websub.callback_key(feed_url))
        if known is not None:
            hub, topic = known.hub, known.topic
        else:
            found = await self._discover(feed_url)
            if isinstance(found, Failure):
                return SubscribeOutcome(feed_url, False, detail=f"{found.kind}: {found.detail}")
            hub, topic = found.hubs[0], found.topic
        intent = websub.Intent(websub.callback_key(feed_url), feed_url, hub, topic,
                               "subscribe", self.clock())
        self.book.expect(intent)  # before the request: the hub may verify before answering
        form = websub.subscription_form(
            mode="subscribe", topic=topic, callback=self.callback(feed_url),
            lease_seconds=self.settings.lease_seconds,
            secret=websub.feed_secret(self.secret, feed_url),
        )
        return await self._send(client, hub, form, feed_url, topic)

    async def _send(self, client: httpx.AsyncClient, hub: str, form: dict[str, str],
                    feed_url: str, topic: str) -> SubscribeOutcome:
        """POST the request, following a hub's 307/308 to its new address."""
        url = hub
        for _ in range(MAX_HUB_REDIRECTS + 1):
            try:
                answer = await client.post(url, data=form)
            except httpx.HTTPError as error:
                return SubscribeOutcome(feed_url, False, url, topic, f"{type(error).__name__}: {error}")
            if answer.status_code in (307, 308) and answer.headers.get("location"):
                url = urljoin(url, answer.headers["location"])
                continue
            if answer.is_success:
                return SubscribeOutcome(feed_url, True, url, topic)
            return SubscribeOutcome(feed_url, False, url, topic,
                                    f"hub answered {answer.status_code}: {answer.text[:200]}")
        return SubscribeOutcome(feed_url, False, url, topic, "too many hub redirects")

    def _note(self, outcome: SubscribeOutcome) -> None:
        if outcome.accepted:
            self._retry_at.pop(outcome.feed_url, None)
            log.info("subscription requested: %s at %s", outcome.topic, outcome.hub)
            return
        _, last = self._retry_at.get(outcome.feed_url, (0.0, RETRY_FIRST_SECONDS / 2))
        delay = min(last * 2, RETRY_MAX_SECONDS)
        self._retry_at[outcome.feed_url] = (self.clock() + delay, delay)
        log.warning("not subscribed to %s (retry in %.0fs): %s", outcome.feed_url, delay,
                    outcome.detail)

    def _due(self, now: float, started: bool) -> list[str]:
        if not started:
            return list(self.feeds.values())
        renew = [i.feed_url for i in self.book.due(now)]
        retry = [feed for feed, (when, _) in self._retry_at.items() if now >= when]
        return list(dict.fromkeys(renew + retry))

    async def maintain(self, ready: Callable[[], bool]) -> None:
        """Subscribe once the server listens, then renew leases, retry failures and re-wake
        the DAG for stalled work, forever."""
        while not ready():
            await asyncio.sleep(0.05)
        started, next_stall_check = False, self.clock() + STALL_CHECK_SECONDS
        async with httpx.AsyncClient(timeout=HUB_TIMEOUT_SECONDS, trust_env=False) as client:
            while True:
                due = self._due(self.clock(), started)
                started = True
                if due:
                    # A renewal has its time pushed back as soon as it is sent.
                    for outcome in await asyncio.gather(*(self.subscribe(client, f) for f in due)):
                        self._note(outcome)
                if self.clock() >= next_stall_check:
                    next_stall_check = self.clock() + STALL_CHECK_SECONDS
                    await asyncio.to_thread(self.rewake)
                await asyncio.sleep(MAINTAIN_TICK_SECONDS)

    def rewake(self) -> int:
        """Announce again when queued entries wait for nobody: a wake-up published while the
        triggerer restarted (or re-subscribed) is gone, and a dead run's entries sit pending.
        Returns how many entries were waiting."""
        try:
            waiting = pushq.stalled(self.redis, self.settings, stale_seconds=STALE_PENDING_SECONDS)
            if waiting:
                pushq.announce(self.redis, self.settings, "stalled")
                log.info("%d queued push entries waited for no run: wake-up sent again", waiting)
            return waiting
        except Exception as error:  # noqa: BLE001 - Redis down: pushes get 503, nothing waits
            log.warning("could not check the push queue: %s", error)
            return 0

    # --- requests from hubs ---------------------------------------------------------------

    async def refuse(self, reason: str, status: int, path: str, detail: str,
                     size: int = 0) -> tuple[int, str]:
        rejection = pushq.Rejection(reason, status, path, detail, pushq.received_now(), size)
        await asyncio.to_thread(pushq.record_rejection, self.redis, self.settings, rejection)
        return status, reason

    async def verify(self, key: str, params: dict[str, str], path: str) -> tuple[int, str]:
        """Answer a hub's verification GET: echo the challenge only for our own intents."""
        mode, topic = params.get("hub.mode", ""), params.get("hub.topic", "")
        if mode == "denied":
            log.warning("hub denied subscription to %s: %s", topic, params.get("hub.reason", ""))
            return 200, ""
        challenge = params.get("hub.challenge")
        lease = params.get("hub.lease_seconds", "")
        if not challenge:
            return await self.refuse("bad_verification", 400, path, "no hub.challenge")
        confirmed = self.book.confirm(key, mode=mode, topic=topic,
                                      lease_seconds=int(lease) if lease.isdigit() else None,
                                      now=self.clock())
        if confirmed is None:
            return await self.refuse("unrequested_verification", 404, path,
                                     f"{mode} {topic}: no such intent")
        log.info("%s verified: %s (lease %ss)", mode, topic, confirmed.lease_seconds)
        return 200, challenge

    async def receive(self, key: str, request) -> tuple[int, str]:
        """Check a content distribution and queue it; the (status, reason) to answer."""
        path = request.url.path
        feed_url = self.feeds.get(key)
        if feed_url is None:
            return await self.refuse("unknown_topic", 404, path, "no push feed for this callback")
        cap = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            return await self.refuse("oversize", 413, path, f"{declared} bytes > {cap}", int(declared))
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                return await self.refuse("oversize", 413, path, f"more than {cap} bytes", len(body))
        body = bytes(body)
        check = websub.check_signature(request.headers.get(websub.SIGNATURE_HEADER), body,
                                       websub.feed_secret(self.secret, feed_url))
        if not check.ok:
            return await self.refuse(f"signature_{check.reason}", 403, path, feed_url, len(body))
        intent = self.book.get(key)
        topic = intent.topic if intent else feed_url
        if intent and not websub.topic_matches(topic, request.headers.getlist("link")):
            return await self.refuse("unknown_topic", 404, path, f"rel=self is not {topic}", len(body))
        event = pushq.PushEvent(
            entry_id="", feed_url=feed_url, topic=topic,
            body_sha256=hashlib.sha256(body).hexdigest(), received_at=pushq.received_now(),
            content_type=request.headers.get("content-type", "application/xml"), body=body,
        )
        try:
            entry_id = await asyncio.to_thread(pushq.append, self.redis, self.settings, event)
        except Exception as error:  # noqa: BLE001 - any Redis failure means "not queued"
            log.error("push for %s not queued (answering 503): %s", feed_url, error)
            return 503, "queue unavailable"
        log.info("push queued: %s %s (%d bytes)", entry_id, feed_url, len(body))
        return 202, "queued"


# --- the app and the server --------------------------------------------------------------


def create_app(subscriber: Subscriber, *, ready: Callable[[], bool] = lambda: True):
    """The Starlette app: GET/POST /websub/{key}; subscriptions kept up in the background."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def callback(request: Request) -> PlainTextResponse:
        key = request.path_params["key"]
        if request.method == "GET":
            status, text = await subscriber.verify(key, dict(request.query_params), request.url.path)
            return PlainTextResponse(text, status_code=status, media_type=TEXT)
        status, text = await subscriber.receive(key, request)
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
        return PlainTextResponse(text + "\n", status_code=status, headers=headers)

    async def health(request: Request) -> PlainTextResponse:
        active = sum(i.active for i in subscriber.book.all())
        return PlainTextResponse(f"subscriptions {active}/{len(subscriber.feeds)}\n")

    @contextlib.asynccontextmanager
    async def lifespan(app) -> AsyncIterator[None]:
        task = asyncio.create_task(subscriber.maintain(ready), name="websub-maintain")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    routes = [
        Route(CALLBACK_PREFIX + "{key}", callback, methods=["GET", "POST"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def build_server(config: Config, *, secret: bytes, host: str = "127.0.0.1",
                 port: int | None = None):
    """A uvicorn Server for the subscriber (not started), and the Subscriber it serves."""
    import uvicorn

    subscriber = Subscriber(config, secret=secret, redis_client=pushq.connect(config.push))
    port = port if port is not None else urlsplit(str(config.push.callback_base_url)).port or 80
    holder: list = []
    app = create_app(subscriber, ready=lambda: bool(holder) and holder[0].started)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="on", access_log=False))
    holder.append(server)
    return server, subscriber


def serve(config_path: str | Path, *, host: str = "127.0.0.1", port: int | None = None) -> int:
    """Run the subscriber until interrupted; the port defaults to push.callback_base_url's."""
    config = load_config(config_path)
    server, subscriber = build_server(config, secret=load_secret(), host=host, port=port)
    log.info("push subscriber for %d feeds on %s:%s", len(subscriber.feeds), host,
             server.config.port)
    server.run()
    return 0
