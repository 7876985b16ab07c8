"""Staged batches: what one shard produced, as Parquet files in one directory.

A batch directory appears atomically (written aside, then renamed), so its existence
means it is complete: a retried shard finds it and does no work twice, and the loader
never reads half a batch.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import StagingError
from .records import Article, FeedPoll, FetchLogRow, PageCheck

__all__ = [
    "BATCH_TABLES",
    "Alias",
    "BatchWriter",
    "ShardReport",
    "batch_dir",
    "read_report",
    "write_batch",
]

_TS = pa.timestamp("us", tz="UTC")
_STRINGS = pa.list_(pa.string())

FEEDS_SCHEMA = pa.schema([
    ("feed_url", pa.string()), ("topic", pa.string()), ("outlet", pa.string()),
    ("polled_at", _TS), ("status", pa.int32()), ("etag", pa.string()),
    ("last_modified", pa.string()), ("not_modified", pa.bool_()),
    ("error_class", pa.string()), ("error_detail", pa.string()),
    ("entry_count", pa.int32()), ("hub_url", pa.string()), ("self_url", pa.string()),
    ("is_malformed", pa.bool_()),
])
ENTRIES_SCHEMA = pa.schema([
    ("feed_url", pa.string()), ("entry_key", pa.string()), ("url", pa.string()),
    ("title", pa.string()), ("summary", pa.string()), ("published_at", _TS),
    ("categories", _STRINGS), ("position", pa.int32()),
])
ARTICLES_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("requested_url", pa.string()),
    ("feed_url", pa.string()), ("outlet", pa.string()), ("topic", pa.string()),
    ("title", pa.string()), ("text", pa.string()), ("text_source", pa.string()),
    ("content_hash", pa.string()), ("word_count", pa.int32()), ("signature", pa.binary()),
    ("authors", _STRINGS), ("published_at", _TS), ("published_at_source", pa.string()),
    ("modified_at", _TS), ("site_name", pa.string()), ("language", pa.string()),
    ("section", pa.string()), ("tags", _STRINGS), ("page_type", pa.string()),
    ("canonical_url", pa.string()), ("syndicated_from", pa.string()),
    ("url_variants", _STRINGS), ("fetched_at", _TS), ("position", pa.int32()),
    ("url_kinds", _STRINGS), ("credits", _STRINGS), ("modified_at_source", pa.string()),
    ("etag", pa.string()), ("last_modified", pa.string()),
])
FINDINGS_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("field", pa.string()), ("source", pa.string()),
    ("reason", pa.string()), ("raw_value", pa.string()), ("found_at", _TS),
])
ALIASES_SCHEMA = pa.schema([
    ("url", pa.string()), ("target_url", pa.string()), ("kind", pa.string()),
    ("seen_at", _TS),
])
CHECKS_SCHEMA = pa.schema([
    ("article_id", pa.string()), ("url", pa.string()), ("checked_at", _TS),
    ("slot", pa.int32()), ("outcome", pa.string()), ("status", pa.int32()),
    ("etag", pa.string()), ("last_modified", pa.string()), ("base_revision", pa.int32()),
    ("title", pa.string()), ("text", pa.string()), ("content_hash", pa.string()),
    ("word_count", pa.int32()), ("signature", pa.binary()), ("modified_at", _TS),
    ("words_added", pa.int32()), ("words_removed", pa.int32()), ("diff", pa.string()),
    ("detail", pa.string()),
])
FETCH_LOG_SCHEMA = pa.schema([
    ("seq", pa.int32()), ("url", pa.string()), ("kind", pa.string()), ("status", pa.int32()),
    ("error_class", pa.string()), ("detail", pa.string()), ("bytes", pa.int64()),
    ("duration_ms", pa.float64()), ("attempt", pa.int32()), ("fetched_at", _TS),
])

#: file stem -> schema; the loader reads `<batch>/<stem>.parquet` for each.
BATCH_TABLES: dict[str, pa.Schema] = {
    "feeds": FEEDS_SCHEMA,
    "entries": ENTRIES_SCHEMA,
    "articles": ARTICLES_SCHEMA,
    "fetch_log": FETCH_LOG_SCHEMA,
    "findings": FINDINGS_SCHEMA,
    "aliases": ALIASES_SCHEMA,
    "checks": CHECKS_SCHEMA,
}
_REPORT = "report.json"


@dataclass(frozen=True, slots=True)
class ShardReport:
    """Counts and the batch path of one shard: what travels through XCom."""

    run_id: str
    shard: int
    batch_id: str
    path: str
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    entries_seen: int = 0
    entries_new: int = 0
    pages_fetched: int = 0
    pages_failed: int = 0
    articles_extracted: int = 0
    summaries_kept: int = 0
    pages_rechecked: int = 0
    pages_revised: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ShardReport:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def batch_dir(staging_dir: Path, run_id: str, shard: int) -> Path:
    """Where a run's shard batch lives; deterministic so a retry finds it."""
    safe_run = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
    return Path(staging_dir) / safe_run / f"shard-{shard:04d}"


