"""`newspipe check`: exit 0 and a verdict on clean data; exit 1 naming what failed on bad data."""

from pathlib import Path

import duckdb

from pipeline.cli import main


def _check(db: Path, tmp_path: Path) -> int:
    return main(["check", "--db", str(db), "--reports", str(tmp_path / "reports")])


def test_check_passes_clean_data(world_copy: Path, tmp_path: Path, capsys):
    assert _check(world_copy, tmp_path) == 0
    out = capsys.readouterr().out
    assert out.startswith("quality passed:") and "0 critical failures" in out


def test_check_fails_on_a_critical_defect_and_names_it(world_copy: Path, tmp_path: Path, capsys):
    con = duckdb.connect(str(world_copy))
    con.execute("UPDATE articles SET published_at = now() + INTERVAL 2 DAY "
                "WHERE article_id = (SELECT min(article_id) FROM articles)")
    con.close()
    assert _check(world_copy, tmp_path) == 1
    captured = capsys.readouterr()
    assert "published_not_in_future" in captured.err and "critical" in captured.err
    assert captured.out.startswith("quality FAILED:")
