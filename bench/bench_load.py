"""Benchmark the load path: staged Parquet into DuckDB, set-based, against an executemany loop.

Shards' batches of scaled-web articles (text, fingerprints, feed entries, fetch log) are
staged with the pipeline's own writer, then loaded by `load.load_batches`. The load path
is load_batches with story assignment (`dedup.update_stories`, issue 3's work) switched
off: staging the Parquet files, the set-based SQL steps, the runs row, the commit. Its
rate counts every row the load leaves in the tables. A second, full load reports what
story assignment adds. The peer
inserts the very rows the load left in each table, in the same order, with
`executemany` and one parameterised INSERT per table, in one transaction, into a freshly
migrated database. Both rates count the same rows.

    .venv/bin/python bench/bench_load.py [--articles 20000] [--sample 0.1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from benchlib import ORIGIN, load_average, ratio_line, timed

from pipeline import load, store
from pipeline.config import DedupSettings
from pipeline.dedup import StoryReport
from pipeline.fingerprint import fingerprint_texts
from pipeline.fixtures.scale import ScaledWeb
from pipeline.load import LoadReport, RunInfo, load_batches
from pipeline.records import Article, FeedEntry, FeedPoll, FetchLogRow
from pipeline.staging import ShardReport, batch_dir, write_batch
from pipeline.urls import url_key

TARGET = 50.0
SHARDS = 4
RUN_ID = "bench-load"
#: Tables the loader fills from a batch (bookkeeping such as schema_migrations excluded).
SKIP_TABLES = ("schema_migrations",)


def stage(web: ScaledWeb, staging: Path, settings: DedupSettings) -> list[ShardReport]:
    """The scaled web's first articles as the shards would have staged them."""
    now = datetime.now(UTC)
    reports = []
    for shard in range(SHARDS):
        feeds = [f for f in range(web.feeds) if f % SHARDS == shard]
        polls, articles, log = [], [], []
        for f in feeds:
            feed = web.feed(f)
            feed_url = ORIGIN + feed.path
            entries = []
            for pos, i in enumerate(web.feed_articles(f)):
                label = web.article(i)
                url = ORIGIN + label.path
                entries.append(FeedEntry(feed_url, f"{feed.outlet}:{i}", url, label.title,
                                         None, label.published_at, (feed.topic,), pos))
                text = "\n".join(web.paragraphs(i, label))
                articles.append((label, url, feed_url, text))
                log.append(FetchLogRow(url, "page", 200, None, 90_000, 12.5, now))
            polls.append((FeedPoll(feed_url, now, 200, tuple(entries)), feed.topic,
                          web.outlet_slug(feed.outlet)))
        prints = fingerprint_texts([a[3] for a in articles], settings=settings)
        rows = [
            Article(article_id=url_key(url), url=url, requested_url=url, feed_url=feed_url,
                    outlet=web.outlet_slug(label.outlet), topic="news", title=label.title,
                    text=text, text_source="page", fetched_at=now, fingerprint=fp,
                    authors=(label.author,), published_at=label.published_at,
                    published_at_source="json-ld", site_name=web.outlet_name(label.outlet),
                    language="en", url_variants=(url,), url_kinds=("canonical",))
            for (label, url, feed_url, text), fp in zip(articles, prints, strict=True)
        ]
        path = batch_dir(staging, RUN_ID, shard)
        report = ShardReport(RUN_ID, shard, f"{RUN_ID}/{path.name}", str(path),
                             feeds_polled=len(feeds), entries_new=len(rows),
                             pages_fetched=len(rows), articles_extracted=len(rows))
        reports.append(write_batch(report, polls=polls, articles=rows, fetch_log=log))
    return reports


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = [n for (n,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name"
    ).fetchall() if n not in SKIP_TABLES]
    counts = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names}
    return {n: c for n, c in counts.items() if c}