def _feed_rows(polls: Iterable[tuple[FeedPoll, str, str]]) -> Iterator[dict]:
    for poll, topic, outlet in polls:
        yield {
            "feed_url": poll.feed_url, "topic": topic, "outlet": outlet,
            "polled_at": poll.polled_at, "status": poll.status, "etag": poll.etag,
            "last_modified": poll.last_modified, "not_modified": poll.not_modified,
            "error_class": poll.failure.kind if poll.failure else None,
            "error_detail": poll.failure.detail if poll.failure else None,
            "entry_count": len(poll.entries), "hub_url": poll.hub_url,
            "self_url": poll.self_url, "is_malformed": poll.is_malformed,
        }


def _entry_rows(polls: Iterable[tuple[FeedPoll, str, str]]) -> Iterator[dict]:
    return (
        {
            "feed_url": e.feed_url, "entry_key": e.entry_key, "url": e.url, "title": e.title,
            "summary": e.summary, "published_at": e.published_at,
            "categories": list(e.categories), "position": e.position,
        }
        for poll, _, _ in polls
        for e in poll.entries
    )


def _article_rows(articles: Sequence[Article], *, start: int = 0) -> list[dict]:
    rows = []
    for position, a in enumerate(articles, start):
        rows.append({
            "article_id": a.article_id, "url": a.url, "requested_url": a.requested_url,
            "feed_url": a.feed_url, "outlet": a.outlet, "topic": a.topic, "title": a.title,
            "text": a.text, "text_source": a.text_source,
            "content_hash": a.fingerprint.content_hash, "word_count": a.fingerprint.word_count,
            "signature": a.fingerprint.signature, "authors": list(a.authors),
            "published_at": a.published_at, "published_at_source": a.published_at_source,
            "modified_at": a.modified_at, "site_name": a.site_name, "language": a.language,
            "section": a.section, "tags": list(a.tags), "page_type": a.page_type,
            "canonical_url": a.canonical_url, "syndicated_from": a.syndicated_from,
            "url_variants": list(a.url_variants), "fetched_at": a.fetched_at,
            "position": position, "url_kinds": list(a.url_kinds), "credits": list(a.credits),
            "modified_at_source": a.modified_at_source, "etag": a.etag,
            "last_modified": a.last_modified,
        })
    return rows


@dataclass(frozen=True, slots=True)
class Alias:
    """A feed link not fetched because its known form (AMP, wrapper) is stored already."""

    url: str
    target_url: str
    kind: str
    seen_at: datetime


def _finding_rows(articles: Sequence[Article]) -> list[dict]:
    return [
        {"article_id": a.article_id, "field": f.field, "source": f.source, "reason": f.reason,
         "raw_value": f.raw, "found_at": a.fetched_at}
        for a in articles
        for f in a.findings
    ]


def _check_rows(checks: Sequence[PageCheck]) -> Iterator[dict]:
    for c in checks:
        fp = c.fingerprint
        yield {
            "article_id": c.article_id, "url": c.url, "checked_at": c.checked_at,
            "slot": c.slot, "outcome": c.outcome, "status": c.status, "etag": c.etag,
            "last_modified": c.last_modified, "base_revision": c.base_revision,
            "title": c.title, "text": c.text, "content_hash": fp.content_hash if fp else None,
            "word_count": fp.word_count if fp else None, "signature": fp.signature if fp else None,
            "modified_at": c.modified_at, "words_added": c.words_added,
            "words_removed": c.words_removed, "diff": c.diff, "detail": c.detail,
        }


def _log_rows(log: Sequence[FetchLogRow]) -> Iterator[dict]:
    return (
        {
            "seq": seq, "url": r.url, "kind": r.kind, "status": r.status,
            "error_class": r.error_class, "detail": r.detail, "bytes": r.bytes,
            "duration_ms": r.duration_ms, "attempt": r.attempt, "fetched_at": r.fetched_at,
        }
        for seq, r in enumerate(log)
    )


