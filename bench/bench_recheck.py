"""Benchmark re-checking: what the revision schedule costs on the scaled web (1,000 feeds).

One article per feed is ingested, then the pipeline runs at simulated hours after it
(`--hours`, default 1, 2, 3, 6, 12, 18, 24 h + 5 min) with the default schedule (1, 3, 12,
24 h). A share of the pages (`--changed`, default 10%) is revised by the server two hours
in (a correction appended, a new ETag). Figures, from the fixture server's request log:

- re-check requests per article per day, and the share answered 304;
- revisions found against revisions served (every changed page is caught once);
- bytes and time of one conditional pass over every page against an unconditional one,
  run back to back in the same process (the peer).

    .venv/bin/python bench/bench_recheck.py [--feeds 1000] [--changed 0.1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import load_average, ratio_line  # noqa: E402

from pipeline import store  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.fetch import Fetcher, FetchLimits  # noqa: E402
from pipeline.fixtures import FixtureServer  # noqa: E402
from pipeline.fixtures.scale import SCALE_PREFIX, ScaledWeb, write_scaled_config  # noqa: E402
from pipeline.fixtures.server import MountedRequest, MountedResponse  # noqa: E402
from pipeline.runner import run_once  # noqa: E402

DEFAULT_HOURS = (1, 2, 3, 6, 12, 18, 24)
REVISED_AFTER_HOURS = 2
CORRECTION = (b"<p>Correction: an earlier version of this article misstated a figure. "
              b"It has been corrected.</p>")


def _with_correction(body: bytes) -> bytes:
    """The page with a correction as the last paragraph of its story."""
    end = body.rfind(b"</p>", 0, body.find(b"</article>")) + len(b"</p>")
    return body[:end] + CORRECTION + body[end:]


class RevisingWeb:
    """The scaled web, with a share of its pages revised once the clock passes a time."""

    def __init__(self, web: ScaledWeb, changed_every: int) -> None:
        self.web = web
        self.changed_every = changed_every
        self.hour = 0.0

    def changed(self, path: str) -> bool:
        found = self.web.resolve(path)
        return (found is not None and found[0] == "page" and self.hour >= REVISED_AFTER_HOURS
                and found[1] % self.changed_every == 0)

    def respond(self, request: MountedRequest, origin: str) -> MountedResponse:
        if not self.changed(request.path):
            return self.web.respond(request, origin)
        plain = self.web.respond(
            MountedRequest("GET", request.path, "", {}, b"", request.client_host), origin)
        etag = '"rev2-' + dict(plain.headers)["ETag"].strip('"') + '"'
        headers = tuple((k, etag if k == "ETag" else v) for k, v in plain.headers)
        if request.headers.get("if-none-match") == etag:
            return MountedResponse(304, headers)
        return MountedResponse(200, headers, _with_correction(plain.body))


def _count(db: Path, sql: str) -> int:
    con = store.reader(db)
    try:
        return int(con.execute(sql).fetchall()[0][0])
    finally:
        con.close()


def _page_requests(server: FixtureServer) -> list:
    return [r for r in server.requests() if r.path.startswith(SCALE_PREFIX)
            and "/feeds/" not in r.path and not r.path.endswith((".rss", ".atom", ".xml"))]


def _conditional_pass(config, urls_with_tags, *, conditional: bool) -> tuple[float, int]:
    with Fetcher(FetchLimits.from_settings(config.fetch)) as fetcher:
        start = time.perf_counter()
        results = [fetcher.get(u, kind="page", etag=tag if conditional else None)
                   for u, tag in urls_with_tags]
        elapsed = time.perf_counter() - start
    return elapsed, sum(len(getattr(r, "body", b"")) for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1_000)
    parser.add_argument("--changed", type=float, default=0.1, help="share of pages revised")
    parser.add_argument("--hours", type=float, nargs="+", default=DEFAULT_HOURS)
    args = parser.parse_args(argv)
    web = ScaledWeb(articles=args.feeds, feeds=args.feeds)
    revising = RevisingWeb(web, max(1, round(1 / args.changed)) if args.changed else 10**9)
    with tempfile.TemporaryDirectory() as tmp, FixtureServer(Path(tmp)) as server:
        server.mount(SCALE_PREFIX, lambda r: revising.respond(r, server.base_url))
        config = load_config(write_scaled_config(web, server.base_url, Path(tmp) / "f.yaml"))
        db, staging = Path(tmp) / "news.duckdb", Path(tmp) / "staging"
        started = time.perf_counter()
        run_once(config, db_path=db, staging_dir=staging, run_id="ingest")
        ingest_s = time.perf_counter() - started
        articles = _count(db, "SELECT count(*) FROM articles")
        first_fetches = len(_page_requests(server))
        server.clear_requests()
        base = datetime.now(UTC)
        cycle_s = []
        for hour in args.hours:
            revising.hour = hour
            offset = timedelta(hours=hour, minutes=5)
            t = time.perf_counter()
            run_once(config, db_path=db, staging_dir=staging, run_id=f"h{hour:g}",
                     now=lambda offset=offset: base + offset)
            cycle_s.append(time.perf_counter() - t)
        rechecks = _page_requests(server)
        not_modified = sum(r.status == 304 for r in rechecks)
        revisions = _count(db, "SELECT count(*) FROM article_revisions WHERE revision > 1")
        served_changes = sum(revising.changed(web.article(i).path) for i in range(web.articles))
        con = store.reader(db)
        tags = con.execute(
            "SELECT a.url, arg_max(c.etag, c.checked_at) FROM articles AS a "
            "JOIN article_checks AS c USING (article_id) GROUP BY a.url").fetchall()
        con.close()
        cond_s, cond_bytes = _conditional_pass(config, tags, conditional=True)
        plain_s, plain_bytes = _conditional_pass(config, tags, conditional=False)
    days = (max(args.hours) + 1 / 12) / 24
    per_article_day = len(rechecks) / max(articles, 1) / max(days, 1)
    print(f"# bench_recheck: {args.feeds} feeds, {articles} articles ({first_fetches} first "
          f"fetches, ingest {ingest_s:.1f} s), runs at +{', +'.join(f'{h:g}' for h in args.hours)}"
          f" h; {load_average()}")
    print(f"# re-check requests {len(rechecks)}, answered 304: {not_modified}; revisions "
          f"{revisions} of {served_changes} changed pages; cycles "
          f"{min(cycle_s):.1f}-{max(cycle_s):.1f} s")
    print(ratio_line("recheck_requests_per_article_day", per_article_day, "<=", 4.0,
                     "schedule 1, 3, 12, 24 h"))
    print(ratio_line("recheck_share_304", not_modified / max(len(rechecks), 1), ">=", 0.8,
                     f"{args.changed:.0%} of pages revised once"))
    print(ratio_line("revisions_found_per_change", revisions / max(served_changes, 1), ">=", 1.0))
    print(ratio_line("conditional_vs_plain_bytes", cond_bytes / max(plain_bytes, 1), "<=", 0.2,
                     f"{cond_bytes:,} vs {plain_bytes:,} bytes"))
    print(ratio_line("conditional_vs_plain_time", cond_s / max(plain_s, 1e-9), "<=", 1.0,
                     f"{cond_s:.2f} vs {plain_s:.2f} s"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
