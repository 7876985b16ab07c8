"""The run report: one static HTML page per run, with inline SVG plots, beside the Data Docs.

Pages are self-contained (no JavaScript, no fetched assets) so they open from a file,
an artifact store or a mail attachment alike. Everything that came from a feed or a page
(titles, outlets, URLs, error details) is HTML-escaped on the way out, and the page's
Content-Security-Policy forbids scripts as a second line of defence.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from . import store
from .errors import NewspipeError
from .summary import query_rows

__all__ = [
    "RUNS_DIR",
    "ReportError",
    "Table",
    "cli_report",
    "link_from_data_docs",
    "page_name",
    "render_index",
    "render_run_page",
    "write_run_report",
]

RUNS_DIR = "runs"  # under the reports folder, beside data_docs/
DATA_DOCS_INDEX = Path("data_docs") / "index.html"
INDEX_PAGE = "index.html"
DATA_DOCS_MARKER = "newspipe-run-reports"  # id of the link block added to the Data Docs

# The SQL behind each part of a run page (sql/queries/); each takes $run_id.
RUN_QUERIES = {
    "overview": "queries/run_overview.sql",
    "outlets": "queries/run_articles_per_outlet.sql",
    "duplicates": "queries/recent_duplicate_rates.sql",
    "story_sizes": "queries/run_story_sizes.sql",
    "fetch_errors": "queries/run_fetch_errors.sql",
    "top_stories": "queries/run_top_stories.sql",
    "quality": "queries/run_quality.sql",
}
RUNS_QUERY = "queries/recent_runs.sql"

# Plot geometry (SVG user units = CSS pixels) and colours.
CHART_WIDTH = 560
BAR_ROW = 24
LABEL_WIDTH = 150
COLUMN_AREA_HEIGHT = 170
CHART_PADDING = 28
COLOURS = {"bar": "#3b6ea8", "copy": "#e0a030", "error": "#c0392b", "axis": "#888", "text": "#222"}
MAX_LABEL_CHARS = 22
MAX_COLUMN_STEP = 90  # a lone column stays a column, not a slab

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:24px auto;
max-width:1180px;padding:0 16px;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}
.muted{color:#666}.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:110px}
.tile b{display:block;font-size:20px}.grid{display:grid;grid-template-columns:repeat(auto-fit,
minmax(560px,1fr));gap:16px}.card{background:#fff;border:1px solid #ddd;border-radius:6px;
padding:12px 14px;overflow:hidden}table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}svg text{font:12px system-ui,sans-serif}
nav a{margin-right:14px}
"""


