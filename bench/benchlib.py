"""What the benchmarks share: the machine's load, ratio lines, scaled pages as fetched records.

Every figure is a ratio of two measurements taken in the same run; a benchmark prints one
`ratio` line per figure (collected into BENCHMARKS.md by run_all.py):

    ratio <name>: <value> (target <op> <bound>) PASS|MISS  <details>
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pipeline.fixtures.scale import ScaledWeb
from pipeline.records import FeedEntry, Response

ORIGIN = "http://127.0.0.1:8999"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def ratio_line(name: str, value: float, op: str, bound: float, details: str = "") -> str:
    ok = value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound
    return (f"ratio {name}: {value:.2f} (target {op} {bound:g}) {'PASS' if ok else 'MISS'}"
            + (f"  {details}" if details else ""))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def scaled_pages(web: ScaledWeb, indices: Sequence[int]) -> list[tuple[Response, FeedEntry]]:
    """Scaled-web pages as the fetcher would hand them over (no network involved)."""
    now = datetime.now(UTC)
    out = []
    for i in indices:
        label = web.article(i)
        url = ORIGIN + label.path
        feed_url = ORIGIN + web.feed(label.feed).path
        body = web.page_html(i, ORIGIN).encode()
        page = Response(url=url, final_url=url, status=200,
                        headers=(("content-type", "text/html; charset=utf-8"),), body=body,
                        fetched_at=now)
        entry = FeedEntry(feed_url=feed_url, entry_key=str(i), url=url, title=label.title,
                          summary=None, published_at=label.published_at)
        out.append((page, entry))
    return out
