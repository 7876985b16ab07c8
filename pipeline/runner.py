"""The two jobs every orchestrator runs: ingest one shard of feeds, then load staged batches.

The news_ingest DAG maps `ingest_shard` over `plan_shards` and calls `load_staged` once
in a one-slot pool; `newspipe run` loops over the same functions in-process.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import store
from .config import Config, DedupSettings, FeedConfig
from .errors import TooManyFailures
from .extract import Extraction, extract_page, warm_up
from .fetch import Fetcher, FetchLimits
from .fingerprint import fingerprint_texts
from .identity import fetch_key, resolve_identity, unwrap_redirect
from .load import LoadReport, RunInfo, load_batches
from .poll import FeedState, poll_feed, poll_result
from .progress import ProgressSink
from .records import (
    Article,
    Failure,
    FeedEntry,
    FeedPoll,
    FetchLogRow,
    Fingerprint,
    Response,
    Shard,
)
from .revisions import due_checks, recheck
from .staging import Alias, BatchWriter, ShardReport, batch_dir, read_report
from .urls import normalise_url, resolve_link, url_key

__all__ = [
    "ExtractionPool",
    "FeedMeta",
    "RunSummary",
    "ingest_documents",
    "ingest_shard",
    "load_staged",
    "enforce_error_rate",
    "error_rate",
    "extract_stream",
    "plan_shards",
    "run_once",
    "worker_count",
]

log = logging.getLogger(__name__)

#: Pages per task handed to an extraction process: big enough to amortise pickling.
EXTRACT_CHUNK = 16
#: Below this many pages a process pool costs more than it saves.
POOL_THRESHOLD = 24
#: Pages fetched per chunk; the next chunk is fetched while this one is extracted.
FETCH_CHUNK = 128
#: Extraction tasks queued per worker: enough to keep every core busy between chunks.
INFLIGHT_PER_WORKER = 4
#: Shards `newspipe run` works on at once (sharing one extraction pool).
CONCURRENT_SHARDS = 2


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What the stages need to know about the feed an entry came from."""

    feed_url: str
    topic: str
    outlet: str
    timezone: str
    future_tolerance_minutes: int = 60


def worker_count(config: Config, *, sharing: int = 1) -> int:
    """Processes for extraction: the configured number, or one per usable core, the cores
    split between the `sharing` shards that run at once, each with its own pool."""
    if config.workers:
        return config.workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, sharing))


def plan_shards(config: Config, *, count: int | None = None) -> list[Shard]:
    """Split the feeds into at most `count` shards, keeping each outlet in one shard.

    An outlet's feeds and pages mostly share a host, so its politeness limits are
    enforced by a single fetcher.
    """
    count = count or config.shards
    by_outlet: dict[str, list[str]] = {}
    for _, feed in config.feeds():
        by_outlet.setdefault(feed.outlet_name, []).append(feed.url)
    outlets = sorted(by_outlet, key=lambda o: (-len(by_outlet[o]), o))
    buckets: list[list[str]] = [[] for _ in range(min(count, len(outlets)) or 1)]
    for outlet in outlets:  # largest first into the emptiest bucket: balanced and stable
        min(buckets, key=len).extend(by_outlet[outlet])
    return [Shard(i, tuple(urls)) for i, urls in enumerate(buckets) if urls]


def _feed_metas(config: Config, shard: Shard) -> list[FeedMeta]:
    known: dict[str, tuple[str, FeedConfig]] = {f.url: (t.name, f) for t, f in config.feeds()}
    metas = []
    for url in shard.feed_urls:
        topic, feed = known[url]
        metas.append(FeedMeta(url, topic, feed.outlet_name, feed.timezone,
                              config.quality.future_tolerance_minutes))
    return metas


