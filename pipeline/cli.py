"""`newspipe`: one subcommand per job; each handler validates config once and calls the package."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from .errors import ConfigError, NewspipeError

__all__ = ["main", "parse_args"]

Handler = Callable[[argparse.Namespace], int]


def _default_staging(db: Path) -> Path:
    return db.parent / "staging"


def _print_table(title: str, rows: Sequence[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(title)  # noqa: T201 - the CLI's output
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>8}")  # noqa: T201


def cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .progress import Progress
    from .runner import enforce_error_rate, run_once

    config = load_config(args.config)
    run_id = args.run_id or "cli-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    summary = run_once(
        config,
        db_path=args.db,
        staging_dir=args.staging or _default_staging(args.db),
        run_id=run_id,
        progress=Progress(),
    )
    _print_table(f"run {summary.run_id}", list(summary.totals().items()))
    enforce_error_rate(summary.shards, max_rate=config.fetch.max_error_rate)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from . import store

    with store.writer(args.db) as con:
        versions = con.execute("SELECT version, name FROM schema_migrations ORDER BY 1").fetchall()
    _print_table(f"{args.db}: schema", [(f"{v:04d}", name) for v, name in versions])
    return 0


def cmd_fixtures_build(args: argparse.Namespace) -> int:
    from .fixtures import build_web

    report = build_web(args.out)
    print(f"fixture web built in {args.out}: {report}")  # noqa: T201
    return 0


def cmd_fixtures_serve(args: argparse.Namespace) -> int:
    import threading

    from .fixtures import FixtureServer, build_web, write_feeds_config

    root = args.root
    if not (root / "labels.json").exists():
        build_web(root)
    with FixtureServer(root, port=args.port) as server:
        if args.write_config:
            write_feeds_config(root, server.base_url, args.write_config)
        print(f"serving {root} at {server.base_url} (Ctrl-C stops)", flush=True)  # noqa: T201
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from .query import read_query, render, run_query

    fmt = args.format or (args.output.suffix.lstrip(".") if args.output else "table")
    if fmt not in ("table", "csv", "json", "parquet"):
        raise ConfigError(f"--format: unknown format {fmt!r} (table, csv, json, parquet)")
    if fmt == "parquet" and args.output is None:
        raise ConfigError("--format parquet needs --output FILE")
    result = run_query(args.db, read_query(args.query), output=args.output, fmt=fmt)
    if result is None:
        print(f"wrote {args.output}")  # noqa: T201
        return 0
    text = render(result, "table" if fmt == "parquet" else fmt)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(result.rows)} rows to {args.output}")  # noqa: T201
    else:
        print(text, end="" if text.endswith("\n") else "\n")  # noqa: T201
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    from .config import DedupSettings
    from .dedup import cluster_documents, read_documents_jsonl, write_clusters_csv

    docs = read_documents_jsonl(args.input)
    settings = DedupSettings(**{k: v for k, v in (("threshold", args.threshold),
                                                  ("shingle_size", args.shingle_size)) if v})
    clusters = cluster_documents(docs, settings=settings)
    write_clusters_csv(args.output, clusters)
    _print_table(f"dedup {args.input} -> {args.output}", [
        ("documents", len(docs)), ("clusters", len(set(clusters.values()))),
    ])
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .config import QualitySettings, load_config
    from .quality import run_checks
    from .summary import aligned

    settings = load_config(args.config).quality if args.config else QualitySettings()
    report = run_checks(args.db, settings=settings, reports_dir=args.reports or args.db.parent / "reports",
                        run_id=args.run_id, now=datetime.now(UTC))
    header, *failed = report.failure_rows()
    if failed:
        print(aligned(header, failed), file=sys.stderr if report.critical_failures else sys.stdout)  # noqa: T201
    print(report.verdict())  # noqa: T201
    return 1 if report.critical_failures else 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import cli_report

    print(cli_report(args.db, args.run_id, args.reports or args.db.parent / "reports"))  # noqa: T201
    return 0


def cmd_push_serve(args: argparse.Namespace) -> int:
    from .push import serve

    logging.getLogger("pipeline").setLevel(logging.INFO)
    return serve(args.config, host=args.host, port=args.port)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.root.resolve(), port=args.port)


def cmd_airflow(args: argparse.Namespace) -> int:
    from .demo import serve_airflow_ui

    return serve_airflow_ui(args.root.resolve(), port=args.port)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newspipe", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="one ingest cycle in-process (poll, fetch, extract, load)")
    run.add_argument("--config", type=Path, required=True, help="feeds YAML file")
    run.add_argument("--db", type=Path, required=True, help="DuckDB file (the published snapshot)")
    run.add_argument("--staging", type=Path, help="staged batches (default: beside the db)")
    run.add_argument("--run-id", help="run id (default: cli-<UTC timestamp>)")
    run.set_defaults(handler=cmd_run)

    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--db", type=Path, required=True)
    migrate.set_defaults(handler=cmd_migrate)

    fixtures = sub.add_parser("fixtures", help="the local fixture news web").add_subparsers(
        dest="fixtures_command", required=True)
    build = fixtures.add_parser("build", help="generate the fixture web (deterministic)")
    build.add_argument("--out", type=Path, required=True)
    build.set_defaults(handler=cmd_fixtures_build)
    serve = fixtures.add_parser("serve", help="serve the fixture web on 127.0.0.1")
    serve.add_argument("--root", type=Path, default=Path("var/fixtures"))
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--write-config", type=Path, help="also write a feeds YAML for this server")
    serve.set_defaults(handler=cmd_fixtures_serve)

    sql = sub.add_parser("sql", help="read-only SQL over the published snapshot")
    sql.add_argument("--db", type=Path, required=True)
    sql.add_argument("query", help="SQL text, or the path of a .sql file (e.g. sql/queries/...)")
    sql.add_argument("--format", choices=("table", "csv", "json", "parquet"),
                     help="default: from --output's suffix, else table")
    sql.add_argument("--output", type=Path, help="write here instead of stdout")
    sql.set_defaults(handler=cmd_sql)

    dedup = sub.add_parser("dedup", help="cluster near-duplicate documents offline (JSONL in, CSV out)")
    dedup.add_argument("--input", type=Path, required=True,
                       help="JSONL: id, text[, title, published_at, source]")
    dedup.add_argument("--output", type=Path, required=True, help="CSV: doc_id,cluster_id")
    dedup.add_argument("--threshold", type=float, help="similarity threshold (default: config default)")
    dedup.add_argument("--shingle-size", type=int, help="words per shingle (default: config default)")
    dedup.set_defaults(handler=cmd_dedup)

    check = sub.add_parser("check", help="run the quality suites; exit 1 on a critical failure")
    check.add_argument("--db", type=Path, required=True)
    check.add_argument("--config", type=Path, help="feeds YAML whose `quality` bounds apply")
    check.add_argument("--run-id", help="the run to check (default: the last loaded)")
    check.add_argument("--reports", type=Path, help="Data Docs folder (default: beside the db)")
    check.set_defaults(handler=cmd_check)

    report = sub.add_parser("report", help="write the HTML report of a run (default: the latest)")
    report.add_argument("--db", type=Path, required=True)
    report.add_argument("--run-id", help="the run (default: the latest)")
    report.add_argument("--reports", type=Path, help="reports folder (default: beside the db)")
    report.set_defaults(handler=cmd_report)

    push = sub.add_parser("push", help="WebSub push ingest").add_subparsers(
        dest="push_command", required=True)
    push_serve = push.add_parser("serve", help="the WebSub subscriber: pushes into the Redis stream")
    push_serve.add_argument("--config", type=Path, required=True, help="feeds YAML file")
    push_serve.add_argument("--host", default="127.0.0.1")
    push_serve.add_argument("--port", type=int, help="default: push.callback_base_url's port")
    push_serve.set_defaults(handler=cmd_push_serve)

    demo = sub.add_parser("demo", help="the fixture web through a local Airflow (make demo)")
    demo.add_argument("--root", type=Path, default=Path.cwd(), help="project root")
    demo.add_argument("--port", type=int, default=8765, help="fixture server port")
    demo.set_defaults(handler=cmd_demo)

    ui = sub.add_parser("airflow", help="the Airflow UI with the DAGs scheduled against the fixture web")
    ui.add_argument("--root", type=Path, default=Path.cwd(), help="project root")
    ui.add_argument("--port", type=int, default=8080, help="Airflow UI port on 127.0.0.1")
    ui.set_defaults(handler=cmd_airflow)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: expected failures print one line on stderr and return non-zero."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except NewspipeError as exc:
        print(f"newspipe {args.command}: {exc}", file=sys.stderr)  # noqa: T201
        return 1


if __name__ == "__main__":
    sys.exit(main())
