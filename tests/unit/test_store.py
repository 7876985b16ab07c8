import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline import store
from pipeline.errors import StoreError


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "news.duckdb"


def test_migrations_are_applied_once_and_recorded(db: Path):
    with store.writer(db) as con:
        first = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        assert store.migrate(con) == []  # nothing pending the second time
    files = sorted(p.name for p in store.MIGRATIONS_DIR.glob("*.sql"))
    assert [v for (v,) in first] == [int(name[:4]) for name in files]


def test_an_old_database_upgrades_in_place(db: Path, tmp_path: Path, monkeypatch):
    old_dir = tmp_path / "old_migrations"
    old_dir.mkdir()
    shutil.copy(store.MIGRATIONS_DIR / "0001_core_tables.sql", old_dir)
    monkeypatch.setattr(store, "MIGRATIONS_DIR", old_dir)
    monkeypatch.setattr(store, "VIEWS_DIR", tmp_path / "no_views_yet")  # views need later tables
    with store.writer(db) as con:
        con.execute("INSERT INTO runs (run_id, trigger, started_at) VALUES ('r1', 'cli', now())")
    monkeypatch.undo()
    with store.writer(db) as con:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
        kept = con.execute("SELECT run_id FROM runs").fetchall()
    assert versions[0] == 1 and len(versions) == len(list(store.MIGRATIONS_DIR.glob("*.sql")))
    assert kept == [("r1",)]


def test_an_edited_migration_is_refused(db: Path, tmp_path: Path, monkeypatch):
    with store.writer(db):
        pass
    edited = tmp_path / "edited"
    shutil.copytree(store.MIGRATIONS_DIR, edited)
    target = edited / "0001_core_tables.sql"
    target.write_text(target.read_text() + "\n-- edited after merge\n")
    monkeypatch.setattr(store, "MIGRATIONS_DIR", edited)
    with pytest.raises(StoreError, match="changed after it was applied"), store.writer(db):
        pass


def test_a_reader_left_open_neither_blocks_nor_is_blocked(db: Path):
    with store.writer(db) as con:
        con.execute("INSERT INTO runs (run_id, trigger, started_at) VALUES ('r1', 'cli', now())")
    analyst = store.reader(db)  # an analyst's session, left open
    with store.writer(db) as con:
        con.execute("INSERT INTO runs (run_id, trigger, started_at) VALUES ('r2', 'cli', now())")
    assert analyst.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]  # its snapshot
    fresh = store.reader(db)
    assert fresh.execute("SELECT count(*) FROM runs").fetchall() == [(2,)]
    analyst.close()
    fresh.close()


def test_nothing_is_published_when_the_write_fails(db: Path):
    with store.writer(db) as con:
        con.execute("INSERT INTO runs (run_id, trigger, started_at) VALUES ('r1', 'cli', now())")
    with pytest.raises(RuntimeError), store.writer(db) as con:
        con.execute("INSERT INTO runs (run_id, trigger, started_at) VALUES ('r2', 'cli', now())")
        raise RuntimeError("load failed half-way")
    con = store.reader(db)
    assert con.execute("SELECT count(*) FROM runs").fetchall() == [(1,)]


def test_reader_of_a_missing_database_says_so(db: Path):
    with pytest.raises(StoreError, match="no database yet"):
        store.reader(db)


def test_execute_file_binds_only_used_parameters(db: Path, tmp_path: Path, monkeypatch):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "two.sql").write_text(
        "CREATE TABLE t AS SELECT $a AS a;\nINSERT INTO t SELECT $b;\n", encoding="utf-8"
    )
    monkeypatch.setattr(store, "SQL_DIR", sql_dir)
    con = duckdb.connect()
    store.execute_file(con, "two.sql", a=1, b=2, unused=3)
    assert con.execute("SELECT a FROM t ORDER BY a").fetchall() == [(1,), (2,)]
