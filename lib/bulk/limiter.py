"""Client-side rate limiting driven by the anthropic-ratelimit-* response headers.

The API enforces three token buckets per organisation (requests, input tokens, output tokens): each
refills continuously at limit/60 per second up to a capacity, a request is admitted only if all three
hold its cost, and output is charged max_tokens up front with the unused part given back at the end
(claude-api.md §4.2). `RateLimiter` keeps a local copy of those buckets so that a bulk run is admitted
only when it fits, instead of being refused:

- **Learning.** Until a response has shown the headers, only one request (a probe) may be in flight.
  Each response then gives per bucket its `limit` (so the refill rate), `remaining` and `reset` (the
  time the bucket is full again). The capacity is estimated from below, as the larger of remaining +
  this request's own take, and remaining + refill from the moment the reply arrived until reset - 1 s
  (reset has whole seconds), so an idle limiter never believes it holds more than the server does.
- **Admission.** `try_acquire(cost)` takes 1 request, the estimated input tokens and max_tokens from
  the local buckets if all fit, else says how long until they will (or None: wait for a response).
- **Correction.** A response to request k says what the server held just after admitting k. The server
  level now is at least that, minus what we have taken since k, plus what was given back since k (no
  refill is counted: the reading may be as old as the request). Requests in flight blur that figure (by
  at most what they took), so the local level is lowered to it plus that blur when it is lower still.
  So other users of the same key (the app's interactive calls, another process) are seen, and the
  local model is never raised by a reading.
- **Settling.** At the end, output is given back (max_tokens - output) and input corrected to the real
  charge (input + cache writes). A 429 gives everything back and pauses every admission for its
  retry-after; a 5xx gives back the tokens (the request still counts); a connection error keeps all.

Time is injectable (`clock`), so tests run it under the sandbox's virtual clock.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lib.claude.gateway import retry_after_seconds

SEED_BURST_S = 10.0  # a seeded bucket's burst until headers say more
DIMENSIONS = ("requests", "input_tokens", "output_tokens")
_HEADER = {"requests": "requests", "input_tokens": "input-tokens", "output_tokens": "output-tokens"}
ROUNDING_SLACK = 500  # the real API rounds token `remaining` to the nearest thousand
HEADERLESS_AFTER = 3  # responses without rate-limit headers before the limiter stops waiting for them
DEFAULT_PAUSE_S = 1.0  # a 429 without retry-after
MIN_WAIT_S = 0.001


class NeverFits(Exception):  # noqa: N818 - a condition, not a failure of the limiter
    """A request larger than a bucket's whole capacity: waiting cannot help."""

    def __init__(self, dimension: str, amount: int, capacity: float):
        super().__init__(f"needs {amount:,} {dimension.replace('_', ' ')} but the bucket holds at most "
                         f"{int(capacity):,}")
        self.dimension = dimension
        self.amount = amount
        self.capacity = capacity


@dataclass(frozen=True)
class Cost:
    """What one request takes: 1 request, its (estimated) input tokens, its max_tokens."""

    input_tokens: int
    output_tokens: int
    requests: int = 1

    def of(self, dimension: str) -> int:
        return getattr(self, dimension)


@dataclass
class Grant:
    """Room taken for one request; hand it back through observe/settle/release."""

    seq: int
    cost: Cost
    at: float
    probe: bool = False
    taken_mark: dict[str, float] = field(default_factory=dict)
    returned_mark: dict[str, float] = field(default_factory=dict)
    status: int | None = None
    observed: bool = False
    done: bool = False


@dataclass
class HeaderReading:
    """One bucket as a response described it."""

    limit: int
    remaining: int
    reset: float | None


class _Bucket:
    def __init__(self, limit: int, now: float):
        self.limit = limit
        self.capacity = 0.0
        self.level = math.inf  # set from the first reading
        self.updated = now
        self.taken = 0.0  # running totals, to relate a reading to what happened since
        self.returned = 0.0

    @property
    def rate(self) -> float:
        return self.limit / 60.0

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: float) -> float:
        if self.level >= amount - 1e-6:
            return 0.0
        return max((amount - self.level) / self.rate, MIN_WAIT_S)  # epoch-sized clocks: no sub-ms steps

    def take(self, amount: float) -> None:
        self.level -= amount
        self.taken += amount

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)
        self.returned += amount


