"""The push queue in Redis: a Stream of accepted pushes (durable), a pub/sub wake-up, and
a capped list of refused pushes.

    subscriber  ── XADD stream + PUBLISH channel (one MULTI) ──►  Redis
    news_push   ── XAUTOCLAIM (a crashed run's entries) + XREADGROUP (new ones) ──►  load
                ── XACK + XDEL, only after the load committed

Pub/sub only wakes the DAG: a wake-up lost while Airflow's trigger re-subscribes costs
latency, because every run takes the whole stream. Entries are deleted once acknowledged,
so the stream holds only work not yet stored.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .config import PushSettings

__all__ = [
    "REDIS_URL_ENV",
    "PushEvent",
    "Rejection",
    "ack",
    "announce",
    "append",
    "backlog",
    "connect",
    "ensure_group",
    "fetch",
    "record_rejection",
    "rejections",
    "stalled",
    "take",
]

log = logging.getLogger(__name__)

#: Overrides PushSettings.redis_url: a URL carrying a password belongs here, not in YAML.
REDIS_URL_ENV = "NEWSPIPE_REDIS_URL"
READ_BATCH = 200
CLAIM_BATCH = 200
REJECTIONS_KEPT = 1000
SOCKET_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One accepted push: the configured feed it is for, and the document as delivered."""

    entry_id: str
    feed_url: str
    topic: str
    body_sha256: str
    received_at: datetime
    content_type: str
    body: bytes

    def fields(self) -> dict[str, bytes | str]:
        return {
            "feed": self.feed_url,
            "topic": self.topic,
            "sha256": self.body_sha256,
            "received_at": self.received_at.isoformat(),
            "content_type": self.content_type,
            "body": self.body,
        }

    @classmethod
    def from_entry(cls, entry_id: bytes | str, fields: dict[bytes, bytes]) -> PushEvent:
        text = {k.decode(): v.decode() for k, v in fields.items() if k != b"body"}
        return cls(
            entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
            feed_url=text["feed"],
            topic=text.get("topic", text["feed"]),
            body_sha256=text["sha256"],
            received_at=datetime.fromisoformat(text["received_at"]),
            content_type=text.get("content_type", "application/xml"),
            body=fields.get(b"body", b""),
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A push or verification the subscriber refused, and why."""

    reason: str
    status: int
    path: str
    detail: str
    at: datetime
    bytes: int = 0

    def to_json(self) -> str:
        return json.dumps({"reason": self.reason, "status": self.status, "path": self.path,
                           "detail": self.detail, "at": self.at.isoformat(),
                           "bytes": self.bytes})


def connect(settings: PushSettings):
    """A Redis client (bytes in, bytes out) for the configured or overriding URL."""
    import redis  # imported where used: DAG parsing never needs it

    url = os.environ.get(REDIS_URL_ENV) or settings.redis_url
    return redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_SECONDS,
                                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)


def _rejected_key(settings: PushSettings) -> str:
    return settings.stream + ":rejected"


def append(client, settings: PushSettings, event: PushEvent) -> str:
    """Append an accepted push to the stream and announce it, atomically; its entry id.

    Raises redis.RedisError when Redis cannot take it: the caller answers 503 so the hub
    retries, and nothing is half-recorded.
    """
    pipe = client.pipeline(transaction=True)
    pipe.xadd(settings.stream, event.fields())
    pipe.publish(settings.channel, json.dumps({"feed": event.feed_url, "sha256": event.body_sha256}))
    entry_id, _ = pipe.execute()
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def announce(client, settings: PushSettings, reason: str) -> int:
    """Publish a wake-up with no new entry (work is left in the stream); subscriber count."""
    return int(client.publish(settings.channel, json.dumps({"wake": reason})))


def record_rejection(client, settings: PushSettings, rejection: Rejection) -> None:
    """Log a refusal and keep it in a capped Redis list; Redis trouble only loses the list."""
    log.warning("push refused: %s (%s) %s: %s", rejection.reason, rejection.status,
                rejection.path, rejection.detail)
    try:
        pipe = client.pipeline(transaction=True)
        pipe.lpush(_rejected_key(settings), rejection.to_json())
        pipe.ltrim(_rejected_key(settings), 0, REJECTIONS_KEPT - 1)
        pipe.execute()
    except Exception as error:  # noqa: BLE001 - a refusal must be answered even without Redis
        log.warning("refusal not kept in Redis: %s", error)


def rejections(client, settings: PushSettings, limit: int = REJECTIONS_KEPT) -> list[dict]:
    """The most recent refusals, newest first."""
    return [json.loads(raw) for raw in client.lrange(_rejected_key(settings), 0, limit - 1)]


def ensure_group(client, settings: PushSettings) -> None:
    """Create the stream and consumer group if missing; the group starts at the beginning."""
    import redis

    try:
        client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def _claim_all(client, settings: PushSettings, consumer: str) -> list[PushEvent]:
    """Every entry pending in the group, now owned by `consumer`.

    news_push runs one at a time (max_active_runs=1), so anything pending when a run starts
    was left by a run that died before acknowledging: claim it at any idle time.
    """
    events, cursor = [], "0-0"
    while True:
        cursor, claimed, *_ = client.xautoclaim(
            settings.stream, settings.group, consumer, min_idle_time=0, start_id=cursor,
            count=CLAIM_BATCH,
        )
        events += [PushEvent.from_entry(i, f) for i, f in claimed if f]
        if cursor in (b"0-0", "0-0"):
            return events


def _read_new(client, settings: PushSettings, consumer: str) -> list[PushEvent]:
    events = []
    while True:
        answer = client.xreadgroup(settings.group, consumer, {settings.stream: ">"},
                                   count=READ_BATCH)
        batch = answer[0][1] if answer else []
        events += [PushEvent.from_entry(i, f) for i, f in batch if f]
        if len(batch) < READ_BATCH:
            return events


def _forget_idle_consumers(client, settings: PushSettings, keep: str) -> None:
    """Drop consumers of earlier runs once they hold nothing (their names are run ids)."""
    for info in client.xinfo_consumers(settings.stream, settings.group):
        name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
        if name != keep and int(info["pending"]) == 0:
            client.xgroup_delconsumer(settings.stream, settings.group, name)


def take(client, settings: PushSettings, consumer: str) -> list[PushEvent]:
    """Everything in the stream not yet acknowledged: a dead run's entries, then new ones."""
    ensure_group(client, settings)
    events = _claim_all(client, settings, consumer) + _read_new(client, settings, consumer)
    _forget_idle_consumers(client, settings, keep=consumer)
    unique = {e.entry_id: e for e in events}
    return sorted(unique.values(), key=lambda e: tuple(int(p) for p in e.entry_id.split("-")))


def fetch(client, settings: PushSettings, entry_ids: Sequence[str]) -> list[PushEvent]:
    """The entries with these ids still in the stream (a retried task re-reads its own)."""
    pipe = client.pipeline(transaction=False)
    for entry_id in entry_ids:
        pipe.xrange(settings.stream, min=entry_id, max=entry_id)
    return [PushEvent.from_entry(i, f) for found in pipe.execute() for i, f in found]


def ack(client, settings: PushSettings, entry_ids: Sequence[str]) -> int:
    """Acknowledge and delete stored entries; how many were still pending."""
    if not entry_ids:
        return 0
    pipe = client.pipeline(transaction=True)
    pipe.xack(settings.stream, settings.group, *entry_ids)
    pipe.xdel(settings.stream, *entry_ids)
    acked, _ = pipe.execute()
    return int(acked)


def backlog(client, settings: PushSettings) -> int:
    """Entries in the stream the group has not delivered yet (arrived after a run's read)."""
    ensure_group(client, settings)
    for group in client.xinfo_groups(settings.stream):
        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
        if name == settings.group:
            lag = group.get("lag")
            if lag is None:  # Redis cannot tell (entries deleted meanwhile): count by reading
                return len(client.xrange(settings.stream, min=_after(group["last-delivered-id"])))
            return int(lag)
    return 0


def stalled(client, settings: PushSettings, *, stale_seconds: float) -> int:
    """Entries no run is working on: never delivered, or pending longer than `stale_seconds`
    (a run that died, or a wake-up Airflow's trigger missed). Zero when all is flowing."""
    waiting = backlog(client, settings)
    stale = client.xpending_range(settings.stream, settings.group, min="-", max="+", count=1,
                                  idle=int(stale_seconds * 1000))
    return waiting + len(stale)


def _after(entry_id: bytes | str) -> str:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return "(" + text


def received_now() -> datetime:
    """The receipt time stamped on an accepted push."""
    return datetime.fromtimestamp(time.time(), UTC)
