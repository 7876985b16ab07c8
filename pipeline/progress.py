"""Progress bars for long CLI work: one line per stage with counts, silent off a terminal.

The runner and the CLI take a `Progress` (or anything with its `stage` method) and call
`stage(name, total)` once per stage, then `advance(n)` as items finish and `close()` at
the end. On a terminal each stage redraws one line in place; when stderr is a file or a
pipe (Airflow logs, CI, cron) nothing is written, so logs stay clean.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, TextIO

__all__ = ["Progress", "ProgressSink", "StageBar", "StageProgress", "render_line"]

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1  # at most ten redraws a second; the final line is always drawn
MIN_LINE = 40


class StageProgress(Protocol):
    """What a stage reports through: items finished, then the end."""

    def advance(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


class ProgressSink(Protocol):
    """What the runner takes: one bar per stage."""

    def stage(self, name: str, total: int | None) -> StageProgress: ...


def render_line(name: str, done: int, total: int | None, elapsed: float, width: int) -> str:
    """One progress line, at most `width` characters: `fetch [####----] 12/40 30% 1.2s`."""
    seconds = f"{elapsed:.1f}s"
    if total:
        share = min(done / total, 1.0)
        filled = round(BAR_WIDTH * share)
        bar = "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"
        line = f"{name} {bar} {done}/{total} {share:4.0%} {seconds}"
    else:  # unknown total: counts only
        line = f"{name} {done} {seconds}"
    return line[: max(width, MIN_LINE) - 1]


class StageBar:
    """The bar of one stage; a context manager that closes itself."""

    def __init__(self, name: str, total: int | None, *, stream: TextIO | None,
                 clock: Callable[[], float], width: int) -> None:
        self.name = name
        self.total = total
        self.done = 0
        self.closed = False
        self._stream = stream  # None: count silently
        self._clock = clock
        self._width = width
        self._started = clock()
        self._drawn_at: float | None = None
        self._draw(force=True)

    def advance(self, n: int = 1) -> None:
        """Count `n` more items finished (failed ones too: they are done)."""
        if self.closed:
            return
        self.done += n
        self._draw(force=False)

    def close(self) -> None:
        """Draw the final count and end the line; later calls do nothing."""
        if self.closed:
            return
        self._draw(force=True)
        self.closed = True
        if self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, *, force: bool) -> None:
        if self._stream is None:
            return
        now = self._clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS:
            return
        self._drawn_at = now
        line = render_line(self.name, self.done, self.total, now - self._started, self._width)
        self._stream.write("\r" + line.ljust(self._width - 1))
        self._stream.flush()

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Progress:
    """Makes a `StageBar` per stage, drawn on `stream` (stderr) only when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = sys.stderr if stream is None else stream
        self.enabled = _is_terminal(self._stream) if enabled is None else enabled
        self._clock = clock

    def stage(self, name: str, total: int | None) -> StageBar:
        """A bar for one stage of `total` items (None when unknown)."""
        width = shutil.get_terminal_size((80, 24)).columns
        return StageBar(name, total, stream=self._stream if self.enabled else None,
                        clock=self._clock, width=width)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or exotic stream: stay quiet
        return False
