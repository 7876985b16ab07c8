"""A load killed with SIGKILL in the middle of its transaction: the database stays as it was,
readers keep the last snapshot, nothing staged is lost, and the next load ends where a clean
load ends.

The load runs `load_staged` in a subprocess on a large synthetic batch, so its transaction
lasts seconds. The test sees from outside when the transaction has begun: the loader reads
the staged Parquet files only inside it, so a batch file among its open descriptors
(/proc/<pid>/fd) means "mid-transaction". No hook in production code is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import store
from pipeline.config import DedupSettings
from pipeline.fingerprint import fingerprint_texts
from pipeline.load import RunInfo
from pipeline.records import Article, FeedEntry, FeedPoll, FetchLogRow
from pipeline.runner import load_staged
from pipeline.staging import BATCH_TABLES, ShardReport, batch_dir, read_report, write_batch
from pipeline.urls import url_key
from tests.integration.test_idempotency import table_checksums

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

BASE_ARTICLES = 60
#: Big enough that the loader's transaction outlasts the test's polling by far.
BIG_ARTICLES = 6000
WORDS_PER_TEXT = 250
VOCABULARY = tuple(f"word{i}" for i in range(4000))
#: Every COPY_EVERY-th article is a near copy of the one before: stories get merged.
COPY_EVERY = 7
FEED_URL = "http://synthetic.invalid/feed.xml"
STAMP = datetime(2026, 1, 1, tzinfo=UTC)
POLL_SECONDS = 0.002
LOADER_TIMEOUT = 300.0
#: Kill this long after the transaction began, so the second case lands deeper in it.
DEEPER_SECONDS = 0.5

LOADER = """
import json, sys
from datetime import datetime
from pipeline.config import DedupSettings
from pipeline.load import RunInfo
from pipeline.runner import load_staged
from pipeline.staging import ShardReport

db, reports, run_id = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
run = RunInfo(run_id, "manual", datetime.fromisoformat(sys.argv[4]))
load_staged(db, [ShardReport.from_dict(r) for r in reports], run=run, dedup=DedupSettings())
"""


def synthetic_batch(staging: Path, run_id: str, count: int, *, seed: int) -> ShardReport:
    """A staged batch of `count` articles from one feed, some of them near copies."""
    rng = random.Random(seed)
    texts: list[str] = []
    for i in range(count):
        if i % COPY_EVERY == COPY_EVERY - 1:  # the previous text with its last words changed
            words = texts[-1].split()
            texts.append(" ".join(words[:-5] + rng.choices(VOCABULARY, k=5)))
        else:
            texts.append(" ".join(rng.choices(VOCABULARY, k=WORDS_PER_TEXT)))
    prints = fingerprint_texts(texts, settings=DedupSettings())
    articles, entries = [], []
    for i, (text, fp) in enumerate(zip(texts, prints, strict=True)):
        url = f"http://synthetic.invalid/{run_id}/{i}"
        published = STAMP - timedelta(minutes=seed * count + i)
        articles.append(
            Article(
                article_id=url_key(url),
                url=url,
                requested_url=url,
                feed_url=FEED_URL,
                outlet="synthetic",
                topic="synthetic",
                title=f"{run_id} {i}",
                text=text,
                text_source="page",
                fetched_at=STAMP,
                fingerprint=fp,
                published_at=published,
                url_variants=(url,),
            )
        )
        entries.append(
            FeedEntry(
                feed_url=FEED_URL,
                entry_key=url,
                url=url,
                title=f"{run_id} {i}",
                summary=None,
                published_at=published,
                position=i,
            )
        )
    path = batch_dir(staging, run_id, 0)
    report = ShardReport(
        run_id=run_id,
        shard=0,
        batch_id=f"{run_id}/{path.name}",
        path=str(path),
        feeds_polled=1,
        entries_seen=count,
        entries_new=count,
        pages_fetched=count,
        articles_extracted=count,
    )
    poll = FeedPoll(feed_url=FEED_URL, polled_at=STAMP, status=200, entries=tuple(entries))
    log = [
        FetchLogRow(
            url=a.url,
            kind="page",
            status=200,
            error_class=None,
            bytes=len(a.text),
            duration_ms=1.0,
            fetched_at=STAMP,
        )
        for a in articles
    ]
    return write_batch(report, polls=[(poll, "synthetic", "synthetic")], articles=articles, fetch_log=log)


def _load(db: Path, reports: list[ShardReport], run_id: str) -> None:
    load_staged(db, reports, run=RunInfo(run_id, "manual", STAMP), dedup=DedupSettings())


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _batch_files(report: ShardReport) -> dict[str, str]:
    return {p.name: _digest(p) for p in sorted(Path(report.path).iterdir())}


def _reads_batch(pid: int, batch: Path) -> bool:
    """Whether the process has a file of the staged batch open right now."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(batch) + "/"):
                return True
        except OSError:
            continue
    return False


