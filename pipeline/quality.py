"""Data quality: the Great Expectations suites in expectations/, run against DuckDB.

The only Great Expectations importer. Each suite in `expectations/suites/<suite>.json` is
validated against one pandas DataFrame pulled from the published snapshot by
`sql/quality/<suite>.sql`, with only the columns that suite names (GX cannot validate DuckDB
through SQLAlchemy). Computed checks (orphans, counts, boilerplate left, stale feeds) are SQL
returning offending rows, whose columns the suite expects to be null, like a SQLMesh audit.

Verdicts land in `quality_results` (one short write through the single writer) and in Data
Docs under the reports folder. A critical failure raises `QualityFailed`; warnings are
reported and do not.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from . import store
from .config import QualitySettings, load_config
from .errors import ConfigError, QualityFailed

__all__ = [
    "PROJECT_DIR",
    "SUITES",
    "ExpectationResult",
    "QualityReport",
    "check_from_env",
    "run_checks",
    "suite_columns",
]

PROJECT_DIR = Path(__file__).resolve().parent.parent / "expectations"
SUITES_DIR = PROJECT_DIR / "suites"
PROJECT_FILE = PROJECT_DIR / "great_expectations.yml"
QUERY_DIR = "quality"

#: Suites validated against the articles of the run checked; pulled in chunks.
BATCH_SUITES = ("content", "time")
#: Suites validated against whole tables, or one row of the run's metrics.
TABLE_SUITES = ("keys", "story_links", "run", "feeds")
SUITES = TABLE_SUITES[:2] + BATCH_SUITES + TABLE_SUITES[2:]
#: Suites over one row per article: their verdicts count rows. The others validate a metric
#: row or offending rows, where a lone row's value is the observation worth reporting.
COUNTED_SUITES = ("keys", *BATCH_SUITES)
#: Rows of a batch suite validated at once: bounds the DataFrame, whatever the run's size.
CHUNK_ROWS = 200_000
#: Offending values quoted in an observed value.
EXAMPLES = 3
#: Data Docs site in expectations/great_expectations.yml.
SITE_NAME = "newspipe"
CRITICAL = "critical"
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")


@dataclass(frozen=True, slots=True)
class ExpectationResult:
    """One expectation's verdict: which, how serious, and what was seen."""

    suite: str
    expectation: str
    severity: str
    success: bool
    observed_value: str


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Every verdict of one check, and where its Data Docs are."""

    run_id: str | None
    checked_at: datetime
    results: tuple[ExpectationResult, ...]
    data_docs_index: Path

    @property
    def critical_failures(self) -> tuple[ExpectationResult, ...]:
        return tuple(r for r in self.results if not r.success and r.severity == CRITICAL)

    @property
    def warnings(self) -> tuple[ExpectationResult, ...]:
        return tuple(r for r in self.results if not r.success and r.severity != CRITICAL)

    @property
    def passed(self) -> bool:
        """True when no critical expectation failed (warnings do not fail a run)."""
        return not self.critical_failures

    def failed_names(self) -> set[str]:
        """`suite.expectation` of every failed expectation, whatever its severity."""
        return {f"{r.suite}.{r.expectation}" for r in self.results if not r.success}

    def failure_rows(self) -> list[tuple[str, str, str, str]]:
        """Header and one row per failed expectation (critical first), for an aligned table."""
        failed = sorted(self.critical_failures + self.warnings,
                        key=lambda r: (r.severity != CRITICAL, r.suite, r.expectation))
        return [("severity", "suite", "expectation", "observed"),
                *((r.severity, r.suite, r.expectation, r.observed_value) for r in failed)]

    def verdict(self) -> str:
        """One line: how many expectations, how many failed, and where the report is."""
        state = "FAILED" if self.critical_failures else "passed"
        return (f"quality {state}: {len(self.results)} expectations, "
                f"{len(self.critical_failures)} critical failures, {len(self.warnings)} warnings"
                f" (run {self.run_id or '-'}; report {self.data_docs_index})")

    def raise_for_critical(self) -> None:
        """Raise QualityFailed naming each failed critical expectation and what it saw."""
        if self.critical_failures:
            lines = [f"{r.suite}.{r.expectation}: {r.observed_value}" for r in self.critical_failures]
            raise QualityFailed(f"{len(lines)} critical expectations failed: " + "; ".join(lines))

    def to_dict(self) -> dict:
        """Counts and paths for XCom: never the rows themselves."""
        return {"run_id": self.run_id, "expectations": len(self.results),
                "critical_failures": len(self.critical_failures), "warnings": len(self.warnings),
                "data_docs_index": str(self.data_docs_index)}


# --- the suites as files -----------------------------------------------------------------------


def suite_columns() -> dict[str, set[str]]:
    """suite -> the DataFrame columns its expectations name, read from the JSON files."""
    import json

    out: dict[str, set[str]] = {}
    for path in sorted(SUITES_DIR.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        out[path.stem] = {e["kwargs"]["column"] for e in suite["expectations"]
                          if "column" in e["kwargs"]}
    return out


def _context(reports_dir: Path) -> Any:
    """The file-backed GX project, checked to hold exactly the suites we ship.

    `get_context` quietly creates an empty project where it finds none, so a wrong path
    would validate nothing and pass: check the file first and the suites after.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    if not PROJECT_FILE.is_file():
        raise ConfigError(f"{PROJECT_FILE}: no Great Expectations project there")
    import great_expectations as gx

    context = gx.get_context(mode="file", context_root_dir=PROJECT_DIR,
                             runtime_environment={"reports_dir": str(reports_dir.resolve())})
    found = {suite.name for suite in context.suites.all()}
    files = {path.stem for path in SUITES_DIR.glob("*.json")}
    if found != set(SUITES) or files != set(SUITES):
        raise ConfigError(f"{PROJECT_DIR}: expected suites {sorted(SUITES)}, "
                          f"found {sorted(found)} (files {sorted(files)})")
    return context


