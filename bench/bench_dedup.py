"""Benchmark dedup: ours against datasketch's MinHashLSH on the same documents, same run.

Prints, for each corpus size, both rates, the ratio, both F1s and peak memory; then the
parameter sweep behind the defaults; then the cost of adding 1,000 articles to a DuckDB
history of 10k and of 1M articles. Writes nothing into the repository.

    .venv/bin/python bench/bench_dedup.py [--quick]
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from datasketch import MinHash, MinHashLSH

from pipeline.config import DedupSettings
from pipeline.dedup import (
    Document,
    banding,
    clean_texts,
    cluster_documents,
    cluster_texts,
    connected_components,
    update_stories,
)
from pipeline.evalcorpus import CorpusSpec, LabelledDoc, generate_corpus, pairwise_scores
from pipeline.fingerprint import tokens
from pipeline.lsh import band_keys, optimal_bands

ROOT = Path(__file__).resolve().parents[1]
NEW_ARTICLES = 1000
HISTORY_DAYS = 365
SWEEP_DOCS = 5000


# --- the peer: datasketch, fed the same cleaned shingles ---------------------------------------


def datasketch_clusters(docs: Sequence[Document], texts: Sequence[str],
                        settings: DedupSettings) -> dict[str, str]:
    """The same engine with datasketch doing signatures, LSH and verification, on the same
    cleaned texts and the same word shingles."""
    k = settings.shingle_size
    lsh = MinHashLSH(threshold=settings.threshold, num_perm=settings.num_perm)
    hashes = []
    for i, text in enumerate(texts):
        words = tokens(text)
        shingles = {" ".join(words[j : j + k]).encode() for j in range(max(len(words) - k + 1, 1))}
        m = MinHash(num_perm=settings.num_perm)
        if words:
            m.update_batch(list(shingles))
            lsh.insert(i, m)
        hashes.append(m if words else None)
    left, right = [], []
    for i, m in enumerate(hashes):
        if m is None:
            continue
        for j in lsh.query(m):
            if j > i and m.jaccard(hashes[j]) >= settings.threshold:
                left.append(i)
                right.append(j)
    labels = connected_components(len(docs), np.array(left, dtype=np.int64),
                                  np.array(right, dtype=np.int64))
    return {d.doc_id: docs[int(label)].doc_id for d, label in zip(docs, labels, strict=True)}


def ours(docs: Sequence[Document], texts: Sequence[str],
         settings: DedupSettings) -> dict[str, str]:
    return cluster_texts([d.doc_id for d in docs], texts, [d.published_at for d in docs],
                         settings=settings)


# --- helpers -----------------------------------------------------------------------------------


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak traced allocation (Python objects and numpy buffers) of one untimed run."""
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def rate(n: int, seconds: float) -> str:
    per = n / seconds
    return f"{per / 1000:.1f}k/s" if per >= 1000 else f"{per:.0f}/s"


def size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


# --- figure 1: throughput and accuracy ----------------------------------------------------------


def throughput(sizes: Sequence[int], settings: DedupSettings) -> None:
    print(f"# dedup engine (shingles, signatures, LSH, verification, clustering) on the same "
          f"boilerplate-cleaned texts; threshold {settings.threshold}, shingle "
          f"{settings.shingle_size}, num_perm {settings.num_perm}, bands x rows "
          f"{'x'.join(map(str, banding(settings)))} (datasketch "
          f"{'x'.join(map(str, optimal_bands(settings.threshold, settings.num_perm)))})")
    for n in sizes:
        labelled = generate_corpus(CorpusSpec(n_docs=n))
        docs = [d.document for d in labelled]
        t_clean, texts = timed(lambda docs=docs: clean_texts(docs))
        repeat = 3 if n <= 10_000 else 1
        t_ours, ours_map = timed(lambda docs=docs, t=texts: ours(docs, t, settings), repeat)
        t_ds, ds_map = timed(lambda docs=docs, t=texts: datasketch_clusters(docs, t, settings))
        f_ours = pairwise_scores(labelled, ours_map).f1
        f_ds = pairwise_scores(labelled, ds_map).f1
        p_ours = peak_mib(lambda docs=docs, t=texts: ours(docs, t, settings))
        p_ds = peak_mib(lambda docs=docs, t=texts: datasketch_clusters(docs, t, settings))
        print(f"dedup {size_label(n):4s} ours {rate(n, t_ours):>9s}  datasketch "
              f"{rate(n, t_ds):>8s}  {t_ds / t_ours:5.1f}x  F1 {f_ours:.3f}/{f_ds:.3f}  "
              f"peak {p_ours:.0f}/{p_ds:.0f} MiB")
        print(f"      {'':4s} with the shared boilerplate stage ({rate(n, t_clean)}): ours "
              f"{rate(n, t_clean + t_ours)}  datasketch {rate(n, t_clean + t_ds)}  "
              f"{(t_clean + t_ds) / (t_clean + t_ours):.1f}x")


