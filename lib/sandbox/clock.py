"""Clocks: everything time-based in the simulator asks one of these for the time and for sleeping."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from .config import VIRTUAL_EPOCH


class Clock(Protocol):
    """What the simulator needs from time: now() in epoch seconds and an awaitable sleep to a deadline."""

    virtual: bool

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...

    def advance(self, seconds: float) -> float: ...


def to_datetime(ts: float) -> datetime:
    """Epoch seconds -> aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=UTC)


def rfc3339(ts: float) -> str:
    """Epoch seconds -> RFC 3339 UTC with whole seconds, e.g. 2026-11-20T09:00:12Z."""
    return to_datetime(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


class RealClock:
    """Wall-clock time read through time.monotonic(), so pacing never jumps when NTP adjusts the clock."""

    virtual = False

    def __init__(self) -> None:
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0)

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - self.now()
        await asyncio.sleep(delay if delay > 0 else 0)

    def advance(self, seconds: float) -> float:
        raise RuntimeError("advance() only works on the virtual clock (SandboxConfig(virtual_clock=True))")

    def reset(self) -> None:
        """Nothing to reset: real time goes on."""


class VirtualClock:
    """Simulated time: sleeping to a deadline moves now() to it at once; advance() moves it by hand."""

    virtual = True

    def __init__(self, start: datetime = VIRTUAL_EPOCH) -> None:
        self._start = start.timestamp()
        self._now = self._start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    async def sleep_until(self, deadline: float) -> None:
        with self._lock:
            self._now = max(self._now, deadline)
        # Yield so that concurrent streams interleave as they would in real time.
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (>= 0) and return the new now()."""
        if seconds < 0:
            raise ValueError("the virtual clock only moves forward")
        with self._lock:
            self._now += seconds
            return self._now

    def reset(self) -> None:
        """Back to the start time (used by Simulator.reset)."""
        with self._lock:
            self._now = self._start
