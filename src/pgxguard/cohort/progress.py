"""Progress of long cohort steps as plain log lines, for batch jobs whose output is a log file.

A terminal gets a live bar (rich); a log gets one line at every tenth of the work and, with
`Heartbeat`, at least every `every` seconds while it runs, each with the count, the rate and an
ETA, so a job's log shows where it is without flooding it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

LogLine = Callable[[str], None]


def duration(seconds: float) -> str:
    """``H:MM:SS`` (whole seconds)."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class StepLog:
    """Counts steps of one task and emits a line at each 10 % and every `every` seconds."""

    def __init__(self, emit: LogLine, what: str, total: int, unit: str, *,
                 every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.emit = emit
        self.what = what
        self.total = max(0, total)
        self.unit = unit
        self.every = every
        self.clock = clock
        self.start = clock()
        self.last = self.start
        self.done = 0
        self.rate: str | None = None
        self._lock = threading.Lock()

    def step(self, n: int = 1, *, rate: str | None = None, detail: str = "") -> None:
        """`n` more steps done; `rate` replaces the default "units/s" text."""
        with self._lock:
            before = self.done
            self.done += n
            self.rate = rate
            now = self.clock()
            tenth = (self.done * 10 // self.total) > (before * 10 // self.total) \
                if self.total else True
            if tenth or self.done >= self.total or now - self.last >= self.every:
                self._emit(now, detail)

    def heartbeat(self) -> None:
        """A line if none for `every` seconds (a slow step must not leave the log silent)."""
        with self._lock:
            now = self.clock()
            if now - self.last >= self.every and self.done < self.total:
                self._emit(now, "running")

    def _emit(self, now: float, detail: str) -> None:
        self.last = now
        rate = self.rate
        elapsed = now - self.start
        per_s = self.done / elapsed if elapsed > 0 else 0.0
        pct = 100 * self.done / self.total if self.total else 100.0
        parts = [f"{self.what} {self.done:,}/{self.total:,} {self.unit} ({pct:.0f} %)",
                 rate if rate is not None else f"{per_s:,.1f} {self.unit}/s",
                 f"elapsed {duration(elapsed)}"]
        if self.done < self.total:
            parts.append(f"ETA {duration((self.total - self.done) / per_s)}" if per_s > 0
                         else "ETA unknown")
        self.emit(", ".join(parts) + (f" ({detail})" if detail else ""))


class Heartbeat:
    """Calls `StepLog.heartbeat` every `interval` seconds from a daemon thread while open."""

    def __init__(self, log: StepLog, interval: float = 5.0) -> None:
        self.log = log
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pgxguard-progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.log.heartbeat()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()


__all__ = ["Heartbeat", "LogLine", "StepLog", "duration"]