class ReportError(NewspipeError):
    """The report cannot be made: unknown run, or no database."""


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of one query, addressable by column name."""

    columns: tuple[str, ...]
    rows: tuple[tuple, ...]

    def dicts(self) -> list[dict[str, object]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[object]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


# --- small pure helpers -------------------------------------------------------------------


def esc(value: object) -> str:
    """Text for HTML (element content or a quoted attribute); None is empty."""
    return "" if value is None else html.escape(str(value), quote=True)


def _safe_href(url: object) -> str | None:
    """An http(s) URL fit for href, else None: a feed may carry `javascript:` links."""
    text = str(url or "").strip()
    return esc(text) if re.match(r"(?i)^https?://", text) else None


def _shorten(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.utcoffset() is not None else str(value)
    return "" if value is None else str(value)


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (axis maxima)."""
    if value <= 0:
        return 1.0
    power = 10 ** len(str(int(value))) / 10 if value >= 1 else 1.0
    while power > value:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def page_name(run_id: str) -> str:
    """A file name for a run's page; run ids may hold ':' or '+' (Airflow's do)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id).lstrip(".") or "run"
    if safe != run_id:
        safe += "-" + hashlib.sha1(run_id.encode()).hexdigest()[:8]
    return safe + ".html"


# --- SVG plots ----------------------------------------------------------------------------


def _svg(title: str, height: int, body: str) -> str:
    return (f'<svg class="plot" role="img" aria-label="{esc(title)}" width="{CHART_WIDTH}" '
            f'height="{height}" viewBox="0 0 {CHART_WIDTH} {height}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{esc(title)}</title>{body}</svg>')


def _empty_svg(title: str, message: str) -> str:
    body = (f'<rect x="0" y="0" width="{CHART_WIDTH}" height="60" fill="#f4f4f4"/>'
            f'<text x="{CHART_WIDTH / 2}" y="35" text-anchor="middle" fill="#666">{esc(message)}</text>')
    return _svg(title, 60, body)


def hbar_svg(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
             *, empty: str = "nothing to show") -> str:
    """Horizontal bars, one row per label, stacked over the named series (name, values)."""
    if not labels:
        return _empty_svg(title, empty)
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    scale = (CHART_WIDTH - LABEL_WIDTH - 60) / _nice_ceiling(max(totals))
    colours = [COLOURS["bar"], COLOURS["copy"], COLOURS["error"]]
    parts = []
    for row, label in enumerate(labels):
        y = CHART_PADDING + row * BAR_ROW
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" '
                     f'fill="{COLOURS["text"]}"><title>{esc(label)}</title>'
                     f'{esc(_shorten(label))}</text>')
        x = float(LABEL_WIDTH)
        for index, (name, values) in enumerate(series):
            width = values[row] * scale
            if width > 0:
                parts.append(f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{width:.1f}" '
                             f'height="{BAR_ROW - 6}" fill="{colours[index % len(colours)]}">'
                             f'<title>{esc(label)}: {values[row]:g} {esc(name)}</title></rect>')
            x += width
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" fill="{COLOURS["text"]}">'
                     f'{totals[row]:g}</text>')
    legend = "".join(
        f'<rect x="{LABEL_WIDTH + i * 110}" y="6" width="12" height="12" '
        f'fill="{colours[i % len(colours)]}"/><text x="{LABEL_WIDTH + i * 110 + 16}" y="16">'
        f"{esc(name)}</text>"
        for i, (name, _) in enumerate(series) if len(series) > 1
    )
    height = CHART_PADDING + len(labels) * BAR_ROW + 8
    return _svg(title, height, legend + "".join(parts))


def columns_svg(title: str, labels: Sequence[str], values: Sequence[float | None], *,
                percent: bool = False, empty: str = "nothing to show") -> str:
    """Vertical columns with labels beneath; a None value is drawn as a gap marked 'n/a'."""
    if not labels:
        return _empty_svg(title, empty)
    top = _nice_ceiling(max([v for v in values if v is not None] or [0]))
    if percent:
        top = min(top, 1.0)
    step = min((CHART_WIDTH - 50) / len(labels), MAX_COLUMN_STEP)
    base = CHART_PADDING + COLUMN_AREA_HEIGHT
    parts = [f'<line x1="40" y1="{base}" x2="{CHART_WIDTH - 5}" y2="{base}" '
             f'stroke="{COLOURS["axis"]}"/>',
             f'<text x="36" y="{CHART_PADDING + 4}" text-anchor="end" fill="#666">'
             f'{f"{top:.0%}" if percent else f"{top:g}"}</text>',
             f'<text x="36" y="{base}" text-anchor="end" fill="#666">0</text>']
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = 45 + index * step
        width = max(step * 0.7, 2.0)
        shown = "n/a" if value is None else (f"{value:.0%}" if percent else f"{value:g}")
        height = 0.0 if value is None else COLUMN_AREA_HEIGHT * value / top
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{base - height:.1f}" width="{width:.1f}" '
                     f'height="{max(height, 0.5):.1f}" fill="{COLOURS["bar"]}">'
                     f"<title>{esc(label)}: {esc(shown)}</title></rect>")
        if len(labels) <= 20:
            parts.append(f'<text x="{x + width / 2:.1f}" y="{base - height - 4:.1f}" '
                         f'text-anchor="middle" fill="{COLOURS["text"]}">{esc(shown)}</text>')
            parts.append(f'<text x="{x + width / 2:.1f}" y="{base + 16}" text-anchor="middle" '
                         f'fill="#666"><title>{esc(label)}</title>'
                         f"{esc(_shorten(label, max(int(step / 7), 3)))}</text>")
    return _svg(title, base + 26, "".join(parts))


# --- pages --------------------------------------------------------------------------------


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>\n")


def _tiles(overview: dict[str, object], duplicates: Table, run_id: str) -> str:
    rate = next((r["duplicate_rate"] for r in duplicates.dicts() if r["run_id"] == run_id), None)
    tiles = [
        ("feeds polled", overview.get("feeds_polled")),
        ("feeds failed", overview.get("feeds_failed")),
        ("new entries", overview.get("entries_new")),
        ("pages fetched", overview.get("pages_fetched")),
        ("pages failed", overview.get("pages_failed")),
        ("articles loaded", overview.get("articles_loaded")),
        ("duplicate rate", "n/a" if rate is None else f"{rate:.0%}"),
    ]
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><b>{esc(value)}</b><span class="muted">{esc(name)}</span></div>'
        for name, value in tiles) + "</div>"


def _quality_line(quality: Table) -> str:
    if not quality.rows:
        return '<p class="muted">Not checked by Great Expectations yet.</p>'
    parts = [f"{esc(r['severity'])}: {esc(r['passed'])} passed, {esc(r['failed'])} failed"
             for r in quality.dicts()]
    return f"<p>Quality checks: {'; '.join(parts)}.</p>"


def _plots(tables: dict[str, Table]) -> str:
    outlets, duplicates = tables["outlets"], tables["duplicates"]
    sizes, errors = tables["story_sizes"], tables["fetch_errors"]
    error_labels = [f"{r['error_class']} ({r['kind']})" for r in errors.dicts()]
    plots = [
        ("Articles per outlet", hbar_svg(
            "Articles per outlet in this run", [str(o) for o in outlets.column("outlet")],
            [("originals", outlets.column("originals")), ("copies", outlets.column("copies"))],
            empty="no articles stored in this run")),
        ("Duplicate rate over recent runs", columns_svg(
            "Share of copies among stored articles, recent runs",
            [str(r) for r in duplicates.column("run_id")], duplicates.column("duplicate_rate"),
            percent=True, empty="no runs")),
        ("Story sizes", columns_svg(
            "Stories touched by this run, by articles per story",
            [f"{s} article{'s' if s != 1 else ''}" for s in sizes.column("story_size")],
            sizes.column("stories"), empty="no stories touched in this run")),
        ("Fetch errors by class", hbar_svg(
            "Failed requests in this run by error class", error_labels,
            [("requests", errors.column("requests"))], empty="no fetch errors in this run")),
    ]
    return '<div class="grid">' + "".join(
        f'<section class="card"><h2>{esc(name)}</h2>{svg}</section>' for name, svg in plots
    ) + "</div>"


def _top_stories(stories: Table) -> str:
    if not stories.rows:
        return '<p class="muted">This run added no articles to any story.</p>'
    rows = []
    for story in stories.dicts():
        href = _safe_href(story["canonical_url"])
        title = esc(story["canonical_title"] or story["story_id"])
        link = f'<a href="{href}" rel="noreferrer">{title}</a>' if href else title
        outlets = ", ".join(esc(o) for o in story["outlets"] or [])
        rows.append(
            f"<tr><td>{link}<br><span class=\"muted\">{esc(story['story_id'])}</span></td>"
            f"<td>{esc(story['first_outlet'])}<br><span class=\"muted\">"
            f"{esc(_when(story['first_published_at']))}</span></td>"
            f"<td class=\"n\">{esc(story['outlet_count'])}</td>"
            f"<td class=\"n\">{esc(story['articles_in_run'])} / {esc(story['article_count'])}</td>"
            f"<td>{outlets}</td></tr>")
    return ('<table class="stories"><thead><tr><th>Story (canonical title)</th>'
            '<th>First published by</th><th class="n">Outlets</th>'
            '<th class="n">Articles (run / all)</th><th>Outlets carrying it</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_run_page(run_id: str, tables: dict[str, Table], *, has_data_docs: bool) -> str:
    """The HTML page of one run from its query results (keys of RUN_QUERIES)."""
    overview = (tables["overview"].dicts() or [{}])[0]
    nav = f'<a href="{INDEX_PAGE}">All runs</a>'
    if has_data_docs:
        nav += '<a href="../data_docs/index.html">Data quality (Great Expectations)</a>'
    body = (
        f"<nav>{nav}</nav><h1>Run {esc(run_id)}</h1>"
        f"<p class=\"muted\">{esc(overview.get('trigger'))} run, started "
        f"{esc(_when(overview.get('started_at')))}, loaded {esc(_when(overview.get('loaded_at')))}"
        "</p>"
        + _tiles(overview, tables["duplicates"], run_id)
        + _quality_line(tables["quality"])
        + _plots(tables)
        + '<h2 style="margin-top:20px">Top stories of the run</h2>'
        + _top_stories(tables["top_stories"])
    )
    return _page(f"newspipe run {run_id}", body)


def render_index(runs: Table, pages: set[str], *, has_data_docs: bool) -> str:
    """The list of runs, newest first, linking those that have a page."""
    rows = []
    for run in runs.dicts():
        name = page_name(str(run["run_id"]))
        label = esc(run["run_id"])
        cell = f'<a href="{esc(name)}">{label}</a>' if name in pages else label
        rows.append(
            f"<tr><td>{cell}</td><td>{esc(run['trigger'])}</td>"
            f"<td>{esc(_when(run['started_at']))}</td>"
            + "".join(f'<td class="n">{esc(run[c])}</td>' for c in
                      ("feeds_polled", "feeds_failed", "pages_fetched", "pages_failed",
                       "articles_loaded"))
            + "</tr>")
    nav = '<nav><a href="../data_docs/index.html">Data quality (Great Expectations)</a></nav>'
    body = (
        (nav if has_data_docs else "") + "<h1>newspipe runs</h1>"
        '<table><thead><tr><th>Run</th><th>Trigger</th><th>Started</th>'
        '<th class="n">Feeds</th><th class="n">Feeds failed</th><th class="n">Pages</th>'
        '<th class="n">Pages failed</th><th class="n">Articles loaded</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>")
    return _page("newspipe runs", body)


# --- writing ------------------------------------------------------------------------------


def _table(con: duckdb.DuckDBPyConnection, relative: str, **params: object) -> Table:
    columns, rows = query_rows(con, relative, **params)
    return Table(tuple(columns), tuple(tuple(r) for r in rows))


def _write(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a page."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def link_from_data_docs(reports_dir: Path) -> bool:
    """Add a link to the run reports to the Data Docs index, once; False if there is none.

    Great Expectations rewrites its index on every build, so call this after the build.
    """
    index = Path(reports_dir) / DATA_DOCS_INDEX
    if not index.exists():
        return False
    text = index.read_text(encoding="utf-8")
    if DATA_DOCS_MARKER in text:
        return True
    block = (f'<div id="{DATA_DOCS_MARKER}" style="position:fixed;right:16px;bottom:16px;'
             'background:#fff;border:1px solid #ccc;border-radius:6px;padding:8px 12px;'
             f'z-index:1000"><a href="../{RUNS_DIR}/{INDEX_PAGE}">newspipe run reports</a></div>')
    at = text.lower().rfind("</body>")
    _write(index, text[:at] + block + text[at:] if at >= 0 else text + block)
    return True


def write_run_report(db_path: str | Path, run_id: str, reports_dir: str | Path) -> Path:
    """Write `<reports>/runs/<run>.html` and refresh the runs index; return the page's path.

    Reads the published snapshot, so it works while another run is loading.
    """
    reports_dir = Path(reports_dir)
    out_dir = reports_dir / RUNS_DIR
    con = store.reader(db_path)
    try:
        tables = {key: _table(con, path, run_id=run_id) for key, path in RUN_QUERIES.items()}
        runs = _table(con, RUNS_QUERY)
    except duckdb.Error as exc:
        raise ReportError(f"{db_path}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()
    if not tables["overview"].rows:
        raise ReportError(f"{db_path}: no run {run_id!r} (see `SELECT run_id FROM runs`)")
    out_dir.mkdir(parents=True, exist_ok=True)
    has_docs = link_from_data_docs(reports_dir)
    page = out_dir / page_name(run_id)
    _write(page, render_run_page(run_id, tables, has_data_docs=has_docs))
    pages = {p.name for p in out_dir.glob("*.html")}
    _write(out_dir / INDEX_PAGE, render_index(runs, pages, has_data_docs=has_docs))
    return page


def _latest_run(db_path: Path) -> str:
    con = store.reader(db_path)
    try:
        row = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
    finally:
        con.close()
    if not row:
        raise ReportError(f"{db_path}: no runs yet (run `newspipe run` first)")
    return str(row[0][0])


def cli_report(db: str | Path, run_id: str | None, reports: str | Path) -> Path:
    """`newspipe report --db FILE [--run-id ID] --reports DIR`: the latest run when no id."""
    db = Path(db)
    return write_run_report(db, run_id or _latest_run(db), Path(reports))
