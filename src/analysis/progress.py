"""Progress you can see: how many of how many are done, time so far, time left and what is running.

On a terminal a live line is redrawn at the bottom (every second, and at each event) with the
messages printed above it. Elsewhere (a scheduled run, a CI log, a file) there is no redrawing:
each event is a plain line, and while nothing finishes a plain status line every minute shows the
run is alive. Every layer may use it (it depends on nothing in the package).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


def duration(seconds: float) -> str:
    """``45 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = int(round(max(seconds, 0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def is_live(stream: TextIO) -> bool:
    """Redraw a live line only on a terminal that understands it (never in CI logs or with NO_COLOR-style dumb terminals)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb" and not os.environ.get("CI")


class Progress:
    """``total`` items of work; :meth:`advance` when one finishes, :meth:`say` for any other message.

    ``running`` (optional) returns what is running now (e.g. ``["02 Stockton-on-Tees, cell 12 of 31"]``).
    Use as a context manager so the live line is cleared and the ticker stopped at the end.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        running: Callable[[], list[str]] | None = None,
        stream: TextIO | None = None,
        live: bool | None = None,
        heartbeat: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(int(total), 0)
        self.done = 0
        self.label = label
        self.running = running or (lambda: [])
        self.stream = stream or sys.stderr
        self.live = is_live(self.stream) if live is None else live
        self.heartbeat = heartbeat
        self.clock = clock
        self.started = clock()
        self.last_output = self.started
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._drawn = False

    # --- what the line says -------------------------------------------------------------------------
    def status(self) -> str:
        elapsed = self.clock() - self.started
        parts = [f"{self.label + ' ' if self.label else ''}[{self.done}/{self.total}]"]
        if self.total:
            parts.append(f"{100 * self.done // self.total}%")
        parts.append(f"{duration(elapsed)} so far")
        if 0 < self.done < self.total:
            parts.append(f"about {duration(elapsed / self.done * (self.total - self.done))} left")
        try:
            now = self.running()
        except Exception:  # a status file half-written: say nothing rather than fail the run
            now = []
        if now:
            parts.append("running: " + "; ".join(now))
        return " · ".join(parts)

    # --- events ---------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        with self._lock:
            self._clear()
            print(message, file=self.stream, flush=True)
            self.last_output = self.clock()
            self._draw()

    def advance(self, message: str = "") -> None:
        self.done = min(self.done + 1, self.total) if self.total else self.done + 1
        if message:
            self.say(message)
        else:
            with self._lock:
                self._draw()

    def tick(self) -> None:
        """Redraw the live line; off a terminal, a plain status line when nothing was said for a while."""
        with self._lock:
            if self.live:
                self._draw()
            elif self.clock() - self.last_output >= self.heartbeat and self.done < self.total:
                print(self.status(), file=self.stream, flush=True)
                self.last_output = self.clock()

    # --- drawing ----------------------------------------------------------------------------------------
    def _draw(self) -> None:
        if not self.live:
            return
        text = self.status()
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
        if columns > 1:  # a terminal that reports no size (0 columns) gets the whole line
            text = text[: columns - 1]
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write("\r\x1b[2K")
            self._drawn = False

    # --- the ticker -------------------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        def loop() -> None:
            while not self._stop.wait(1.0):
                self.tick()

        self._ticker = threading.Thread(target=loop, name="progress", daemon=True)
        self._ticker.start()
        with self._lock:
            self._draw()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        with self._lock:
            self._clear()
            self.stream.flush()