# --- pulling frames ---------------------------------------------------------------------------


def _frame(con: duckdb.DuckDBPyConnection, suite: str, params: Mapping[str, object]) -> Any:
    """The DataFrame a suite validates: its query's result, only the columns it needs."""
    text = store.sql_text(f"{QUERY_DIR}/{suite}.sql")
    used = {k: params[k] for k in _PARAM.findall(text)}
    return con.execute(text, used or None).df()


def _scalar(con: duckdb.DuckDBPyConnection, name: str, params: Mapping[str, object]) -> Any:
    rows = con.execute(store.sql_text(f"{QUERY_DIR}/{name}.sql"), dict(params) or None).fetchall()
    return rows[0][0] if rows else None


def _frames(con: duckdb.DuckDBPyConnection, suite: str, params: Mapping[str, object],
            size: int) -> Iterator[Any]:
    """One frame, or for a batch suite one per chunk of at most about CHUNK_ROWS rows."""
    if suite not in BATCH_SUITES:
        yield _frame(con, suite, params)
        return
    chunks = max(1, math.ceil(size / CHUNK_ROWS))
    for chunk in range(chunks):
        yield _frame(con, suite, {**params, "chunks": chunks, "chunk": chunk})


# --- verdicts ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """One expectation's verdict merged over the chunks it was validated on."""

    severity: str
    success: bool = True
    unexpected: int = 0
    checked: int = 0
    examples: tuple = ()
    observed: object = None
    is_map: bool = False
    is_value: bool = False

    def add(self, result: Any, value: object = None) -> None:
        """Fold in one chunk's result; `value` is the column's value in a one-row frame
        (a metric row), which says more than "0 of 1 unexpected"."""
        seen = result.result or {}
        self.success = self.success and bool(result.success)
        if value is not None:
            self.is_value, self.observed = True, value
        elif "unexpected_count" in seen:
            self.is_map = True
            self.unexpected += int(seen.get("unexpected_count") or 0)
            self.checked += int(seen.get("element_count") or 0)
            if not self.examples:
                self.examples = tuple(seen.get("partial_unexpected_list") or ())[:EXAMPLES]
        elif self.observed is None or not result.success:
            self.observed = seen.get("observed_value")
        if result.exception_info and result.exception_info.get("raised_exception"):
            self.success, self.is_value = False, True
            self.observed = result.exception_info.get("exception_message")

    def observed_value(self) -> str:
        if self.is_map and not self.is_value:
            text = f"{self.unexpected} of {self.checked} unexpected"
            return text + (f", e.g. {', '.join(map(_show, self.examples))}" if self.examples else "")
        return _show(self.observed)


