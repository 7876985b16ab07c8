"""The quality suites as files, their queries against the migrated schema, and the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline import quality, store
from pipeline.config import QualitySettings
from pipeline.errors import ConfigError, QualityFailed

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SEVERITIES = {"critical", "warning"}


def _suite(name: str) -> dict:
    return json.loads((quality.SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _parameters_named(value: object) -> set[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return {value["$PARAMETER"]}
        return set().union(*(_parameters_named(v) for v in value.values()))
    return set()


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    """A migrated database with no rows: the schema every suite query must bind against."""
    db = tmp_path / "news.duckdb"
    with store.writer(db):
        pass
    return db


def test_the_project_holds_exactly_the_suites_the_checks_run():
    files = {p.stem for p in quality.SUITES_DIR.glob("*.json")}
    definitions = {p.stem for p in (quality.PROJECT_DIR / "validation_definitions").glob("*.json")}
    queries = {p.stem for p in (store.SQL_DIR / quality.QUERY_DIR).glob("*.sql")}
    assert files == set(quality.SUITES) == definitions
    assert files <= queries, "each suite needs sql/quality/<suite>.sql"


@pytest.mark.parametrize("name", quality.SUITES)
def test_every_expectation_is_named_graded_and_explained(name: str):
    suite = _suite(name)
    assert suite["name"] == name
    names = [e["meta"]["name"] for e in suite["expectations"]]
    assert len(names) == len(set(names)), f"{name}: expectation names repeat"
    for expectation in suite["expectations"]:
        assert expectation["severity"] in SEVERITIES
        assert len(expectation["description"]) > 20


@pytest.mark.parametrize("name", quality.SUITES)
def test_every_suite_parameter_is_supplied_by_the_settings(name: str):
    used = set().union(*(_parameters_named(e["kwargs"]) for e in _suite(name)["expectations"]))
    assert used <= set(quality._parameters(QualitySettings(), NOW))


@pytest.mark.parametrize("name", quality.SUITES)
def test_every_column_a_suite_names_exists_in_the_migrated_schema(name: str, empty_db: Path):
    """The query binds against the migrated tables (DuckDB refuses unknown columns) and
    returns every column the suite's expectations name."""
    params = {"run_id": "r", "now": NOW, "stale_before": NOW, "chunks": 1, "chunk": 0}
    con = store.reader(empty_db)
    try:
        frame = quality._frame(con, name, params)
    finally:
        con.close()
    assert quality.suite_columns()[name] <= set(frame.columns)


def test_a_wrong_project_path_fails_loudly_and_creates_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(quality, "PROJECT_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(quality, "PROJECT_FILE", tmp_path / "nowhere" / "great_expectations.yml")
    with pytest.raises(ConfigError, match="no Great Expectations project"):
        quality._context(tmp_path / "reports")
    assert not (tmp_path / "nowhere").exists()


def test_a_database_never_loaded_fails_only_on_the_missing_run(empty_db: Path, tmp_path: Path):
    report = quality.run_checks(empty_db, settings=QualitySettings(), reports_dir=tmp_path / "r",
                                run_id=None, now=NOW)
    assert report.failed_names() == {"run.run_recorded"}
    assert [r.expectation for r in report.critical_failures] == ["run_recorded"]
    con = store.reader(empty_db)
    try:
        stored = con.execute("SELECT count(*), count(*) FILTER (NOT success) FROM quality_results "
                             "WHERE run_id IS NULL").fetchall()
    finally:
        con.close()
    assert stored == [(len(report.results), 1)]
    html = report.data_docs_index.read_text(encoding="utf-8")
    assert all(name in html for name in quality.SUITES)


def _report(*results: quality.ExpectationResult) -> quality.QualityReport:
    return quality.QualityReport("run-1", NOW, results, Path("index.html"))


def test_warnings_are_reported_but_do_not_raise():
    report = _report(
        quality.ExpectationResult("content", "title_not_null", "warning", False, "1 of 9 unexpected"),
        quality.ExpectationResult("keys", "url_unique", "critical", True, "0 of 9 unexpected"),
    )
    report.raise_for_critical()
    assert report.passed and len(report.warnings) == 1
    assert report.failure_rows()[1] == ("warning", "content", "title_not_null", "1 of 9 unexpected")


def test_a_critical_failure_raises_naming_the_expectation_and_what_it_saw():
    report = _report(
        quality.ExpectationResult("content", "title_not_null", "warning", False, "1 of 9 unexpected"),
        quality.ExpectationResult("keys", "url_unique", "critical", False, "2 of 9 unexpected, e.g. u"),
    )
    with pytest.raises(QualityFailed, match=r"keys\.url_unique: 2 of 9 unexpected, e\.g\. u"):
        report.raise_for_critical()
    rows = report.failure_rows()
    assert [r[0] for r in rows[1:]] == ["critical", "warning"]  # critical first
    assert "FAILED" in report.verdict()
