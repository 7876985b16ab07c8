"""Constants the newspipe DAGs share: the articles asset, the writer pool, retry defaults."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

#: Updated by every load; news_quality is scheduled on it.
ARTICLES = Asset("newspipe_articles")
#: One slot: DuckDB allows a single writing process per file.
WRITER_POOL = "newspipe_writer"
#: Network trouble deserves a few patient retries; a task retried is idempotent.
DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}
