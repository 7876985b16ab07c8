"""What Airflow tasks call: plain, JSON-able arguments in and out, one call per task.

Paths come from the environment the deployment sets (`NEWSPIPE_CONFIG`, `NEWSPIPE_DB`,
`NEWSPIPE_STAGING`), read here once so the stages below never look at it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .config import Config, load_config
from .errors import ConfigError
from .records import Shard

__all__ = ["Deployment", "ingest", "load", "plan", "report", "schedule"]

DEFAULT_SCHEDULE = "@hourly"


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where this deployment keeps its config, database and staged batches."""

    config_path: Path
    db_path: Path
    staging_dir: Path

    @classmethod
    def from_env(cls) -> Deployment:
        try:
            config = Path(os.environ["NEWSPIPE_CONFIG"])
            db = Path(os.environ["NEWSPIPE_DB"])
        except KeyError as missing:
            raise ConfigError(f"environment variable {missing} is not set") from None
        staging = Path(os.environ.get("NEWSPIPE_STAGING") or db.parent / "staging")
        return cls(config, db, staging)

    def config(self) -> Config:
        return load_config(self.config_path)


def schedule() -> str | None:
    """The configured schedule, read at DAG parse time (cheap: YAML and pydantic only)."""
    path = os.environ.get("NEWSPIPE_CONFIG")
    return load_config(path).schedule if path else DEFAULT_SCHEDULE


def plan() -> list[dict]:
    """The run's shards, as dicts for XCom."""
    from .runner import plan_shards

    shards = plan_shards(Deployment.from_env().config())
    return [{"index": s.index, "feed_urls": list(s.feed_urls), "of": len(shards)}
            for s in shards]


def ingest(shard: dict, *, run_id: str) -> dict:
    """Ingest one shard into a staged batch; returns its report (paths and counts)."""
    from .runner import ingest_shard, worker_count

    deployment = Deployment.from_env()
    config = deployment.config()
    # The run's shards are tasks that may all run at once on this machine: each takes its
    # share of the cores (on two cores and four shards, one process each, no pool).
    config = config.model_copy(update={"workers": worker_count(config, sharing=int(shard.get("of", 1)))})
    report = ingest_shard(
        config,
        Shard(int(shard["index"]), tuple(shard["feed_urls"])),
        db_path=deployment.db_path,
        staging_dir=deployment.staging_dir,
        run_id=run_id,
    )
    return report.to_dict()


def load(reports: list[dict], *, run_id: str, run_type: str, started_at: datetime | None) -> dict:
    """Load every shard's batch as the single writer; returns the load report."""
    from .load import RunInfo
    from .runner import enforce_error_rate, load_staged
    from .staging import ShardReport

    deployment = Deployment.from_env()
    config = deployment.config()
    shards = [ShardReport.from_dict(r) for r in reports if r]
    result = load_staged(
        deployment.db_path,
        shards,
        run=RunInfo(run_id, run_type, started_at or datetime.now(UTC)),
        dedup=config.dedup,
    )
    enforce_error_rate(shards, max_rate=config.fetch.max_error_rate)
    return result.to_dict()


def report(run_id: str | None) -> str:
    """Write the run's HTML report beside the Data Docs; returns its path."""
    from .report import cli_report

    db = Deployment.from_env().db_path
    reports = Path(os.environ.get("NEWSPIPE_REPORTS") or db.parent / "reports")
    return str(cli_report(db, run_id, reports))
