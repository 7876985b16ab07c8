"""The run report: plots are well-formed SVG, feed text is escaped, pages and index link up."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pipeline import report
from pipeline.errors import StoreError
from pipeline.report import ReportError, Table

from .conftest import SCRIPT_TITLE

SVG_NS = "{http://www.w3.org/2000/svg}"


def _svg_root(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything not well-formed


@pytest.mark.parametrize("value", [0, 0.3, 1, 7, 13, 20, 99, 101, 4_999])
def test_nice_ceiling_is_at_least_value_and_round(value: float) -> None:
    top = report._nice_ceiling(value)
    assert top >= value and top > 0
    mantissa = top / 10 ** int(f"{top:e}".split("e")[1])
    assert round(mantissa, 6) in {1, 2, 5, 10}


def test_page_names_are_safe_and_distinct() -> None:
    ids = ["scheduled__2025-10-26T09:00:00+00:00", "scheduled__2025-10-26T09_00_00_00_00",
           "../../etc/passwd", "cli-20251026T090000Z"]
    names = [report.page_name(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert all("/" not in n and not n.startswith(".") and n.endswith(".html") for n in names)
    assert report.page_name("cli-20251026T090000Z") == "cli-20251026T090000Z.html"


def test_plots_are_svg_and_escape_labels() -> None:
    bars = report.hbar_svg("t", [SCRIPT_TITLE, "b"], [("x", [3, 1]), ("y", [1, 0])])
    columns = report.columns_svg("t", ["r1", SCRIPT_TITLE], [0.25, None], percent=True)
    for svg in (bars, columns):
        root = _svg_root(svg)
        assert root.tag == f"{SVG_NS}svg" and float(root.get("width")) > 0
        assert "<script" not in svg
        assert any(SCRIPT_TITLE in "".join(el.itertext()) for el in root.iter())
    assert len(_svg_root(bars).findall(f".//{SVG_NS}rect[@class='bar']")) == 3  # zero-width skipped
    assert "n/a" in columns


def test_empty_plots_still_draw_a_message() -> None:
    svg = report.hbar_svg("errors", [], [("n", [])], empty="no fetch errors in this run")
    assert "no fetch errors in this run" in svg and float(_svg_root(svg).get("height")) > 0


def test_only_http_links_become_hrefs() -> None:
    assert report._safe_href("javascript:alert(1)") is None
    assert report._safe_href('https://a.example/x?q="><b>') == (
        "https://a.example/x?q=&quot;&gt;&lt;b&gt;")


def _page(db_path: Path, tmp_path: Path, run_id: str) -> str:
    return report.write_run_report(db_path, run_id, tmp_path / "reports").read_text("utf-8")


def test_report_escapes_a_script_title(script_title_db: Path, tmp_path: Path,
                                       analyst_world) -> None:
    page = _page(script_title_db, tmp_path, analyst_world.first_run)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt; &amp;" in page
    assert "script-src" not in page and "default-src 'none'" in page  # CSP forbids scripts


def test_report_pages_index_and_data_docs_link(tmp_path: Path, analyst_world) -> None:
    reports = tmp_path / "reports"
    docs = reports / "data_docs" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<html><body><h1>Data Docs</h1></body></html>", encoding="utf-8")
    pages = [report.write_run_report(analyst_world.db_path, r, reports)
             for r in analyst_world.run_ids]
    assert [p.parent for p in pages] == [reports / report.RUNS_DIR] * 2
    index = (reports / report.RUNS_DIR / "index.html").read_text("utf-8")
    assert all(f'href="{p.name}"' in index for p in pages)
    docs_text = docs.read_text("utf-8")
    assert docs_text.count(report.DATA_DOCS_MARKER) == 1  # twice written, linked once
    assert 'href="../runs/index.html"' in docs_text
    first = pages[0].read_text("utf-8")
    assert first.count("<svg") == 4 and "../data_docs/index.html" in first
    assert "http_status (feed)" in first  # the dead feed's 404s, in the errors plot
    second = pages[1].read_text("utf-8")
    assert "no articles stored in this run" in second and "This run added no articles" in second


def test_report_without_data_docs_and_unknown_run(tmp_path: Path, analyst_world) -> None:
    page = _page(analyst_world.db_path, tmp_path, analyst_world.first_run)
    assert "data_docs" not in page
    with pytest.raises(ReportError, match="no run 'nope'"):
        report.write_run_report(analyst_world.db_path, "nope", tmp_path / "reports")
    with pytest.raises(StoreError):
        report.cli_report(tmp_path / "missing.duckdb", None, tmp_path / "reports")


def test_cli_report_defaults_to_the_latest_run(tmp_path: Path, analyst_world) -> None:
    path = report.cli_report(analyst_world.db_path, None, tmp_path / "reports")
    assert path.name == report.page_name(analyst_world.run_ids[-1])


def test_table_helpers() -> None:
    table = Table(("a", "b"), ((1, "x"), (2, "y")))
    assert table.column("b") == ["x", "y"] and table.dicts()[1] == {"a": 2, "b": "y"}
