"""Progress bars: counts on a terminal, nothing at all off one."""

from __future__ import annotations

import io

import pytest

from pipeline.progress import Progress, ProgressSink, render_line


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_when_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress(stream).stage("fetch", 3) as bar:
        bar.advance(3)
    assert stream.getvalue() == "" and bar.done == 3 and bar.closed


def test_draws_counts_on_a_terminal() -> None:
    stream, clock = Terminal(), FakeClock()
    bar = Progress(stream, clock=clock).stage("fetch", 4)
    for _ in range(4):
        clock.now += 1
        bar.advance()
    bar.close()
    lines = [part.strip() for part in stream.getvalue().split("\r") if part.strip()]
    assert lines[0].startswith("fetch [") and "0/4" in lines[0]
    assert "4/4" in lines[-1] and "100%" in lines[-1] and stream.getvalue().endswith("\n")


def test_redraws_are_throttled_but_the_last_count_is_drawn() -> None:
    stream, clock = Terminal(), FakeClock()
    bar = Progress(stream, clock=clock).stage("extract", 1000)
    for _ in range(1000):
        bar.advance()  # the clock stands still: no redraws
    assert stream.getvalue().count("\r") == 1
    bar.close()
    bar.close()  # once only
    assert stream.getvalue().count("\r") == 2 and "1000/1000" in stream.getvalue()
    bar.advance(5)
    assert bar.done == 1000


@pytest.mark.parametrize("total", [None, 0])
def test_unknown_total_shows_counts_only(total: int | None) -> None:
    line = render_line("poll", 7, total, 1.25, 80)
    assert line == "poll 7 1.2s" or line == "poll 7 1.3s"


@pytest.mark.parametrize("width", [10, 40, 80, 200])
def test_line_fits_the_terminal(width: int) -> None:
    line = render_line("a-rather-long-stage-name", 12345, 99999, 12.0, width)
    assert len(line) < max(width, 40)


def test_progress_is_a_sink() -> None:
    stream = io.StringIO()
    sink: ProgressSink = Progress(stream, enabled=False)
    stage = sink.stage("load", 1)
    stage.advance()
    stage.close()
    assert (stage.done, stage.closed, stream.getvalue()) == (1, True, "")


def test_forced_on_writes_to_a_pipe() -> None:
    stream = io.StringIO()
    with Progress(stream, enabled=True).stage("load", 2) as bar:
        bar.advance(2)
    assert "2/2" in stream.getvalue()
