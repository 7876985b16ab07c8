"""The feeds file (topics and feeds) and every tunable, validated once at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from .errors import ConfigError

__all__ = [
    "Config",
    "DedupSettings",
    "FeedConfig",
    "FetchSettings",
    "PushSettings",
    "QualitySettings",
    "RevisionSettings",
    "Topic",
    "load_config",
]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return value


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeedConfig(_Frozen):
    """One feed: where it is, which outlet publishes it, how its times are read."""

    url: HttpUrl
    outlet: str | None = None
    timezone: TimeZone = "UTC"
    push: Literal["auto", "off"] = "auto"

    @property
    def outlet_name(self) -> str:
        """The outlet, defaulting to the feed's host: boilerplate is learned per outlet."""
        return self.outlet or (urlsplit(self.url).hostname or "unknown")


class Topic(_Frozen):
    name: str = Field(min_length=1)
    feeds: tuple[FeedConfig, ...] = Field(min_length=1)


class FetchSettings(_Frozen):
    """Timeouts, caps and politeness for every HTTP request (see fetch.FetchLimits)."""

    user_agent: str = "newspipe/0.1 (+https://github.com/newspipe/newspipe)"
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(10.0, gt=0)
    total_timeout: float = Field(30.0, gt=0)
    max_bytes: int = Field(10_000_000, gt=0)
    max_redirects: int = Field(5, ge=0)
    retries: int = Field(2, ge=0)
    backoff_seconds: float = Field(0.5, ge=0)
    backoff_max_seconds: float = Field(30.0, ge=0)
    per_host_concurrency: int = Field(2, ge=1)
    per_host_delay: float = Field(0.0, ge=0)
    global_concurrency: int = Field(16, ge=1)
    respect_robots: bool = True
    # New pages fetched per feed per run: a 10,000-entry feed drains over several runs
    # instead of stalling one (the rest stay unstored, so the next run takes them).
    max_new_pages_per_feed: int = Field(200, ge=1)
    # Share of failed feeds and pages above which a run fails, after loading what succeeded.
    max_error_rate: float = Field(0.5, ge=0, le=1)
    # The one switch that lets the pipeline fetch loopback and private addresses:
    # off in production (SSRF), on for the local fixture server.
    allow_private_addresses: bool = False


class DedupSettings(_Frozen):
    """Near-duplicate detection parameters; defaults chosen by bench/ measurements."""

    # bench/bench_dedup.py: at 0.5 with 3-word shingles precision is 1.0 (write-ups of one
    # event stay below 0.2) and its 32x4 bands keep false candidates few at 100k docs; 0.4
    # gains recall but needs 42x3 bands, whose false candidates grow quadratically.
    threshold: float = Field(0.5, gt=0, lt=1)
    shingle_size: int = Field(3, ge=1, le=10)
    num_perm: int = Field(128, ge=16, le=1024)
    window_days: int = Field(30, ge=1)


class QualitySettings(_Frozen):
    """Bounds the quality suites check a run against."""

    languages: tuple[str, ...] = ("en",)
    min_text_chars: int = Field(200, ge=0)
    max_text_chars: int = Field(200_000, gt=0)
    future_tolerance_minutes: int = Field(60, ge=0)
    max_fetch_error_rate: float = Field(0.2, ge=0, le=1)
    max_duplicate_rate: float = Field(0.9, ge=0, le=1)
    min_new_articles: int = Field(0, ge=0)
    max_new_articles: int = Field(1_000_000, ge=0)
    freshness_hours: int = Field(48, ge=1)


class PushSettings(_Frozen):
    """WebSub push ingest: where events queue in Redis and how the subscriber behaves.

    No secrets here: the subscriber's signing secret and a Redis password come from the
    environment or an Airflow connection (see pipeline.push).
    """

    redis_url: str = "redis://127.0.0.1:6379/0"
    stream: str = Field("newspipe:push", min_length=1)  # the durable queue (a Redis Stream)
    channel: str = Field("newspipe:push:wake", min_length=1)  # pub/sub wake-up for the DAG
    group: str = Field("news_push", min_length=1)  # consumer group the DAG reads through
    redis_conn_id: str = "redis_default"  # the Airflow connection the trigger listens with
    max_body_bytes: int = Field(5_000_000, gt=0)
    lease_seconds: int = Field(86_400, ge=1)
    # Where hubs reach `newspipe push serve`; callbacks are <base>/websub/<feed key>.
    callback_base_url: HttpUrl = "http://127.0.0.1:8470"


class RevisionSettings(_Frozen):
    """When stored articles are re-checked for revisions: hours after first stored.

    News changes most in its first hours (headline rewrites, corrections, updates), so
    checks thin out with age; after the last slot an article is not fetched again.
    """

    schedule_hours: tuple[float, ...] = (1.0, 3.0, 12.0, 24.0)
    max_per_shard: int = Field(500, ge=0)  # re-checks per shard per run; the rest wait

    @field_validator("schedule_hours")
    @classmethod
    def _increasing(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(h <= 0 for h in value) or list(value) != sorted(set(value)):
            raise ValueError("must be positive and strictly increasing")
        return value


class Config(_Frozen):
    """The whole validated config: topics with their feeds, and every setting."""

    topics: tuple[Topic, ...] = Field(min_length=1)
    schedule: str | None = "@hourly"  # None: runs only when triggered (demo, tests, push)
    shards: int = Field(4, ge=1, le=1024)
    workers: int = Field(0, ge=0)  # 0: one per CPU core
    fetch: FetchSettings = FetchSettings()
    dedup: DedupSettings = DedupSettings()
    quality: QualitySettings = QualitySettings()
    revisions: RevisionSettings = RevisionSettings()
    push: PushSettings = PushSettings()

    def feeds(self) -> list[tuple[Topic, FeedConfig]]:
        """Every feed with its topic, in file order, each URL once (first topic wins)."""
        seen: set[str] = set()
        out = []
        for topic in self.topics:
            for feed in topic.feeds:
                if feed.url not in seen:
                    seen.add(feed.url)
                    out.append((topic, feed))
        return out


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _message(error: dict) -> str:
    return error["msg"].removeprefix("Value error, ")


def parse_config(data: object, *, source: str = "config") -> Config:
    """Validate an already-parsed mapping; errors name the key path, one per line."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A bad item also fails its parent's length check: report only the deepest cause.
        locs = [tuple(err["loc"]) for err in errors]
        specific = [err for err, loc in zip(errors, locs, strict=True)
                    if not any(len(other) > len(loc) and other[: len(loc)] == loc for other in locs)]
        lines = [f"{_key_path(err['loc'])}: {_message(err)}" for err in specific]
        raise ConfigError(f"{source}: " + "; ".join(lines)) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a feeds YAML file, raising ConfigError with the bad key path."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}".splitlines()[0]) from None
    return parse_config(data, source=str(path))