#: Articles buffered before a Parquet row group is written: a few MB of text, so a
#: batch's memory stays flat however many articles it holds.
ROW_GROUP_ARTICLES = 1024
#: Rows per row group of the other tables (feeds, entries, the fetch log, ...).
ROW_GROUP_ROWS = 8192


def _write_rows(path: Path, schema: pa.Schema, rows: Iterable[dict]) -> None:
    """One Parquet file from rows made as they are written, a row group at a time, so a
    big shard never holds a whole table of dicts."""
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        group: list[dict] = []
        for row in rows:
            group.append(row)
            if len(group) >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_pylist(group, schema=schema))
                group = []
        writer.write_table(pa.Table.from_pylist(group, schema=schema))


class BatchWriter:
    """Writes one batch while it is produced: articles and their findings in row groups as
    they come, the other tables at `finish`, then the atomic rename.

    A context manager: leaving it without `finish` (an error) removes the partial batch.
    """

    def __init__(self, path: str | Path) -> None:
        self.final = Path(path)
        self.tmp = self.final.with_name(self.final.name + f".tmp-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self._writers = {
            stem: pq.ParquetWriter(self.tmp / f"{stem}.parquet", BATCH_TABLES[stem],
                                   compression="zstd")
            for stem in ("articles", "findings")
        }
        self._pending: list[Article] = []
        self._position = 0
        self._done = False

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._done:
            self.abort()

    @property
    def articles_written(self) -> int:
        return self._position + len(self._pending)

    def add_articles(self, articles: Iterable[Article]) -> None:
        self._pending.extend(articles)
        if len(self._pending) >= ROW_GROUP_ARTICLES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        rows = _article_rows(self._pending, start=self._position)
        self._writers["articles"].write_table(
            pa.Table.from_pylist(rows, schema=BATCH_TABLES["articles"]))
        findings = _finding_rows(self._pending)
        if findings:
            self._writers["findings"].write_table(
                pa.Table.from_pylist(findings, schema=BATCH_TABLES["findings"]))
        self._position += len(self._pending)
        self._pending = []

    def finish(
        self,
        report: ShardReport,
        *,
        polls: Sequence[tuple[FeedPoll, str, str]],
        fetch_log: Sequence[FetchLogRow],
        checks: Sequence[PageCheck] = (),
        aliases: Sequence[Alias] = (),
    ) -> ShardReport:
        """Write the remaining tables and publish the batch; returns its report."""
        self._flush()
        for writer in self._writers.values():
            writer.close()
        tables = {
            "feeds": _feed_rows(polls),
            "entries": _entry_rows(polls),
            "fetch_log": _log_rows(fetch_log),
            "aliases": (asdict(a) for a in aliases),
            "checks": _check_rows(checks),
        }
        for stem, rows in tables.items():
            _write_rows(self.tmp / f"{stem}.parquet", BATCH_TABLES[stem], rows)
        (self.tmp / _REPORT).write_text(json.dumps(report.to_dict(), sort_keys=True),
                                        encoding="utf-8")
        self._done = True
        if self.final.exists():  # a concurrent retry finished first: its batch is complete
            shutil.rmtree(self.tmp, ignore_errors=True)
            return read_report(self.final)
        os.replace(self.tmp, self.final)
        return report

    def abort(self) -> None:
        """Drop the partial batch (nothing was published)."""
        self._done = True
        for writer in self._writers.values():
            writer.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_batch(
    report: ShardReport,
    *,
    polls: Sequence[tuple[FeedPoll, str, str]],
    articles: Sequence[Article],
    fetch_log: Sequence[FetchLogRow],
    checks: Sequence[PageCheck] = (),
    aliases: Sequence[Alias] = (),
) -> ShardReport:
    """Write one shard's batch atomically and return its report (path filled in)."""
    with BatchWriter(report.path) as writer:
        writer.add_articles(articles)
        return writer.finish(report, polls=polls, fetch_log=fetch_log, checks=checks,
                             aliases=aliases)


def read_report(path: str | Path) -> ShardReport:
    """The report of a complete batch; StagingError if the batch is missing or torn."""
    path = Path(path)
    try:
        return ShardReport.from_dict(json.loads((path / _REPORT).read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise StagingError(f"staged batch {path} is missing or incomplete: {exc}") from None
