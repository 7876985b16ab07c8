"""Benchmark the extract stage: the pipeline's (both cores) against trafilatura.extract alone.

The same scaled-web pages go through `runner.extract_stream` (extraction, page metadata,
language check and fingerprints in the extraction pool, one worker per core) and through
`trafilatura.extract` in this one process with metadata on (title, author, date, site
name: what the pipeline asks trafilatura for, besides its own metadata) and comments off.
The two alternate, peer first and last, and each pipeline round is set against the mean of
the peer rounds on either side of it, so a machine whose speed drifts slows both alike;
the ratio is the median over rounds. Both outputs are scored against the generator's text,
so speed is never bought with accuracy. trafilatura.extract with its defaults (no metadata)
is timed once as well, for reference.

    .venv/bin/python bench/bench_extract.py [--pages 400] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Sequence

import psutil
import trafilatura
from benchlib import load_average, median, ratio_line, scaled_pages, timed

from pipeline.config import DedupSettings
from pipeline.extract import _DATE_PARAMS as DATE_PARAMS  # the pipeline's own options
from pipeline.fixtures.scale import ScaledWeb
from pipeline.records import Article
from pipeline.runner import ExtractionPool, FeedMeta, extract_stream

TARGET = 1.7
WARM_UP_PAGES = 128  # the pool's start-up (imports, models) is paid once per run, not per page


def word_f1(got: str, want: str) -> float:
    a, b = Counter(got.split()), Counter(want.split())
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def _without_header(text: str) -> str:
    """extract(with_metadata=True) puts a metadata header above the text: compare the text."""
    if text.startswith("---\n"):
        return text.split("\n---\n", 1)[-1]
    return text


def _children_cpu():
    """CPU seconds used so far by this process's children (the extraction workers)."""
    me = psutil.Process()

    def total() -> float:
        return sum(sum(c.cpu_times()[:2]) for c in me.children(recursive=True))

    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    web = ScaledWeb()
    indices = [(i * 7919) % web.articles for i in range(args.pages + WARM_UP_PAGES)]
    pages = scaled_pages(web, indices)
    warm, pages = pages[:WARM_UP_PAGES], pages[WARM_UP_PAGES:]
    truth = []
    for i in indices[WARM_UP_PAGES:]:
        promo = web.outlet_promo(web.article(i).outlet)
        truth.append(" ".join([*web.paragraphs(i), *([promo] if promo else [])]))

    def meta(entry) -> FeedMeta:
        return FeedMeta(entry.feed_url, "news", "bench", "UTC")

    items = [(p, e, meta(e), ()) for p, e in pages]
    settings = DedupSettings()
    workers = len(os.sched_getaffinity(0))

    def peer() -> list[str]:
        return [_without_header(trafilatura.extract(
            p.body, url=p.final_url, include_comments=False, with_metadata=True,
            date_extraction_params=DATE_PARAMS) or "") for p, _ in pages]

    def peer_defaults() -> None:
        for p, _ in pages:
            trafilatura.extract(p.body)

    def chunks(rows):
        return [rows[i : i + 128] for i in range(0, len(rows), 128)]

    print(f"# extract stage on {len(pages)} scaled-web pages (median "
          f"{median([len(p.body) for p, _ in pages]) / 1024:.0f} KiB), {workers} workers; "
          f"{load_average()} at start")
    with ExtractionPool(workers) as pool:
        for _ in extract_stream(chunks([(p, e, meta(e), ()) for p, e in warm]), settings, pool):
            pass
        workers_cpu = _children_cpu()
        t_defaults, _ = timed(peer_defaults)
        print(f"trafilatura.extract with its defaults, 1 process: "
              f"{len(pages) / t_defaults:.1f} docs/s")
        cpu = time.process_time()
        peer_times = [timed(peer)[0]]
        peer_cpu = time.process_time() - cpu
        ours_cpu, ratios, ours_times = 0.0, [], []
        for r in range(args.rounds):
            before = workers_cpu()
            t_ours, results = timed(lambda: [x for chunk in extract_stream(chunks(items), settings,
                                                                           pool) for x in chunk])
            ours_cpu += workers_cpu() - before
            ours_times.append(t_ours)
            cpu = time.process_time()
            t_peer, peer_texts = timed(peer)
            peer_cpu += time.process_time() - cpu
            peer_times.append(t_peer)
            around = (peer_times[-2] + peer_times[-1]) / 2
            ratios.append(around / t_ours)
            print(f"round {r + 1}: trafilatura.extract, 1 process {len(pages) / around:6.1f} "
                  f"docs/s (mean of the rounds before and after)  pipeline extract stage "
                  f"{len(pages) / t_ours:6.1f} docs/s  {around / t_ours:.2f}x  [{load_average()}]")
        peer_n, ours_n = len(pages) * len(peer_times), len(pages) * args.rounds
        print(f"CPU per page: trafilatura.extract {peer_cpu / peer_n * 1000:.1f} ms, pipeline "
              f"extract stage {ours_cpu / ours_n * 1000:.1f} ms (extraction, metadata, language, "
              f"fingerprint, pickling); from CPU time alone {workers} workers would give "
              f"{workers * (peer_cpu / peer_n) / (ours_cpu / ours_n):.2f}x")
    print(f"for reference, against trafilatura.extract with its defaults (no metadata, timed "
          f"once before the rounds): {t_defaults / median(ours_times):.2f}x")
    ours_texts = [r.text if isinstance(r, Article) else "" for r in results]
    f1_ours = median([word_f1(t, w) for t, w in zip(ours_texts, truth, strict=True)])
    f1_peer = median([word_f1(t, w) for t, w in zip(peer_texts, truth, strict=True)])
    same = sum(" ".join(a.split()) == " ".join(b.split())
               for a, b in zip(ours_texts, peer_texts, strict=True))
    print(f"accuracy against the generator's text: median word F1 pipeline {f1_ours:.4f}, "
          f"trafilatura.extract {f1_peer:.4f}; identical texts {same}/{len(pages)}")
    print(ratio_line("extract_stage_vs_trafilatura", median(ratios), ">=", TARGET,
                     f"median of {len(ratios)} rounds; F1 {f1_ours:.3f} vs {f1_peer:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