def _snapshot_state(
    db_path: Path, feed_urls: Sequence[str], entry_urls: Sequence[str] | None
) -> tuple[dict[str, FeedState], set[str]]:
    """Feed validators and already-stored URLs, read from the published snapshot."""
    if not Path(db_path).exists():
        return {}, set()
    con = store.reader(db_path)
    try:
        states = {
            url: FeedState(etag, modified)
            for url, etag, modified in con.execute(
                store.sql_text("pipeline/feed_states.sql"), {"feed_urls": list(feed_urls)}
            ).fetchall()
        }
        known: set[str] = set()
        if entry_urls:
            rows = con.execute(store.sql_text("pipeline/known_urls.sql"), {"urls": list(entry_urls)})
            known = {url for (url,) in rows.fetchall()}
        return states, known
    finally:
        con.close()


@dataclass(frozen=True, slots=True)
class _Selection:
    """What the seen-filter decided for one batch of feed entries."""

    fresh: list[FeedEntry]  # to fetch, one per fetch key
    also_seen: dict[str, tuple[str, ...]]  # fetched URL -> other links of the same key
    aliases: list[Alias]  # links not fetched: their known form is stored already


def _lookup_urls(entries: Sequence[FeedEntry]) -> list[str]:
    """Every spelling the seen-filter asks the store about: the links and their keys."""
    return list(dict.fromkeys(u for e in entries for u in (e.url, fetch_key(e.url))))


def _new_entries(polls: Sequence[FeedPoll], known: set[str], *, per_feed: int,
                 now: datetime) -> _Selection:
    """Entries whose URL (or known form: AMP twin, wrapper target) is not stored yet, one
    per fetch key, at most `per_feed` new keys per feed.

    The same article in two feeds, or as a page and its AMP twin, is fetched once (the
    plain link preferred); a feed's backlog beyond the cap is left for the next run.
    """
    groups: dict[str, list[FeedEntry]] = {}
    aliases: dict[str, Alias] = {}
    for poll in polls:
        taken = 0
        for entry in poll.entries:
            key = fetch_key(entry.url)
            if entry.url in known:
                continue
            if key in known:
                kind = "wrapper" if unwrap_redirect(entry.url) else "amp"
                aliases.setdefault(entry.url, Alias(entry.url, key, kind, now))
                continue
            if key not in groups:
                if taken >= per_feed:
                    continue
                groups[key] = []
                taken += 1
            if all(e.url != entry.url for e in groups[key]):
                groups[key].append(entry)
    fresh, also_seen = [], {}
    for key, members in groups.items():
        chosen = next((e for e in members if e.url == key), members[0])
        fresh.append(chosen)
        also_seen[chosen.url] = tuple(e.url for e in members if e is not chosen)
    return _Selection(fresh, also_seen, list(aliases.values()))


def _absolute(links: Sequence[str], base: str) -> list[str]:
    return [u for u in (resolve_link(link, base) for link in links) if u]


def _article(
    page: Response, entry: FeedEntry, meta: FeedMeta, found: Extraction, fp: Fingerprint,
    also_seen: tuple[str, ...] = (),
) -> Article:
    # A canonical on another registrable domain is syndication: "copy of", not "same".
    identity = resolve_identity(
        requested_url=entry.url, fetched_url=page.url, final_url=page.final_url,
        redirects=page.redirects, canonicals=found.canonicals or (found.canonical_url,),
        also_seen=(*also_seen, *_absolute(found.amp_urls, page.final_url)),
    )
    # Validators belong to the URL that answered; re-checks fetch the article's own URL.
    own_validators = normalise_url(page.final_url) == identity.url
    return Article(
        article_id=url_key(identity.url),
        url=identity.url,
        requested_url=entry.url,
        feed_url=meta.feed_url,
        outlet=meta.outlet,
        topic=meta.topic,
        title=found.title,
        text=found.text,
        text_source=found.text_source,
        fetched_at=page.fetched_at,
        fingerprint=fp,
        authors=found.authors,
        credits=found.credits,
        published_at=found.published_at,
        published_at_source=found.published_at_source,
        modified_at=found.modified_at,
        modified_at_source=found.modified_at_source,
        site_name=found.site_name,
        language=found.language,
        section=found.section,
        tags=found.tags,
        page_type=found.page_type,
        canonical_url=identity.canonical_url,
        syndicated_from=identity.syndicated_from,
        url_variants=tuple(u for u, _ in identity.variants),
        url_kinds=tuple(k for _, k in identity.variants),
        findings=found.findings,
        etag=page.header("etag") if own_validators else None,
        last_modified=page.header("last-modified") if own_validators else None,
    )


