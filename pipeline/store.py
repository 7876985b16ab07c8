"""The DuckDB store: migrations, the single writer, and the snapshot readers use.

DuckDB lets one process hold a file read-write, or many read-only, never both. So the
pipeline writes a private file (`<db>.writer`), holds it only for a load, and then
publishes a copy at `<db>` with an atomic rename. Readers (analysts, `newspipe sql`,
quality checks, the seen-filter) open `<db>` read-only: a reader who stays for hours
keeps the snapshot it opened and never blocks the next load, and a load never
refuses a reader.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from .errors import StoreError

__all__ = [
    "SQL_DIR",
    "applied_migrations",
    "execute_file",
    "migrate",
    "publish",
    "reader",
    "sql_text",
    "writer",
    "writer_path",
]

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"
WRITER_LOCK_TIMEOUT_SECONDS = 1800.0
#: DuckDB's own memory for the writer (it takes 80% of RAM by default): beyond it the
#: load spills to `<db>.writer.tmp/`, so a run's memory does not grow with its size.
WRITER_MEMORY_LIMIT = "512MB"
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")
_COMMENT = re.compile(r"--[^\n]*")

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    checksum    VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL
)
"""


def sql_text(relative: str) -> str:
    """The text of a .sql file under sql/, e.g. `load/articles.sql`."""
    path = SQL_DIR / relative
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from None


def _statements(text: str) -> list[str]:
    """Split a .sql file into statements (our files keep `;` out of strings and comments)."""
    code = _COMMENT.sub("", text)
    return [part.strip() for part in code.split(";\n") if part.strip().strip(";").strip()]


def execute_file(con: duckdb.DuckDBPyConnection, relative: str, **params: object) -> None:
    """Run every statement of a .sql file, binding only the `$name` parameters each one uses."""
    for statement in _statements(sql_text(relative)):
        used = {name: params[name] for name in _PARAM.findall(statement) if name in params}
        try:
            con.execute(statement, used or None)
        except duckdb.Error as exc:
            raise StoreError(f"{relative}: {exc}") from None


def _migration_files() -> list[tuple[int, str, Path]]:
    files = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        if not number.isdigit():
            raise StoreError(f"migration {path.name} does not start with a number")
        files.append((int(number), name, path))
    return files


def applied_migrations(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """version -> checksum of every migration recorded in this database."""
    con.execute(_MIGRATIONS_TABLE)
    return dict(con.execute("SELECT version, checksum FROM schema_migrations").fetchall())


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; then the views.

    An old database upgrades in place; a migration edited after it was applied is an
    error, since the files are history and must not change.
    """
    done = applied_migrations(con)
    applied = []
    for version, name, path in _migration_files():
        text = path.read_text(encoding="utf-8")
        checksum = hashlib.sha256(text.encode()).hexdigest()
        if version in done:
            if done[version] != checksum:
                raise StoreError(f"migration {path.name} changed after it was applied")
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(text)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?, ?)",
                [version, name, checksum, datetime.now(UTC)],
            )
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"migration {path.name} failed: {exc}") from None
        applied.append(path.name)
    for path in sorted(VIEWS_DIR.glob("*.sql")):
        try:
            con.execute(path.read_text(encoding="utf-8"))
        except duckdb.Error as exc:
            raise StoreError(f"view {path.name} failed: {exc}") from None
    return applied


def writer_path(db_path: str | Path) -> Path:
    """The private file the single writer works on; `db_path` is the published copy."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".writer")


def publish(db_path: str | Path) -> None:
    """Copy the writer's file over the published snapshot, atomically.

    The rename swaps the directory entry: readers holding the old snapshot keep it.
    """
    db_path = Path(db_path)
    tmp = db_path.with_name(f".{db_path.name}.publish-{os.getpid()}")
    shutil.copyfile(writer_path(db_path), tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, db_path)


@contextmanager
def writer(
    db_path: str | Path, *, lock_timeout: float = WRITER_LOCK_TIMEOUT_SECONDS
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one read-write connection, migrated; the snapshot is published on success.

    A file lock makes CLI runs and Airflow tasks take turns (the Airflow pool has one
    slot as well). If the body raises, nothing is published.
    """
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(db_path) + ".lock")
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise StoreError(f"{db_path}: another writer held the lock for {lock_timeout:.0f}s") from None
    try:
        target = writer_path(db_path)
        if not target.exists() and db_path.exists():
            shutil.copyfile(db_path, target)  # adopt a database made elsewhere
        spill = target.with_name(target.name + ".tmp")
        try:
            con = duckdb.connect(str(target), config={
                "memory_limit": WRITER_MEMORY_LIMIT, "temp_directory": str(spill)})
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {target}: {exc}") from None
        try:
            migrate(con)
            yield con
            con.execute("CHECKPOINT")
        finally:
            con.close()
        publish(db_path)
    finally:
        lock.release()


def reader(db_path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published snapshot; never blocks or is blocked by a load.

    DuckDB caches open databases by path within a process, so a second reader would get
    the snapshot the first one opened. Opening through a private hard link gives each
    reader the snapshot that is current now.
    """
    db_path = Path(db_path)
    if not db_path.exists():
        raise StoreError(f"{db_path}: no database yet (run `newspipe run` or `newspipe migrate`)")
    alias = db_path.with_name(f".{db_path.name}.reader-{uuid.uuid4().hex}")
    try:
        os.link(db_path, alias)
    except OSError:  # a read-only folder or a file system without hard links
        alias = db_path
    try:
        return duckdb.connect(str(alias), read_only=True)
    except duckdb.Error as exc:
        raise StoreError(f"cannot open {db_path} read-only: {exc}") from None
    finally:
        if alias != db_path:
            alias.unlink(missing_ok=True)
