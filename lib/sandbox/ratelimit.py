"""Token buckets per API key (requests, input tokens, output tokens) and the headers they produce."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .clock import rfc3339
from .config import SandboxConfig


class Bucket:
    """A continuously refilling token bucket: capacity = limit * burst_s / 60, refill = limit / 60 per s.

    `floor` is the smallest capacity the bucket may have whatever `burst_s` says: 1 for a requests bucket, so
    a burst shorter than one request's refill (`--rpm 5 --burst-s 1` would hold 1/12 of a request and refuse
    every request for ever, which the real API never does) is clamped to hold exactly one request, refilled
    at `limit` per minute. Token buckets keep their configured capacity: a request larger than it (max_tokens
    above the output bucket) gets the explicit never-fits 429, which a client answers by lowering max_tokens
    (the bulk runner does); with the default burst (60 s) that means max_tokens above the per-minute limit.
    """

    def __init__(self, limit_per_min: int, burst_s: float, now: float, floor: float = 0.0) -> None:
        self.limit = limit_per_min
        self.capacity = max(limit_per_min * burst_s / 60.0, floor)
        self.rate = limit_per_min / 60.0
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def wait_for(self, amount: float, now: float) -> float | None:
        """Seconds until `amount` fits (0 = now); None when it can never fit."""
        self.refill(now)
        if amount > self.capacity + 1e-9:
            return None
        if self.level >= amount - 1e-9:
            return 0.0
        return (amount - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)

    def full_at(self, now: float) -> float:
        self.refill(now)
        return now + (self.capacity - self.level) / self.rate

    def headers(self, name: str, now: float) -> dict[str, str]:
        prefix = f"anthropic-ratelimit-{name}"
        return {
            f"{prefix}-limit": str(self.limit),
            f"{prefix}-remaining": str(max(0, math.floor(self.level))),
            f"{prefix}-reset": rfc3339(math.ceil(self.full_at(now))),
        }


@dataclass
class KeyBuckets:
    """The three Messages buckets of one API key."""

    requests: Bucket
    input: Bucket
    output: Bucket


@dataclass
class Admission:
    """Outcome of asking the buckets for room: ok, or how long to wait, or never."""

    ok: bool
    retry_after: int | None = None
    never: str | None = None  # why the request can never fit
    blocked_by: list[str] = field(default_factory=list)


class RateLimiter:
    """All buckets, per hashed API key. Not thread-safe on its own: the Simulator locks around calls."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._keys: dict[str, KeyBuckets] = {}
        self._count: dict[str, Bucket] = {}

    def rebuild(self, config: SandboxConfig) -> None:
        """Start over with fresh (full) buckets for new limits."""
        self.config = config
        self._keys.clear()
        self._count.clear()

    def buckets(self, key: str, now: float) -> KeyBuckets:
        if key not in self._keys:
            c = self.config
            self._keys[key] = KeyBuckets(
                Bucket(c.rpm, c.burst_s, now, floor=1.0), Bucket(c.itpm, c.burst_s, now), Bucket(c.otpm, c.burst_s, now)
            )
        return self._keys[key]

    def admit(self, key: str, input_charge: int, max_tokens: int, now: float) -> Admission:
        """Take 1 request, the input charge and a max_tokens reservation if all three fit; else say when."""
        b = self.buckets(key, now)
        needs = (
            ("requests", b.requests, 1),
            ("input-tokens", b.input, input_charge),
            ("output-tokens", b.output, max_tokens),
        )
        waits: dict[str, float] = {}
        for name, bucket, amount in needs:
            wait = bucket.wait_for(amount, now)
            if wait is None:
                return Admission(False, never=_never_message(name, amount, bucket), blocked_by=[name])
            if wait > 0:
                waits[name] = wait
        if waits:
            return Admission(
                False, retry_after=max(1, math.ceil(max(waits.values()))), blocked_by=sorted(waits)
            )
        for _name, bucket, amount in needs:
            bucket.take(amount)
        return Admission(True)

    def refund_output(self, key: str, amount: int, now: float) -> None:
        """Give back the unused part of a max_tokens reservation."""
        b = self.buckets(key, now)
        b.output.refill(now)
        b.output.give(max(0, amount))

    def refund_input(self, key: str, amount: int, now: float) -> None:
        b = self.buckets(key, now)
        b.input.refill(now)
        b.input.give(max(0, amount))

    def headers(self, key: str, now: float) -> dict[str, str]:
        """anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-{limit,remaining,reset}."""
        b = self.buckets(key, now)
        out = b.requests.headers("requests", now)
        out.update(b.input.headers("input-tokens", now))
        out.update(b.output.headers("output-tokens", now))
        tightest = min((b.output, b.input), key=lambda x: x.level / x.capacity)
        out.update(tightest.headers("tokens", now))
        return out

    def admit_count_tokens(self, key: str, now: float) -> Admission:
        bucket = self._count.setdefault(key, Bucket(self.config.count_tokens_rpm, self.config.burst_s, now, floor=1.0))
        wait = bucket.wait_for(1, now)
        if wait is None:
            return Admission(False, never=_never_message("requests", 1, bucket), blocked_by=["requests"])
        if wait > 0:
            return Admission(False, retry_after=max(1, math.ceil(wait)), blocked_by=["requests"])
        bucket.take(1)
        return Admission(True)

    def count_tokens_headers(self, key: str, now: float) -> dict[str, str]:
        bucket = self._count.setdefault(key, Bucket(self.config.count_tokens_rpm, self.config.burst_s, now, floor=1.0))
        return bucket.headers("requests", now)


def _never_message(name: str, amount: float, bucket: Bucket) -> str:
    what = {"requests": "requests", "input-tokens": "input tokens", "output-tokens": "output tokens"}[name]
    hint = " Lower max_tokens." if name == "output-tokens" else ""
    return (
        f"This request needs {int(amount)} {what} but your {what}-per-minute bucket holds at most "
        f"{int(bucket.capacity)} (limit {bucket.limit}/min); it can never be admitted.{hint}"
    )
