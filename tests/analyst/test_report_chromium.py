"""The run report in headless Chromium: no console errors, visible plots, a script title as text.

Debian's `chromium` is installed by the session fixture when missing (apt-get); if that is
impossible the tests skip and say why. Console messages and exceptions are read through the
DevTools protocol (a websocket to the browser started here).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pipeline import report

from .conftest import SCRIPT_TITLE

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")
APT_TIMEOUT_SECONDS = 900
STARTUP_TIMEOUT_SECONDS = 30
LOAD_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when absent."""
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
                              env=env, capture_output=True, text=True,
                              timeout=APT_TIMEOUT_SECONDS, check=False)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"chromium missing and `apt-get install -y chromium` failed: {last[0]}")
    if not CHROMIUM.exists():
        pytest.skip("chromium missing (/usr/bin/chromium) and apt-get is not available")
    return CHROMIUM


class DevTools:
    """A minimal DevTools-protocol client for one page target, recording console trouble."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params: object) -> dict:
        call_id = next(self._ids)
        self._ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=LOAD_TIMEOUT_SECONDS))
            if message.get("id") == call_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        seen = next((e for e in self.events if e.get("method") == method), None)
        while seen is None:
            message = json.loads(self._ws.recv(timeout=LOAD_TIMEOUT_SECONDS))
            self.events.append(message)
            seen = message if message.get("method") == method else None
        return seen

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                found.append(f"log {params['entry']['level']}: {params['entry'].get('text')}")
        return found


def _devtools_port(profile: Path, process: subprocess.Popen) -> int:
    """Chromium writes the port it chose (--remote-debugging-port=0) into the profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        if process.poll() is not None:
            raise AssertionError(f"chromium exited with {process.returncode}")
        time.sleep(0.1)
    raise AssertionError("chromium did not open its DevTools port")


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[DevTools]:
    """A fresh headless Chromium (own profile) and a DevTools session on its blank page."""
    from websockets.sync.client import connect

    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [str(chromium), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
         "--remote-debugging-port=0", "--window-size=1280,1600", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = _devtools_port(profile, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None,
                     open_timeout=STARTUP_TIMEOUT_SECONDS) as ws:
            tools = DevTools(ws)
            for domain in ("Runtime", "Log", "Page"):
                tools.call(f"{domain}.enable")
            yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _open(browser: DevTools, page: Path) -> None:
    browser.events.clear()
    browser.call("Page.navigate", url=page.resolve().as_uri())
    browser.wait_for("Page.loadEventFired")


@pytest.fixture
def run_page(tmp_path: Path, script_title_db: Path, analyst_world) -> Path:
    return report.write_run_report(script_title_db, analyst_world.first_run, tmp_path / "reports")


def test_report_renders_plots_without_console_errors(browser: DevTools, run_page: Path) -> None:
    _open(browser, run_page)
    boxes = browser.evaluate("""[...document.querySelectorAll('svg.plot')].map(s => {
        const r = s.getBoundingClientRect(); return [r.width, r.height,
        s.querySelectorAll('rect.bar').length]; })""")
    assert len(boxes) == 4
    assert all(width > 0 and height > 0 for width, height, _ in boxes)
    assert all(bars > 0 for _, _, bars in boxes), boxes  # the dead feed fills the errors plot
    assert browser.problems() == []


def test_script_title_shows_as_text(browser: DevTools, run_page: Path) -> None:
    _open(browser, run_page)
    assert browser.evaluate("document.scripts.length") == 0
    assert browser.evaluate("document.title") == f"newspipe run {run_page.stem}"
    titles = browser.evaluate(
        "[...document.querySelectorAll('table.stories a')].map(a => a.textContent)")
    assert SCRIPT_TITLE in titles
    assert browser.problems() == []


def test_index_links_to_run_pages(browser: DevTools, run_page: Path) -> None:
    _open(browser, run_page.parent / "index.html")
    links = browser.evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
    assert run_page.resolve().as_uri() in links
    assert browser.problems() == []
