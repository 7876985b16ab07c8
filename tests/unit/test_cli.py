import json
from pathlib import Path

import duckdb
import pytest

from pipeline import store
from pipeline.cli import main


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "news.duckdb"
    with store.writer(path) as con:
        con.execute("INSERT INTO runs (run_id, trigger, started_at, articles_loaded) "
                    "VALUES ('r1', 'cli', TIMESTAMPTZ '2025-10-26 00:00:00+00', 7)")
    return path


def test_sql_prints_an_aligned_table(db: Path, capsys):
    assert main(["sql", "--db", str(db), "SELECT run_id, articles_loaded FROM runs"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["run_id", "articles_loaded"]
    assert out[2].split() == ["r1", "7"] and out[-1] == "(1 rows)"


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_sql_writes_each_format(db: Path, tmp_path: Path, fmt: str):
    output = tmp_path / f"out.{fmt}"
    query = "SELECT run_id, articles_loaded FROM runs"
    assert main(["sql", "--db", str(db), query, "--output", str(output)]) == 0
    if fmt == "json":
        assert json.loads(output.read_text()) == [{"run_id": "r1", "articles_loaded": 7}]
    else:
        reader = "read_csv" if fmt == "csv" else "read_parquet"
        rows = duckdb.sql(f"SELECT * FROM {reader}('{output}')").fetchall()
        assert rows == [("r1", 7)]


def test_sql_runs_a_query_file(db: Path, tmp_path: Path, capsys):
    query = tmp_path / "q.sql"
    query.write_text("-- a question\nSELECT count(*) AS n FROM runs\n", encoding="utf-8")
    assert main(["sql", "--db", str(db), str(query), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["n", "1"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT nope FROM runs", "Binder Error"),
        ("DELETE FROM runs", "read-only"),
        ("SELEKT 1", "Parser Error"),
    ],
)
def test_sql_errors_are_one_line_and_change_nothing(db: Path, capsys, query: str, message: str):
    assert main(["sql", "--db", str(db), query]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("newspipe sql:")
    con = store.reader(db)
    assert con.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]
    con.close()


def test_missing_database_and_bad_config_are_one_line(tmp_path: Path, capsys):
    assert main(["sql", "--db", str(tmp_path / "absent.duckdb"), "SELECT 1"]) == 1
    assert "no database yet" in capsys.readouterr().err
    config = tmp_path / "feeds.yaml"
    config.write_text("topics:\n  - name: t\n    feeds:\n      - url: ftp://x\n", encoding="utf-8")
    assert main(["run", "--config", str(config), "--db", str(tmp_path / "n.duckdb")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"newspipe run: {config}: topics[0].feeds[0].url: not an http(s) URL"]


def test_push_serve_without_a_secret_says_where_to_put_it(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("NEWSPIPE_PUSH_SECRET", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_NEWSPIPE_PUSH", raising=False)
    config = tmp_path / "feeds.yaml"
    config.write_text("topics:\n  - name: t\n    feeds:\n      - url: http://127.0.0.1:9/f.xml\n",
                      encoding="utf-8")
    assert main(["push", "serve", "--config", str(config), "--port", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "NEWSPIPE_PUSH_SECRET" in err[0]