_Item = tuple[Response, FeedEntry, FeedMeta, tuple[str, ...]]


def process_pages(items: Sequence[_Item], settings: DedupSettings) -> list[Article | Failure]:
    """Extract and fingerprint fetched pages; runs inside an extraction process."""
    found = [extract_page(page, entry, timezone=meta.timezone,
                          future_tolerance=timedelta(minutes=meta.future_tolerance_minutes))
             for page, entry, meta, _ in items]
    # Fingerprinted together: numpy's cost per call is paid once per chunk, not per page.
    texts = [f.text for f in found if not isinstance(f, Failure)]
    prints = iter(fingerprint_texts(texts, settings=settings))
    return [f if isinstance(f, Failure) else _article(page, entry, meta, f, next(prints), seen)
            for f, (page, entry, meta, seen) in zip(found, items, strict=True)]


class ExtractionPool:
    """The processes that extract and fingerprint, shared by every shard of a run.

    Workers are forked, all at once, when the pool is entered: before the caller starts
    the threads that fetch, since fork copies only the calling thread. Not forkserver or
    spawn: those re-import the parent's `__main__` in each worker, and inside an Airflow
    task that is the `airflow` command, which refuses to start there.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # shards in threads share it

    def __enter__(self) -> ExtractionPool:
        if self.workers > 1:
            self.executor()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return self._executor is not None

    def executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                import multiprocessing

                method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
                executor = ProcessPoolExecutor(max_workers=self.workers,
                                               mp_context=multiprocessing.get_context(method),
                                               initializer=warm_up)
                executor.submit(int).result()  # a forking pool starts every worker on first use
                self._executor = executor
            return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _fetched_chunks(
    fetcher: Fetcher, entries: Sequence[FeedEntry], size: int
) -> Iterator[list[tuple[FeedEntry, Response | Failure]]]:
    """Pages in chunks of `size`, the next chunk fetching while the caller works on this one."""
    chunks = [entries[i : i + size] for i in range(0, len(entries), size)]
    if not chunks:
        return

    def fetch(chunk: Sequence[FeedEntry]) -> list[Response | Failure]:
        return fetcher.get_many([e.url for e in chunk], kind="page")

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fetch-ahead") as ahead:
        pending = ahead.submit(fetch, chunks[0])
        for k, chunk in enumerate(chunks):
            pages = pending.result()
            if k + 1 < len(chunks):
                pending = ahead.submit(fetch, chunks[k + 1])
            yield list(zip(chunk, pages, strict=True))


def extract_stream(
    chunks: Iterable[Sequence[_Item]],
    settings: DedupSettings,
    pool: ExtractionPool | None,
) -> Iterator[list[Article | Failure]]:
    """Extract and fingerprint chunks of fetched pages on every core, results in input order.

    At most a few tasks per worker are in flight, so pages wait in memory only as long as
    the workers need to catch up, however long the run.
    """
    if pool is None or pool.workers <= 1:
        for items in chunks:
            yield process_pages(items, settings)
        return
    executor = pool.executor()
    inflight: deque[Future[list[Article | Failure]]] = deque()
    limit = pool.workers * INFLIGHT_PER_WORKER
    for items in chunks:
        for i in range(0, len(items), EXTRACT_CHUNK):
            inflight.append(executor.submit(process_pages, items[i : i + EXTRACT_CHUNK], settings))
        while len(inflight) > limit:
            yield inflight.popleft().result()
    while inflight:
        yield inflight.popleft().result()


def _poll_all(fetcher: Fetcher, metas: Sequence[FeedMeta], states: dict[str, FeedState],
              now: datetime, concurrency: int, pool: ExtractionPool | None = None,
              ) -> list[FeedPoll]:
    """Every feed of a shard, fetched by threads; parsed by the extraction workers when
    the run has them (feedparser is pure Python: in this process it holds the lock every
    fetching thread needs, while the workers wait for pages)."""

    def in_pool(feed_url: str, result: Response | Failure, *, now: datetime) -> FeedPoll:
        return pool.executor().submit(poll_result, feed_url, result, now=now).result()

    interpret = in_pool if pool is not None and pool.started else poll_result

    def poll(meta: FeedMeta) -> FeedPoll:
        return poll_feed(meta.feed_url, fetcher=fetcher, state=states.get(meta.feed_url),
                         now=now, interpret=interpret)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(metas)))) as threads:
        return list(threads.map(poll, metas))


def _failure_row(failure: Failure, now: datetime) -> FetchLogRow:
    return FetchLogRow(url=failure.url, kind="extract", status=failure.status,
                       error_class=failure.kind, bytes=0, duration_ms=0.0, fetched_at=now,
                       detail=failure.detail)


@dataclass(frozen=True, slots=True)
class _Batch:
    """Where one batch goes, and what it is called in staged_batches."""

    run_id: str
    index: int
    path: Path

    @property
    def batch_id(self) -> str:
        return f"{self.run_id}/{self.path.name}"


def _stage_polls(
    config: Config,
    polls: Sequence[FeedPoll],
    metas: dict[str, FeedMeta],
    *,
    fetcher: Fetcher,
    db_path: Path,
    batch: _Batch,
    now: Callable[[], datetime],
    rechecks: bool = True,
    pool: ExtractionPool | None = None,
    on_pages: Callable[[int], None] | None = None,
) -> ShardReport:
    """From feed polls on: seen-filter, then fetch, extract and fingerprint in a stream of
    chunks written to the batch as they finish; re-check young stored pages that are due.

    Fetching the next chunk overlaps extracting this one, and only a few chunks are ever
    in memory, so a shard's memory does not grow with its size.
    """
    entries = [e for p in polls for e in p.entries]
    _, known = _snapshot_state(db_path, (), _lookup_urls(entries))
    chosen = _new_entries(polls, known, per_feed=config.fetch.max_new_pages_per_feed, now=now())
    fresh = chosen.fresh
    fetched = 0
    failures: list[Failure] = []

    def items() -> Iterator[list[_Item]]:
        nonlocal fetched
        for chunk in _fetched_chunks(fetcher, fresh, FETCH_CHUNK):
            ready = [(p, e, metas[e.feed_url], chosen.also_seen.get(e.url, ()))
                     for e, p in chunk if isinstance(p, Response)]
            fetched += len(ready)
            yield ready

    with BatchWriter(batch.path) as writer, contextlib.ExitStack() as stack:
        worth_a_pool = len(fresh) >= POOL_THRESHOLD
        if pool is None and worth_a_pool:
            pool = stack.enter_context(ExtractionPool(worker_count(config)))
        elif pool is not None and not (worth_a_pool or pool.started):
            pool = None  # a few pages: not worth starting the workers for
        counts = {"page": 0, "feed_summary": 0}
        for results in extract_stream(items(), config.dedup, pool):
            articles = [r for r in results if isinstance(r, Article)]
            failures.extend(r for r in results if isinstance(r, Failure))
            for article in articles:
                counts[article.text_source] = counts.get(article.text_source, 0) + 1
            writer.add_articles(articles)
            if on_pages:
                on_pages(len(results))
        checks = _recheck_due(config, metas, fetcher=fetcher, db_path=db_path, now=now) \
            if rechecks else []
        fetch_log = fetcher.log()
        stamp = now()
        report = ShardReport(
            run_id=batch.run_id,
            shard=batch.index,
            batch_id=batch.batch_id,
            path=str(batch.path),
            feeds_polled=len(polls),
            feeds_not_modified=sum(p.not_modified for p in polls),
            feeds_failed=sum(p.failure is not None for p in polls),
            entries_seen=len(entries),
            entries_new=len(fresh),
            pages_fetched=fetched,
            pages_failed=len(fresh) - fetched + len(failures),
            articles_extracted=counts["page"],
            summaries_kept=counts["feed_summary"],
            pages_rechecked=len(checks),
            pages_revised=sum(c.outcome == "revised" for c in checks),
        )
        polls_with_meta = [(p, metas[p.feed_url].topic, metas[p.feed_url].outlet) for p in polls]
        log_rows = [*fetch_log, *(_failure_row(f, stamp) for f in failures)]
        return writer.finish(report, polls=polls_with_meta, fetch_log=log_rows, checks=checks,
                             aliases=chosen.aliases)


def _recheck_due(config: Config, metas: dict[str, FeedMeta], *, fetcher: Fetcher,
                 db_path: Path, now: Callable[[], datetime]) -> list:
    """Re-check the shard's young stored articles whose schedule slot has come."""
    settings = config.revisions
    if not settings.schedule_hours or not settings.max_per_shard or not Path(db_path).exists():
        return []
    due, boilerplate = due_checks(str(db_path), list(metas), now=now(),
                                  schedule_hours=settings.schedule_hours,
                                  limit=settings.max_per_shard)
    return recheck(fetcher, due, timezones={u: m.timezone for u, m in metas.items()},
                   boilerplate=boilerplate, settings=config.dedup, now=now,
                   concurrency=config.fetch.global_concurrency)


