"""What the news_push DAG's tasks call: take pushed feeds from the stream, stage, load, ack.

`ingest` takes every unacknowledged entry (a crashed run's first, then new ones) into this
run's consumer, runs the pushed documents through `runner.ingest_documents` (the same
stages as a poll, minus the poll) and stages a second, tiny batch of `push` rows for
fetch_log. `load_and_ack` loads both as the single writer and only then acknowledges the
entries; if more arrived meanwhile it publishes a wake-up, because Airflow's trigger may
have missed theirs.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from . import pushq
from .config import Config, PushSettings, load_config
from .records import FetchLogRow, Response
from .tasks import Deployment

__all__ = ["ingest", "load_and_ack", "watch_settings"]

log = logging.getLogger(__name__)
# pipeline.staging (pyarrow) is imported inside the functions: DAG parsing imports this module.

MANIFEST = "push-entries.json"
PUSH_STATUS = 202  # what the subscriber answered the hub for an accepted push


def watch_settings() -> PushSettings:
    """The push settings, read at DAG parse time (cheap: YAML and pydantic only)."""
    path = os.environ.get("NEWSPIPE_CONFIG")
    return load_config(path).push if path else PushSettings()


def _manifest(staging_dir: Path, run_id: str) -> Path:
    from .staging import batch_dir

    return batch_dir(staging_dir, run_id, 0).parent / MANIFEST


def _taken(client, settings: PushSettings, staging_dir: Path, run_id: str) -> list[pushq.PushEvent]:
    """This run's entries: the ones an earlier try of this task took, or a fresh take.

    The ids are written down before any work, so a retried task stages and acknowledges
    exactly what the first try took, never entries that arrived in between.
    """
    manifest = _manifest(staging_dir, run_id)
    if manifest.exists():
        return pushq.fetch(client, settings, json.loads(manifest.read_text(encoding="utf-8")))
    events = pushq.take(client, settings, consumer=run_id)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps([e.entry_id for e in events]), encoding="utf-8")
    os.replace(tmp, manifest)
    return events


def _document(event: pushq.PushEvent) -> Response:
    # Only the content type travels: a hub's validators must not replace the poll's.
    return Response(url=event.feed_url, final_url=event.topic, status=200,
                    headers=(("content-type", event.content_type),), body=event.body,
                    fetched_at=event.received_at)


def _receipts(events: list[pushq.PushEvent], *, staging_dir: Path, run_id: str,
              now: datetime):
    """A batch holding only fetch_log rows of kind 'push': one per accepted push."""
    from .staging import ShardReport, batch_dir, read_report, write_batch

    path = batch_dir(staging_dir, run_id, 1)
    if path.exists():
        return read_report(path)
    rows = [
        FetchLogRow(url=e.feed_url, kind="push", status=PUSH_STATUS, error_class=None,
                    bytes=len(e.body), fetched_at=e.received_at,
                    duration_ms=max((now - e.received_at).total_seconds() * 1000, 0.0),
                    detail=f"stream entry {e.entry_id}, sha256 {e.body_sha256[:16]}")
        for e in events
    ]
    report = ShardReport(run_id=run_id, shard=1, batch_id=f"{run_id}/{path.name}", path=str(path))
    return write_batch(report, polls=[], articles=[], fetch_log=rows)


def _push_feeds(config: Config) -> set[str]:
    return {f.url for _, f in config.feeds() if f.push == "auto"}


def ingest(*, run_id: str) -> dict:
    """Take the stream's pending and new entries and stage them; ids and reports for XCom."""
    from .runner import ingest_documents

    deployment = Deployment.from_env()
    config = deployment.config()
    client = pushq.connect(config.push)
    events = _taken(client, config.push, deployment.staging_dir, run_id)
    wanted = _push_feeds(config)
    usable = [e for e in events if e.feed_url in wanted]
    for event in events:
        if event.feed_url not in wanted:  # config changed since: the poll covers it
            log.warning("push entry %s for %s: feed no longer takes pushes; acknowledged",
                        event.entry_id, event.feed_url)
    reports: list[dict] = []
    if usable:
        report = ingest_documents(config, [_document(e) for e in usable],
                                  db_path=deployment.db_path,
                                  staging_dir=deployment.staging_dir, run_id=run_id)
        receipts = _receipts(usable, staging_dir=deployment.staging_dir, run_id=run_id,
                             now=datetime.now(UTC))
        reports = [report.to_dict(), receipts.to_dict()]
    return {"entries": [e.entry_id for e in events], "reports": reports}


def load_and_ack(taken: dict, *, run_id: str, run_type: str,
                 started_at: datetime | None) -> dict:
    """Load the staged batches as the single writer, then acknowledge their entries."""
    from .load import RunInfo
    from .runner import enforce_error_rate, load_staged
    from .staging import ShardReport

    deployment = Deployment.from_env()
    config = deployment.config()
    shards = [ShardReport.from_dict(r) for r in taken.get("reports") or []]
    result: dict = {"articles_loaded": 0}
    if shards:
        load = load_staged(deployment.db_path, shards,
                           run=RunInfo(run_id, run_type, started_at or datetime.now(UTC)),
                           dedup=config.dedup)
        result = load.to_dict()
    client = pushq.connect(config.push)
    acked = pushq.ack(client, config.push, list(taken.get("entries") or []))
    waiting = pushq.backlog(client, config.push)
    if waiting:
        pushq.announce(client, config.push, "backlog")
    enforce_error_rate(shards, max_rate=config.fetch.max_error_rate)
    return {**result, "entries_acked": acked, "backlog": waiting}
