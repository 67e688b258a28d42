"""Cooperative work budgets: a deadline and a cancellation check for long calling work.

A thread cannot be stopped from outside, so the loops that can run long on untrusted input
(the VCF record scan, the upload pre-scan, per-pattern calling) call `checkpoint()`. Outside a
`within(budget)` block it does nothing; inside, it raises `TimeBudgetError` once the deadline
has passed and `WorkCancelled` once the `cancelled` callable says the requester has gone (the
service polls the HTTP client's connection). The callable is polled at most every
`poll_seconds`, so the check is cheap enough for per-record use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from pgxguard.errors import TimeBudgetError, WorkCancelled

_clock = time.monotonic  # the default clock (a test may replace it)


class Budget:
    """A deadline `seconds` from now and an optional cancellation check."""

    def __init__(self, seconds: float, *, cancelled: Callable[[], bool] | None = None,
                 clock: Callable[[], float] | None = None, poll_seconds: float = 0.25,
                 what: str = "the work") -> None:
        self.seconds = seconds
        self.clock = clock or _clock
        self.deadline = self.clock() + seconds
        self.cancelled = cancelled
        self.poll_seconds = poll_seconds
        self.what = what
        self._next_poll = self.clock()
        self.checks = 0  # how many checkpoints ran (tests and benchmarks read it)

    def check(self) -> None:
        self.checks += 1
        now = self.clock()
        if now > self.deadline:
            raise TimeBudgetError(
                f"{self.what} took longer than the limit of {self.seconds:g} s and was stopped",
                hint="send only the pharmacogene regions (e.g. `bcftools view -R`), or ask the "
                     "operator to raise PGXGUARD_INTERPRET_SECONDS")
        if self.cancelled is not None and now >= self._next_poll:
            self._next_poll = now + self.poll_seconds
            if self.cancelled():
                raise WorkCancelled(f"{self.what} was stopped: the client disconnected")


_CURRENT: ContextVar[Budget | None] = ContextVar("pgxguard_budget", default=None)


@contextmanager
def within(budget: Budget | None) -> Iterator[Budget | None]:
    """Run the block under `budget` (None: unbounded)."""
    token = _CURRENT.set(budget)
    try:
        yield budget
    finally:
        _CURRENT.reset(token)


def checkpoint() -> None:
    """Raise when the current budget is spent or its work was cancelled; else return."""
    b = _CURRENT.get()
    if b is not None:
        b.check()


__all__ = ["Budget", "TimeBudgetError", "WorkCancelled", "checkpoint", "within"]