def ingest_shard(
    config: Config,
    shard: Shard,
    *,
    db_path: str | Path,
    staging_dir: str | Path,
    run_id: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    pool: ExtractionPool | None = None,
    on_pages: Callable[[int], None] | None = None,
) -> ShardReport:
    """Poll a shard's feeds, fetch new pages, extract and fingerprint, stage as Parquet.

    Opens the database read-only (its published snapshot) and never writes it. A batch
    that already exists for this run and shard is returned as it is: a retried or
    cleared task does no work twice. `pool`: extraction processes shared with other
    shards (run_once); without it the shard starts its own when it has enough pages.
    """
    batch = _Batch(run_id, shard.index, batch_dir(Path(staging_dir), run_id, shard.index))
    if batch.path.exists():
        return read_report(batch.path)
    metas = {m.feed_url: m for m in _feed_metas(config, shard)}
    states, _ = _snapshot_state(Path(db_path), shard.feed_urls, None)
    with Fetcher(FetchLimits.from_settings(config.fetch)) as fetcher:
        polls = _poll_all(fetcher, list(metas.values()), states, now(),
                          config.fetch.global_concurrency, pool)
        return _stage_polls(config, polls, metas, fetcher=fetcher, db_path=Path(db_path),
                            batch=batch, now=now, pool=pool, on_pages=on_pages)


