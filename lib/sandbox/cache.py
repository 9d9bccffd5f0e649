"""Prompt cache: entries keyed by (API key, model, prefix hash) with a TTL on the simulator clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from .prompt import TTL_SECONDS, Prompt

LOOKBACK = 20  # the real API looks this many blocks back from a breakpoint for an earlier cached prefix


@dataclass
class CachePlan:
    """What a request would read and write; apply it with PromptCache.commit once the request is admitted."""

    read: int = 0
    write_5m: int = 0
    write_1h: int = 0
    uncached: int = 0
    hit: tuple[str, str, str] | None = None
    writes: list[tuple[tuple[str, str, str], float]] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.write_5m + self.write_1h


@dataclass
class _Entry:
    expires_at: float
    ttl_s: float


class PromptCache:
    """In-memory prompt cache. Not thread-safe on its own: the Simulator holds its lock around calls."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], _Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _alive(self, key: tuple[str, str, str], now: float) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return False
        if entry.expires_at <= now:
            del self._entries[key]
            return False
        return True

    def plan(self, key_hash: str, model: str, prompt: Prompt, min_tokens: int, now: float) -> CachePlan:
        """Work out reads and writes for `prompt` without changing the cache."""
        valid = [(i, ttl) for i, ttl in prompt.breakpoints if prompt.cumulative[i] >= min_tokens]
        if not valid:
            # A prefix shorter than the model's minimum is silently not cached.
            return CachePlan(uncached=prompt.total)
        hit_at = self._find_hit(key_hash, model, prompt, valid, now)
        plan = CachePlan(uncached=prompt.total - prompt.cumulative[valid[-1][0]])
        start = -1
        if hit_at is not None:
            plan.read = prompt.cumulative[hit_at]
            plan.hit = (key_hash, model, prompt.prefix_hashes[hit_at])
            start = hit_at
        for i, ttl in valid:
            if i <= start:
                continue
            tokens = prompt.cumulative[i] - (prompt.cumulative[start] if start >= 0 else 0)
            if ttl == "1h":
                plan.write_1h += tokens
            else:
                plan.write_5m += tokens
            plan.writes.append(((key_hash, model, prompt.prefix_hashes[i]), TTL_SECONDS[ttl]))
            start = i
        return plan

    def _find_hit(self, key_hash, model, prompt: Prompt, valid, now: float) -> int | None:
        for i, _ttl in reversed(valid):
            for pos in range(i, max(-1, i - LOOKBACK), -1):
                if self._alive((key_hash, model, prompt.prefix_hashes[pos]), now):
                    return pos
        return None

    def commit(self, plan: CachePlan, now: float) -> None:
        """Store the plan's writes and refresh the entry it read (a hit restarts its TTL)."""
        if plan.hit is not None and plan.hit in self._entries:
            entry = self._entries[plan.hit]
            entry.expires_at = now + entry.ttl_s
        for key, ttl_s in plan.writes:
            self._entries[key] = _Entry(now + ttl_s, ttl_s)
        if len(self._entries) > 50_000:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]
