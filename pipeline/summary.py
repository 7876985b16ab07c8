"""Plain-text summaries of what a run stored, for the CLI and the demo."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from . import store

__all__ = ["aligned", "print_demo_summary", "query_rows"]


def query_rows(
    con: duckdb.DuckDBPyConnection, relative: str, **params: object
) -> tuple[list[str], list[tuple]]:
    """Column names and rows of a query file under sql/."""
    cursor = con.execute(store.sql_text(relative), params or None)
    return [d[0] for d in cursor.description], cursor.fetchall()


def aligned(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An aligned text table: numbers to the right, text to the left."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[i], int | float) for row in rows if row[i] is not None)
               for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w)
                         for v, w, n in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def _clip(text: str | None, width: int = 60) -> str | None:
    return text if text is None or len(text) <= width else text[: width - 1] + "\u2026"


def print_demo_summary(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    labelled: int,
    quality_state: str | None,
    reports: Path,
    echo: Callable[[str], None] = print,
) -> None:
    """The run's counts, articles stored against the labels, articles per outlet, reports."""
    columns, rows = query_rows(con, "queries/run_overview.sql", run_id=run_id)
    echo(f"\nrun {run_id}")
    for name, value in zip(columns, rows[0] if rows else [None] * len(columns), strict=True):
        echo(f"  {name:<20} {value}")
    stored, articles = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE page_type = 'article') FROM articles").fetchall()[0]
    echo(f"  {'pages stored':<20} {stored} ({articles} articles, {stored - articles} other pages;"
         f" the fixture labels list {labelled} pages)")
    echo("\narticles per outlet (sql/queries/articles_per_outlet.sql)")
    echo(aligned(*query_rows(con, "queries/articles_per_outlet.sql")))
    columns, rows = query_rows(con, "queries/who_published_first.sql")
    shown = [columns.index(c) for c in ("first_title", "first_outlet", "outlet_count", "lead_minutes")]
    echo("\nstories on more than one outlet (sql/queries/who_published_first.sql)")
    echo(aligned([columns[i] for i in shown],
                 [[_clip(row[i]) if i == shown[0] else row[i] for i in shown] for row in rows]))
    if quality_state is not None:
        echo(f"\nquality: news_quality {quality_state} (sql/queries/run_quality.sql)")
        echo(aligned(*query_rows(con, "queries/run_quality.sql", run_id=run_id)))
    index = reports / "data_docs" / "index.html"
    if index.exists():
        echo(f"Data Docs: {index}")