def ingest_documents(
    config: Config,
    documents: Sequence[Response],
    *,
    db_path: str | Path,
    staging_dir: str | Path,
    run_id: str,
    index: int = 0,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ShardReport:
    """Like ingest_shard, for feed documents already in hand (a WebSub push): no poll.

    Each document's `url` must be a configured feed URL; the rest of the stages are the
    same, so a pushed article is stored exactly as a polled one would be.
    """
    batch = _Batch(run_id, index, batch_dir(Path(staging_dir), run_id, index))
    if batch.path.exists():
        return read_report(batch.path)
    feed_urls = tuple(dict.fromkeys(d.url for d in documents))
    metas = {m.feed_url: m for m in _feed_metas(config, Shard(index, feed_urls))}
    polls = [poll_result(d.url, d, now=now()) for d in documents]
    with Fetcher(FetchLimits.from_settings(config.fetch)) as fetcher:
        return _stage_polls(config, polls, metas, fetcher=fetcher, db_path=Path(db_path),
                            batch=batch, now=now, rechecks=False)


def load_staged(
    db_path: str | Path,
    reports: Sequence[ShardReport],
    *,
    run: RunInfo,
    dedup: DedupSettings,
) -> LoadReport:
    """Load the shards' batches as the single writer, then publish the snapshot."""
    with store.writer(db_path) as con:
        return load_batches(con, reports, run=run, dedup=dedup)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Everything `newspipe run` prints: the shards' counts and the load's."""

    run_id: str
    shards: tuple[ShardReport, ...]
    load: LoadReport

    def totals(self) -> dict[str, int]:
        names = ("feeds_polled", "feeds_not_modified", "feeds_failed", "entries_new",
                 "pages_fetched", "pages_failed", "articles_extracted", "summaries_kept")
        counts = {n: sum(getattr(s, n) for s in self.shards) for n in names}
        counts["articles_loaded"] = self.load.articles_loaded
        counts["exact_duplicates"] = self.load.exact_duplicates
        return counts


def run_once(
    config: Config,
    *,
    db_path: str | Path,
    staging_dir: str | Path,
    run_id: str,
    trigger: str = "cli",
    progress: ProgressSink | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunSummary:
    """One ingest cycle in-process: every shard in turn (one extraction pool for all of
    them), then one load; `progress` gets a bar for feeds, pages and the load.

    `now` is the clock re-checks are scheduled by (tests move it forward).
    """
    started = datetime.now(UTC)
    shards = plan_shards(config)
    progress = progress or _Silent()
    with ExtractionPool(worker_count(config)) as pool, \
            progress.stage("feeds", sum(len(s.feed_urls) for s in shards)) as feeds, \
            progress.stage("pages", None) as pages:
        counted = threading.Lock()

        def count_pages(n: int) -> None:
            with counted:
                pages.advance(n)

        def ingest(shard: Shard) -> ShardReport:
            report = ingest_shard(config, shard, db_path=db_path, staging_dir=staging_dir,
                                  run_id=run_id, now=now, pool=pool, on_pages=count_pages)
            with counted:
                feeds.advance(len(shard.feed_urls))
            return report

        # Two shards at a time, as the DAG's mapped tasks run: one polls its feeds while
        # the other's pages keep the extraction workers busy.
        with ThreadPoolExecutor(max_workers=CONCURRENT_SHARDS, thread_name_prefix="shard") as run:
            reports = list(run.map(ingest, shards))
    _return_freed_memory()
    with progress.stage("load", len(reports)) as loading:
        load = load_staged(db_path, reports, run=RunInfo(run_id, trigger, started), dedup=config.dedup)
        loading.advance(len(reports))
    return RunSummary(run_id, tuple(reports), load)


def _return_freed_memory() -> None:
    """Hand the heap the shards freed back to the system before the load, so a run's peak
    memory is its larger stage's, not the sum of both (glibc keeps freed memory by default)."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:  # glibc only; other allocators return memory on their own
        trim(0)


class _Silent:
    """No bars: what a run reports to when nobody is watching."""

    def stage(self, name: str, total: int | None) -> _Silent:
        return self

    def advance(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


def error_rate(reports: Sequence[ShardReport]) -> float:
    """Failed feeds and pages over everything attempted in the run."""
    attempted = sum(r.feeds_polled + r.entries_new for r in reports)
    failed = sum(r.feeds_failed + r.pages_failed for r in reports)
    return failed / attempted if attempted else 0.0


def enforce_error_rate(reports: Sequence[ShardReport], *, max_rate: float) -> None:
    """Raise TooManyFailures when the run failed too often; call it after the load."""
    rate = error_rate(reports)
    if rate > max_rate:
        failed = sum(r.feeds_failed + r.pages_failed for r in reports)
        raise TooManyFailures(
            f"{failed} failed feeds and pages ({rate:.0%}) exceed fetch.max_error_rate "
            f"{max_rate:.0%}; what succeeded is loaded, see fetch_log"
        )
