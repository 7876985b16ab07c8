"""One real fixture-web database for the analyst tests: two ingest runs, one dead feed."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

# A feed the fixture server does not have: every poll of it is a 404.
DEAD_OUTLET = "defunct-gazette"
DEAD_FEED_PATH = "/defunct-gazette/rss.xml"
# A feed title an attacker might write: must show as text in the report, never run.
SCRIPT_TITLE = '<script>document.title="pwned"</script> & "quoted"'


@dataclass(frozen=True)
class AnalystWorld:
    """The published database, its runs (oldest first) and the URL of the dead feed."""

    db_path: Path
    run_ids: tuple[str, ...]
    dead_feed_url: str
    feed_urls: tuple[str, ...]  # every configured feed, the dead one included

    @property
    def first_run(self) -> str:
        return self.run_ids[0]


def _config_with_dead_feed(fixture_web: Path, base_url: str, path: Path) -> tuple[Path, str]:
    from pipeline.fixtures import write_feeds_config

    config = write_feeds_config(fixture_web, base_url, path)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    dead = base_url.rstrip("/") + DEAD_FEED_PATH
    data["topics"][0]["feeds"].append({"url": dead, "outlet": DEAD_OUTLET})
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return config, dead


@pytest.fixture(scope="session")
def analyst_world(tmp_path_factory, fixture_web: Path, fixture_server) -> AnalystWorld:
    from pipeline.config import load_config
    from pipeline.runner import run_once

    root = tmp_path_factory.mktemp("analyst-world")
    config_path, dead = _config_with_dead_feed(fixture_web, fixture_server.base_url,
                                               root / "feeds.yaml")
    config = load_config(config_path)
    db_path = root / "news.duckdb"
    run_ids = ("analyst-run-1", "analyst-run-2")  # the second finds nothing new
    for run_id in run_ids:
        run_once(config, db_path=db_path, staging_dir=root / "staging", run_id=run_id)
    feeds = tuple(feed.url for topic in config.topics for feed in topic.feeds)
    return AnalystWorld(db_path, run_ids, dead, tuple(str(f) for f in feeds))


@pytest.fixture
def analyst_con(analyst_world: AnalystWorld):
    """A read-only connection to the published snapshot, closed after the test."""
    from pipeline import store

    con = store.reader(analyst_world.db_path)
    yield con
    con.close()


@pytest.fixture(scope="session")
def script_title_db(tmp_path_factory, analyst_world: AnalystWorld) -> Path:
    """A copy of the world whose widest story's canonical title carries a script tag."""
    from pipeline import store

    db_path = tmp_path_factory.mktemp("script-title") / "news.duckdb"
    shutil.copyfile(analyst_world.db_path, db_path)
    with store.writer(db_path) as con:
        con.execute("""UPDATE articles SET title = $t WHERE article_id = (
            SELECT canonical_article_id FROM stories ORDER BY outlet_count DESC LIMIT 1)""",
                    {"t": SCRIPT_TITLE})
    return db_path