def executemany_rate(loaded: duckdb.DuckDBPyConnection, tables: dict[str, int],
                     fraction: float, workdir: Path) -> tuple[float, int, float]:
    """Rows per second of executemany INSERTs of (a sample of) the loaded rows, and
    articles per second when only the articles table is inserted."""
    peer = duckdb.connect(str(workdir / "peer.duckdb"))
    store.migrate(peer)
    batches = {}
    for name, count in tables.items():
        columns = [c for (c,) in loaded.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = $t "
            "ORDER BY column_index", {"t": name}).fetchall()]
        limit = max(1, int(count * fraction))
        rows = loaded.execute(f'SELECT * FROM "{name}" LIMIT {limit}').fetchall()
        marks = ", ".join("?" for _ in columns)
        batches[name] = (f'INSERT INTO "{name}" VALUES ({marks})', rows)
    for name in batches:  # migrations may seed rows: start from empty tables
        peer.execute(f'DELETE FROM "{name}"')

    def insert_all() -> None:
        peer.execute("BEGIN TRANSACTION")
        for sql, rows in batches.values():
            peer.executemany(sql, rows)
        peer.execute("COMMIT")

    seconds, _ = timed(insert_all)
    article_sql, article_rows = batches["articles"]
    peer.execute("DELETE FROM articles")
    article_seconds, _ = timed(lambda: peer.executemany(article_sql, article_rows))
    peer.close()
    sampled = sum(len(rows) for _, rows in batches.values())
    return sampled / seconds, sampled, len(article_rows) / article_seconds


@contextmanager
def _replaced(module: object, name: str) -> Iterator[None]:
    """`module.name` does nothing (an empty StoryReport) while inside: the load path measured
    on its own."""
    original = getattr(module, name)
    setattr(module, name, lambda *args, **kwargs: StoryReport())
    try:
        yield
    finally:
        setattr(module, name, original)


def _load(con: duckdb.DuckDBPyConnection, reports: Sequence[ShardReport],
          settings: DedupSettings) -> tuple[float, LoadReport]:
    now = datetime.now(UTC)
    return timed(lambda: load_batches(
        con, reports, run=RunInfo(RUN_ID, "bench", now - timedelta(seconds=1)),
        dedup=settings, now=now))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--sample", type=float, default=0.1,
                        help="share of each table's rows the executemany peer inserts")
    args = parser.parse_args(argv)
    web = ScaledWeb(articles=args.articles, feeds=1_000)
    settings = DedupSettings()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        workdir = Path(tmp)
        reports = stage(web, workdir / "staging", settings)
        print(f"# load path: {args.articles} scaled-web articles in {SHARDS} staged batches; "
              f"{load_average()}")
        with store.writer(workdir / "path.duckdb") as con, _replaced(load, "update_stories"):
            seconds, result = _load(con, reports, settings)
            tables = table_rows(con)
            rows = sum(tables.values())
            load_rate = rows / seconds
            print(f"the load path (load_batches without story assignment): {rows} rows in "
                  f"{len(tables)} tables in {seconds:.2f} s = {load_rate:,.0f} rows/s")
            print("  rows: " + ", ".join(f"{n} {c}" for n, c in tables.items()))
            peer_rate, sampled, peer_articles = executemany_rate(con, tables, args.sample, workdir)
        print(f"executemany loop: {sampled} of the same rows ({args.sample:.0%} of each table) "
              f"at {peer_rate:,.0f} rows/s")
        with store.writer(workdir / "full.duckdb") as con:
            total, full = _load(con, reports, settings)
        print(f"the whole load_batches, story assignment included: {total:.2f} s "
              f"({full.articles_loaded} articles, {full.stories_new} stories): story assignment "
              f"takes {total - seconds:.2f} s of it")
        ours_articles = full.articles_loaded / total
        print(f"stricter view: articles/s of the whole load (every table, dedup, stories) "
              f"{ours_articles:,.0f} vs executemany into `articles` alone {peer_articles:,.0f}: "
              f"{ours_articles / peer_articles:.1f}x")
        print(ratio_line("load_path_vs_executemany", load_rate / peer_rate, ">=", TARGET,
                         f"{load_rate:,.0f} vs {peer_rate:,.0f} rows/s"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