def accuracy_report(labelled: Sequence[LabelledDoc], settings: DedupSettings) -> None:
    s = pairwise_scores(labelled, cluster_documents([d.document for d in labelled],
                                                    settings=settings))
    print(f"eval  {size_label(len(labelled)):4s} P {s.precision:.4f}  R {s.recall:.4f}  "
          f"F1 {s.f1:.4f}  ARI {s.ari:.4f}  hard-negative P {s.hard_negative_precision:.4f}")


def sweep(n: int) -> None:
    """The measurement behind the defaults: accuracy over threshold, shingle and num_perm."""
    labelled = generate_corpus(CorpusSpec(n_docs=n, seed=99))
    docs = [d.document for d in labelled]
    texts = clean_texts(docs)
    print(f"# parameter sweep on a {size_label(n)} corpus (seed 99, not the gate's corpus)")
    print("threshold shingle num_perm      P       R      F1     ARI   hardneg-P   docs/s")
    grid = [(t, k, 128) for t in (0.3, 0.4, 0.5, 0.6, 0.7) for k in (2, 3, 4, 5)]
    grid += [(0.5, 3, p) for p in (64, 256)]
    for threshold, k, num_perm in grid:
        settings = DedupSettings(threshold=threshold, shingle_size=k, num_perm=num_perm)
        seconds, mapping = timed(lambda s=settings: ours(docs, texts, s))
        sc = pairwise_scores(labelled, mapping)
        print(f"{threshold:9.1f} {k:7d} {num_perm:8d}  {sc.precision:.4f}  {sc.recall:.4f}  "
              f"{sc.f1:.4f}  {sc.ari:.4f}  {sc.hard_negative_precision:9.4f}  "
              f"{rate(n, seconds):>7s}")


# --- figure 2: incremental cost against history ---------------------------------------------------


def _migrated(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for migration in sorted((ROOT / "sql" / "migrations").glob("*.sql")):
        con.execute(migration.read_text(encoding="utf-8"))
    return con


def _history(con: duckdb.DuckDBPyConnection, n: int, settings: DedupSettings,
             now: datetime) -> None:
    """n stored articles, each its own story, with signatures, bands and boilerplate
    evidence, inserted set-based from numpy through Arrow. They arrived over a year, in
    time order as a running pipeline stores them, so a tenth are inside the window."""
    rng = np.random.default_rng(5)
    ids = np.char.add("h", np.arange(n).astype(str)).astype(object)
    start = now - timedelta(days=HISTORY_DAYS)
    seen = pa.array(start + (now - start) * (np.arange(n) + 1) / (n + 1), pa.timestamp("us", "UTC"))
    outlets = np.char.add("outlet", (np.arange(n) % 50).astype(str)).astype(object)
    con.register("_a", pa.table({"article_id": ids, "outlet": outlets, "seen": seen}))
    con.execute(
        """INSERT INTO articles (article_id, url, feed_url, outlet, topic, text, text_source,
               content_hash, word_count, first_seen_at, fetched_at, run_id, story_id)
           SELECT article_id, 'https://h.example/' || article_id, 'feed', outlet, 'bench',
               'stored text of ' || article_id, 'page', article_id, 4, seen, seen, 'bench',
               'story-' || article_id
           FROM _a""")
    con.execute("""INSERT INTO story_registry SELECT 'story-' || article_id, seen,
                   article_id, seen, 4, NULL, NULL FROM _a""")
    sigs = rng.integers(0, 2**32, size=(n, settings.num_perm), dtype=np.uint32)
    blobs = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4 * settings.num_perm), n, [None, pa.py_buffer(sigs.astype("<u4").tobytes())])
    con.register("_s", pa.table({"article_id": ids, "signature": blobs.cast(pa.binary())}))
    con.execute("INSERT INTO article_signatures SELECT * FROM _s")
    bands, rows = banding(settings)
    con.register("_b", pa.table({"band_key": band_keys(sigs, bands, rows).reshape(-1),
                                 "article_id": np.repeat(ids, bands),
                                 "seen_at": seen.take(np.repeat(np.arange(n), bands))}))
    con.execute("INSERT INTO article_bands SELECT band_key, article_id, seen_at FROM _b")
    edges = 5
    con.register("_e", pa.table({
        "outlet": np.repeat(outlets, edges), "article_id": np.repeat(ids, edges),
        "sentence_digest": rng.integers(-2**63, 2**63 - 1, size=n * edges, dtype=np.int64),
        "context_digest": rng.integers(-2**63, 2**63 - 1, size=n * edges, dtype=np.int64)}))
    con.execute("""INSERT INTO boilerplate_edges
                   SELECT outlet, sentence_digest, context_digest, article_id FROM _e""")
    for name in ("_a", "_s", "_b", "_e"):
        con.unregister(name)


