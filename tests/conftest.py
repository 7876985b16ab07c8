"""Session-wide fixtures: the built fixture web and a server for it on a free port."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def fixture_web(tmp_path_factory) -> Path:
    """The fixture web, built once per session."""
    from pipeline.fixtures import build_web

    root = tmp_path_factory.mktemp("fixture-web")
    build_web(root)
    return root


@pytest.fixture(scope="session")
def fixture_server(fixture_web: Path):
    """The fixture web served on 127.0.0.1, a free port."""
    from pipeline.fixtures import FixtureServer

    with FixtureServer(fixture_web, port=0) as server:
        yield server


@pytest.fixture(scope="session")
def labels(fixture_web: Path):
    from pipeline.fixtures import load_labels

    return load_labels(fixture_web)