def read_headers(headers: Mapping[str, str]) -> dict[str, HeaderReading]:
    """The requests / input-tokens / output-tokens buckets a response describes (absent ones left out)."""
    out = {}
    for dim, name in _HEADER.items():
        limit = _int(headers.get(f"anthropic-ratelimit-{name}-limit"))
        remaining = _int(headers.get(f"anthropic-ratelimit-{name}-remaining"))
        if limit is None or remaining is None or limit <= 0:
            continue
        if dim != "requests" and remaining > 0 and remaining % 1000 == 0:
            remaining = max(0, remaining - ROUNDING_SLACK)  # maybe rounded up: assume the worst
        out[dim] = HeaderReading(limit, remaining, _epoch(headers.get(f"anthropic-ratelimit-{name}-reset")))
    return out


class RateLimiter:
    """A local mirror of the API's three buckets for one key, shared by every bulk worker of the process."""

    def __init__(self, clock: Callable[[], float] = time.time, *, max_probes: int = 1):
        self.clock = clock
        self.max_probes = max_probes
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] | None = None
        self._unlimited = False
        self._headerless = 0
        self._paused_until = 0.0
        self._seq = 0
        self._in_flight: dict[int, Grant] = {}
        self.rate_limited = 0  # 429s seen
        self.admitted = 0

    # -- asking for room --------------------------------------------------------------------------

    def try_acquire(self, cost: Cost) -> tuple[Grant | None, float | None]:
        """(grant, None) when it fits now; else (None, seconds to wait) or (None, None) = wait for a reply.

        Raises NeverFits when the cost exceeds a bucket's whole capacity.
        """
        with self._lock:
            now = self.clock()
            if now < self._paused_until:
                return None, self._paused_until - now
            if self._buckets is None:
                if self._unlimited:
                    return self._grant(cost, now, probe=True), None
                if sum(g.probe for g in self._in_flight.values()) >= self.max_probes:
                    return None, None
                return self._grant(cost, now, probe=True), None
            wait = 0.0
            for dim, bucket in self._buckets.items():
                bucket.refill(now)
                amount = cost.of(dim)
                if amount > bucket.capacity:
                    raise NeverFits(dim, amount, bucket.capacity)
                wait = max(wait, bucket.wait_for(amount))
            if wait > 0:
                return None, wait
            grant = self._grant(cost, now, probe=False)
            for dim, bucket in self._buckets.items():
                bucket.take(cost.of(dim))
                grant.taken_mark[dim], grant.returned_mark[dim] = bucket.taken, bucket.returned
            return grant, None

    def _grant(self, cost: Cost, now: float, *, probe: bool) -> Grant:
        self._seq += 1
        grant = Grant(seq=self._seq, cost=cost, at=now, probe=probe)
        self._in_flight[grant.seq] = grant
        self.admitted += 1
        return grant

    def acquire(self, cost: Cost, sleep: Callable[[float], None], *, poll_s: float = 0.05) -> Grant:
        """Block (through `sleep`) until `cost` fits; for callers without a dispatcher of their own."""
        while True:
            grant, wait = self.try_acquire(cost)
            if grant is not None:
                return grant
            sleep(poll_s if wait is None else wait)

    # -- what the API said ------------------------------------------------------------------------

    def observe(self, grant: Grant, status: int | None, headers: Mapping[str, str]) -> None:
        """A response (or a connection error: status None) to the request `grant` was taken for."""
        with self._lock:
            now = self.clock()
            grant.observed, grant.status = True, status
            if status is None:
                return  # unknown whether it was admitted: keep what was taken
            readings = read_headers(headers)
            if not readings:
                self._no_headers(grant, status)
                return
            self._headerless = 0
            if self._buckets is None:
                self._buckets = {dim: _Bucket(r.limit, now) for dim, r in readings.items()}
            for dim, reading in readings.items():
                self._correct(dim, reading, grant, now)
            if status == 429:
                self.rate_limited += 1
                self._give_back(grant, DIMENSIONS, now)
                wait = retry_after_seconds(headers)
                if wait is not None or headers.get("x-should-retry") != "false":  # false: waiting cannot help
                    self._paused_until = max(self._paused_until, now + (wait if wait is not None else DEFAULT_PAUSE_S))
            elif status >= 400:
                self._give_back(grant, ("input_tokens", "output_tokens"), now)  # refused after admission

    def _correct(self, dim: str, reading: HeaderReading, grant: Grant, now: float) -> None:
        bucket = self._buckets.get(dim) if self._buckets else None
        if bucket is None:
            return
        bucket.limit = reading.limit
        # Capacity, from below, two ways: the bucket held `remaining` plus this request's own take just
        # before the server admitted it; and it refills from `remaining` to full by `reset` (rounded up to
        # a second), counted from `now` so that it stays a lower bound whenever in [grant.at, now] the
        # server read it.
        refill_span = (reading.reset - 1.0 - now) if reading.reset is not None else 0.0
        if not 0.0 < refill_span <= 60.0:  # full already, or clocks that disagree: trust only `remaining`
            refill_span = 0.0
        floor = reading.remaining + max(self._own_take(dim, grant), refill_span * bucket.rate)
        bucket.capacity = max(bucket.capacity, min(float(reading.limit), floor))
        # The server's level now, from this reading and what happened since: no refill is counted for the
        # time since the reading (it may have been taken just before the reply), so this never exceeds
        # the truth by itself. Requests in flight blur it the other way (their refunds may be in the
        # reading already; later requests may have overtaken this one), so it only lowers the local level
        # when it is lower by more than they could explain.
        taken_since = bucket.taken - grant.taken_mark.get(dim, bucket.taken if grant.probe else 0.0)
        returned_since = bucket.returned - grant.returned_mark.get(dim, bucket.returned if grant.probe else 0.0)
        server_now = reading.remaining - taken_since + returned_since
        blur = sum(g.cost.of(dim) for g in self._in_flight.values() if g is not grant and not g.probe)
        bucket.refill(now)
        bucket.level = min(bucket.level, server_now + blur, bucket.capacity)

    @staticmethod
    def _own_take(dim: str, grant: Grant) -> float:
        """What the server took for this request itself (input: unknown until settled, so none)."""
        status = grant.status or 0
        if dim == "input_tokens" or status == 429:
            return 0.0
        if status >= 400:
            return float(grant.cost.requests) if dim == "requests" else 0.0  # tokens refunded on errors
        return float(grant.cost.of(dim))

    def _no_headers(self, grant: Grant, status: int) -> None:
        if 400 <= status < 500 and status != 429:
            self._give_back(grant, DIMENSIONS, self.clock())  # refused before admission
        if self._buckets is None:
            self._headerless += 1
            self._unlimited = self._headerless >= HEADERLESS_AFTER

    def settle(self, grant: Grant, *, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        """The request is over: correct input to what was charged, give back unused output."""
        with self._lock:
            if grant.done:
                return
            grant.done = True
            self._in_flight.pop(grant.seq, None)
            if self._buckets is None or grant.status == 429 or (grant.status or 0) >= 400:
                return
            now = self.clock()
            if output_tokens is not None:
                self._credit("output_tokens", grant.cost.output_tokens - output_tokens, now)
            if input_tokens is not None and not grant.probe:  # a probe's charge is already in the reading
                self._credit("input_tokens", grant.cost.input_tokens - input_tokens, now)

    def release(self, grant: Grant) -> None:
        """The request was never sent: give everything back."""
        with self._lock:
            if grant.done:
                return
            grant.done = True
            self._in_flight.pop(grant.seq, None)
            if not grant.probe and not grant.observed:
                self._give_back(grant, DIMENSIONS, self.clock())

    def _give_back(self, grant: Grant, dims: tuple[str, ...], now: float) -> None:
        if grant.probe:
            return  # nothing was taken locally
        for dim in dims:
            self._credit(dim, grant.cost.of(dim), now)

    def _credit(self, dim: str, amount: float, now: float) -> None:
        bucket = self._buckets.get(dim) if self._buckets else None
        if bucket is not None and amount:
            bucket.refill(now)
            bucket.give(amount)

    def pause_until(self, moment: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, moment)

    # -- what the page and the ETA need -------------------------------------------------------------

    def seed(self, limits: Mapping[str, int]) -> bool:
        """Start from the organisation's configured per-minute limits (Rate Limits API) instead of a probe.

        The burst each bucket allows is not configured anywhere, so it starts at a sixth of the minute
        (SEED_BURST_S); the first responses' headers raise it to what the API really allows. Returns
        False (and changes nothing) once headers were read, or when a dimension is missing."""
        with self._lock:
            if self._buckets is not None or not all(limits.get(d) for d in DIMENSIONS):
                return False
            now = self.clock()
            self._buckets = {}
            for dim in DIMENSIONS:
                bucket = _Bucket(int(limits[dim]), now)
                bucket.capacity = bucket.level = bucket.limit * SEED_BURST_S / 60.0
                self._buckets[dim] = bucket
            return True

    @property
    def known(self) -> bool:
        with self._lock:
            return self._buckets is not None

    def capacity(self, dimension: str) -> float | None:
        """The estimated capacity (burst size) of one bucket, or None while unknown."""
        with self._lock:
            bucket = self._buckets.get(dimension) if self._buckets else None
            return bucket.capacity if bucket else None

    def limits(self) -> dict[str, int]:
        """The per-minute limits the last responses reported."""
        with self._lock:
            return {dim: b.limit for dim, b in (self._buckets or {}).items()}

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def snapshot(self) -> dict[str, object]:
        """Per bucket: limit, level, capacity; plus paused seconds, in flight and 429s."""
        with self._lock:
            now = self.clock()
            buckets = {}
            for dim, b in (self._buckets or {}).items():
                b.refill(now)
                buckets[dim] = {"limit": b.limit, "level": round(b.level, 1), "capacity": round(b.capacity, 1)}
            return {"buckets": buckets, "paused_s": max(0.0, self._paused_until - now),
                    "in_flight": len(self._in_flight), "rate_limited": self.rate_limited, "admitted": self.admitted}


def sustained_rate(limits: Mapping[str, int], input_tokens: float, output_tokens: float) -> float | None:
    """Requests per second the limits sustain for requests of this average charge (None if unknown).

    Output counts what is really produced, not max_tokens: the reservation comes back at the end.
    """
    per_request = {"requests": 1.0, "input_tokens": max(input_tokens, 1.0), "output_tokens": max(output_tokens, 1.0)}
    rates = [limits[dim] / 60.0 / per_request[dim] for dim in DIMENSIONS if limits.get(dim)]
    return min(rates) if rates else None


def binding_dimension(limits: Mapping[str, int], input_tokens: float, output_tokens: float) -> str | None:
    """Which limit binds for requests of this average charge."""
    per_request = {"requests": 1.0, "input_tokens": max(input_tokens, 1.0), "output_tokens": max(output_tokens, 1.0)}
    rates = {dim: limits[dim] / 60.0 / per_request[dim] for dim in DIMENSIONS if limits.get(dim)}
    return min(rates, key=rates.get) if rates else None


def limits_from_headers(headers: Mapping[str, str] | None) -> dict[str, int]:
    """{dimension: per-minute limit} from a response's headers."""
    return {dim: r.limit for dim, r in read_headers(headers or {}).items()}


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    raw = raw.strip()
    return int(raw) if raw.isdigit() else None


def _epoch(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.strip()).timestamp()
    except ValueError:
        return None


CONFIGURED_LIMITERS = {"requests": "requests_per_minute", "input_tokens": "input_tokens_per_minute_cache_aware",
                       "output_tokens": "output_tokens_per_minute"}


def limits_from_configured(limits: Mapping[str, int]) -> dict[str, int]:
    """The limiter's dimensions from one Rate Limits API group's limiter values (missing ones left out)."""
    return {dim: int(limits[name]) for dim, name in CONFIGURED_LIMITERS.items() if limits.get(name)}