def _add_batch(con: duckdb.DuckDBPyConnection, docs: Sequence[Document], now: datetime,
               tag: str) -> None:
    con.register("_n", pa.table({
        "article_id": [f"{tag}-{d.doc_id}" for d in docs],
        "outlet": [d.source for d in docs], "text": [d.text for d in docs],
        "published_at": [d.published_at for d in docs]}))
    con.execute(
        """INSERT INTO articles (article_id, url, feed_url, outlet, topic, text, text_source,
               content_hash, word_count, published_at, first_seen_at, fetched_at, run_id)
           SELECT article_id, 'https://n.example/' || article_id, 'feed', outlet, 'bench',
               text, 'page', '', 0, published_at, $now, $now, 'bench' FROM _n""", {"now": now})
    con.unregister("_n")


def incremental(histories: Sequence[int], settings: DedupSettings) -> None:
    print(f"# adding {NEW_ARTICLES} articles (update_stories in one transaction) to a DuckDB "
          "history; median of 3 batches")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    fresh = [d.document for d in generate_corpus(CorpusSpec(n_docs=3 * NEW_ARTICLES, seed=3))]
    costs = {}
    for n in histories:
        with tempfile.TemporaryDirectory() as tmp:
            con = _migrated(Path(tmp) / "bench.duckdb")
            start = time.perf_counter()
            _history(con, n, settings, now)
            built = time.perf_counter() - start
            times = []
            for b in range(3):
                batch = fresh[b * NEW_ARTICLES : (b + 1) * NEW_ARTICLES]
                con.execute("BEGIN TRANSACTION")
                _add_batch(con, batch, now, f"b{b}")
                start = time.perf_counter()
                update_stories(con, settings=settings, now=now)
                con.execute("COMMIT")
                times.append(time.perf_counter() - start)
            con.close()
        costs[n] = float(np.median(times))
        print(f"add {NEW_ARTICLES} to {size_label(n):4s} history  {costs[n] * 1000:7.0f} ms  "
              f"(history built in {built:.1f} s)")
    small, large = min(histories), max(histories)
    print(f"incremental ratio {size_label(large)}/{size_label(small)}  "
          f"{costs[large] / costs[small]:.2f}x  (target <= 2)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k docs, 10k/100k history")
    args = parser.parse_args(argv)
    settings = DedupSettings()
    throughput([10_000] if args.quick else [10_000, 100_000], settings)
    accuracy_report(generate_corpus(CorpusSpec(n_docs=10_000)), settings)
    sweep(2000 if args.quick else SWEEP_DOCS)
    incremental([10_000, 100_000] if args.quick else [10_000, 1_000_000], settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
