"""Ad-hoc, read-only SQL over the published snapshot: `newspipe sql`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

import duckdb

from . import store
from .errors import NewspipeError
from .summary import aligned

__all__ = ["OutputFormat", "QueryError", "QueryResult", "read_query", "render", "run_query"]

OutputFormat = Literal["table", "csv", "json", "parquet"]


class QueryError(NewspipeError):
    """The SQL failed: its message is DuckDB's first line."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


def read_query(query_or_path: str) -> str:
    """The SQL itself, or the text of the .sql file it names."""
    candidate = Path(query_or_path)
    if query_or_path.endswith(".sql"):
        try:
            return candidate.read_text(encoding="utf-8")
        except OSError as exc:
            raise QueryError(f"cannot read {candidate}: {exc.strerror}") from None
    return query_or_path


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def run_query(db_path: str | Path, sql: str, *, output: Path | None = None,
              fmt: OutputFormat = "table") -> QueryResult | None:
    """Run SQL read-only; return the rows, or write them to `output` in `fmt`."""
    con = store.reader(db_path)
    try:
        relation = con.sql(sql)
        if relation is None:
            return QueryResult((), ())
        if output is not None and fmt in ("csv", "parquet"):
            (relation.write_csv if fmt == "csv" else relation.write_parquet)(str(output))
            return None
        return QueryResult(tuple(relation.columns), tuple(relation.fetchall()))
    except duckdb.Error as exc:
        raise QueryError(_first_line(exc)) from None
    finally:
        con.close()


def _json_value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, str | int | float | bool | list | dict | type(None)) else str(value)


def to_json(result: QueryResult) -> str:
    """One JSON object per row, in a JSON array."""
    records = [
        {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
    ]
    return json.dumps(records, ensure_ascii=False, indent=1, default=_json_value)


def to_csv(result: QueryResult) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return buffer.getvalue()


def render(result: QueryResult, fmt: Literal["table", "csv", "json"]) -> str:
    """The result as text: an aligned table, CSV or JSON."""
    if fmt == "table":
        return aligned(result.columns, result.rows) + f"\n({len(result.rows)} rows)"
    return to_csv(result) if fmt == "csv" else to_json(result)