def _start_loader(db: Path, report: ShardReport, run_id: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-c", LOADER, str(db), json.dumps([report.to_dict()]), run_id, STAMP.isoformat()]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _kill_mid_transaction(loader: subprocess.Popen[bytes], batch: Path, *, after: float) -> None:
    """SIGKILL the loader `after` seconds past the moment it opened the staged batch."""
    deadline = time.monotonic() + LOADER_TIMEOUT
    while not _reads_batch(loader.pid, batch):
        if loader.poll() is not None:
            output = loader.stdout.read().decode(errors="replace") if loader.stdout else ""
            pytest.fail(f"the loader exited ({loader.returncode}) before it read the batch:\n{output}")
        if time.monotonic() > deadline:
            loader.kill()
            pytest.fail("the loader never opened the staged batch")
        time.sleep(POLL_SECONDS)
    if after:
        time.sleep(after)
    loader.send_signal(signal.SIGKILL)
    assert loader.wait(timeout=30) == -signal.SIGKILL, "the loader finished before it was killed"


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> tuple[ShardReport, ShardReport]:
    staging = tmp_path_factory.mktemp("crash-staging")
    return (
        synthetic_batch(staging, "base", BASE_ARTICLES, seed=1),
        synthetic_batch(staging, "big", BIG_ARTICLES, seed=2),
    )


@pytest.fixture(scope="module")
def clean_load(tmp_path_factory, batches) -> dict[str, tuple[int, str]]:
    """Every table after the two batches were loaded without a crash (stamps left out)."""
    base, big = batches
    db = tmp_path_factory.mktemp("crash-clean") / "news.duckdb"
    _load(db, [base], "base")
    _load(db, [big], "big")
    return table_checksums(db, skip_timestamps=True)


@pytest.mark.parametrize("after", [0.0, DEEPER_SECONDS], ids=["reading-the-batch", "deeper-in"])
def test_a_load_killed_mid_transaction_leaves_the_database_whole(tmp_path, batches, clean_load, after):
    base, big = batches
    db = tmp_path / "news.duckdb"
    _load(db, [base], "base")
    before = table_checksums(db)
    snapshot = _digest(db)
    staged = _batch_files(big)

    _kill_mid_transaction(_start_loader(db, big, "big"), Path(big.path), after=after)

    # Readers still get the last published snapshot, untouched.
    assert _digest(db) == snapshot
    assert table_checksums(db) == before
    # The writer's own file comes back without the killed transaction, and the lock is free.
    with store.writer(db, lock_timeout=5.0):
        pass
    assert table_checksums(db) == before
    # Nothing staged was lost or torn.
    assert read_report(big.path) == big
    assert _batch_files(big) == staged
    assert {f"{stem}.parquet" for stem in BATCH_TABLES} <= staged.keys()

    # The next run loads the batch; the result is what a clean load gives.
    _load(db, [base, big], "big")
    assert table_checksums(db, skip_timestamps=True) == clean_load
    assert clean_load["articles"][0] == BASE_ARTICLES + BIG_ARTICLES


def test_checksums_ignore_only_stamps(tmp_path, batches, clean_load):
    """The comparison above can fail: a database missing one batch differs from the clean load."""
    base, _ = batches
    db = tmp_path / "news.duckdb"
    _load(db, [base], "base")
    partial = table_checksums(db, skip_timestamps=True)
    assert partial.keys() == clean_load.keys()
    assert partial["articles"] != clean_load["articles"]
    assert partial["staged_batches"] != clean_load["staged_batches"]


def test_a_load_that_fails_after_its_batches_committed_is_finished_by_the_retry(
        tmp_path, batches, clean_load, monkeypatch):
    """Batches commit one by one and stories a slice at a time: a load that dies in story
    assignment publishes nothing, and its retry (no batch left to load) assigns the rest."""
    import pipeline.load

    base, big = batches
    db = tmp_path / "news.duckdb"
    _load(db, [base], "base")
    snapshot = _digest(db)

    def dies(*args, **kwargs):
        raise RuntimeError("killed during story assignment")

    with monkeypatch.context() as patched:
        patched.setattr(pipeline.load, "update_stories", dies)
        with pytest.raises(RuntimeError, match="story assignment"):
            _load(db, [base, big], "big")
    assert _digest(db) == snapshot  # nothing published

    _load(db, [base, big], "big")
    assert table_checksums(db, skip_timestamps=True) == clean_load