def _show(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _single_value(frame: Any, column: str | None) -> object:
    """The column's value when the frame is one row (a metric row), else None."""
    if len(frame) != 1 or column not in frame.columns:
        return None
    import pandas as pd

    value = frame[column].iloc[0]
    return None if pd.isna(value) else value


def _parameters(settings: QualitySettings, now: datetime) -> dict[str, object]:
    """The suite parameters ($PARAMETER in the JSON) the configured bounds supply."""
    return {
        "languages": list(settings.languages),
        "min_text_chars": settings.min_text_chars,
        "max_text_chars": settings.max_text_chars,
        "latest_published_at": now + timedelta(minutes=settings.future_tolerance_minutes),
        "min_new_articles": settings.min_new_articles,
        "max_new_articles": settings.max_new_articles,
        "max_duplicate_rate": settings.max_duplicate_rate,
        "max_fetch_error_rate": settings.max_fetch_error_rate,
    }


def _validate(context: Any, con: duckdb.DuckDBPyConnection, *, run_id: str | None,
              settings: QualitySettings, now: datetime) -> list[ExpectationResult]:
    """Every suite against its frames; verdicts merged per expectation, in suite order."""
    query_params = {"run_id": run_id, "now": now,
                    "stale_before": now - timedelta(hours=settings.freshness_hours)}
    size = int(_scalar(con, "batch_size", {"run_id": run_id}) or 0)
    suite_params = _parameters(settings, now)
    results: list[ExpectationResult] = []
    for suite in SUITES:
        definition = context.validation_definitions.get(suite)
        tallies: dict[str, _Tally] = {}
        for frame in _frames(con, suite, query_params, size):
            validation = definition.run(batch_parameters={"dataframe": frame},
                                        expectation_parameters=suite_params,
                                        result_format="SUMMARY")
            for result in validation.results:
                config = result.expectation_config
                name = config.meta["name"]
                severity = getattr(config.severity, "value", str(config.severity))
                value = None if suite in COUNTED_SUITES else _single_value(
                    frame, config.kwargs.get("column"))
                tallies.setdefault(name, _Tally(severity)).add(result, value)
        results.extend(ExpectationResult(suite, name, t.severity, t.success, t.observed_value())
                       for name, t in tallies.items())
    return results


def _record(db_path: Path, run_id: str | None, results: Sequence[ExpectationResult],
            checked_at: datetime) -> None:
    """One short write: replace the run's rows in quality_results."""
    with store.writer(db_path) as con:
        con.execute("BEGIN TRANSACTION")
        store.execute_file(
            con, f"{QUERY_DIR}/record_results.sql", run_id=run_id, checked_at=checked_at,
            suites=[r.suite for r in results], expectations=[r.expectation for r in results],
            severities=[r.severity for r in results], successes=[r.success for r in results],
            observed_values=[r.observed_value for r in results],
        )
        con.execute("COMMIT")


def run_checks(
    db_path: str | Path,
    *,
    settings: QualitySettings,
    reports_dir: Path,
    run_id: str | None,
    now: datetime,
) -> QualityReport:
    """Validate the run's batch and the tables as a whole; record and report the verdicts.

    `run_id` None checks the last run loaded. Reads the published snapshot, writes
    `quality_results` through the single writer, and builds Data Docs under `reports_dir`.
    Returns the report whatever it says: call `raise_for_critical` to fail loudly.
    """
    db_path, reports_dir = Path(db_path), Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    context = _context(reports_dir)
    con = store.reader(db_path)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if run_id is None:
            run_id = _scalar(con, "latest_run", {})
        results = _validate(context, con, run_id=run_id, settings=settings, now=now)
    finally:
        con.close()
    _record(db_path, run_id, results, now)
    context.build_data_docs(site_names=[SITE_NAME])
    index = reports_dir / "data_docs" / "index.html"
    return QualityReport(run_id, now, tuple(results), index)


def check_from_env(run_id: str | None = None) -> dict:
    """What the news_quality task calls: paths from the environment, then `run_checks`.

    Reads NEWSPIPE_DB, NEWSPIPE_CONFIG (optional: default bounds without it) and
    NEWSPIPE_REPORTS (default `<db dir>/reports`). Raises QualityFailed on a critical
    failure; returns counts and the Data Docs path otherwise.
    """
    try:
        db_path = Path(os.environ["NEWSPIPE_DB"])
    except KeyError:
        raise ConfigError("environment variable 'NEWSPIPE_DB' is not set") from None
    config_path = os.environ.get("NEWSPIPE_CONFIG")
    settings = load_config(config_path).quality if config_path else QualitySettings()
    reports_dir = Path(os.environ.get("NEWSPIPE_REPORTS") or db_path.parent / "reports")
    report = run_checks(db_path, settings=settings, reports_dir=reports_dir, run_id=run_id,
                        now=datetime.now(UTC))
    report.raise_for_critical()
    return report.to_dict()
