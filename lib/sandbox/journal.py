"""The request journal and running stats (what the control plane reports). Keys are stored masked."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any


class Journal:
    """The last `limit` requests to the API routes, oldest first; entries are plain dicts."""

    def __init__(self, limit: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def resize(self, limit: int) -> None:
        self._entries = deque(self._entries, maxlen=limit)

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        self._entries.append(entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._entries]

    def clear(self) -> None:
        self._entries.clear()


class Stats:
    """Counters: requests by status and by path, 429s, decisions, and tokens by kind."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.by_status: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.decisions: Counter[str] = Counter()
        self.tokens: Counter[str] = Counter()
        self.batch_tokens: Counter[str] = Counter()
        self.streams = 0

    def record_status(self, path: str, status: int) -> None:
        self.by_status[str(status)] += 1
        self.by_path[path] += 1

    def record_usage(self, usage: dict[str, Any], *, batch: bool = False) -> None:
        target = self.batch_tokens if batch else self.tokens
        creation = usage.get("cache_creation") or {}
        target["input"] += usage.get("input_tokens", 0)
        target["output"] += usage.get("output_tokens", 0)
        target["cache_read"] += usage.get("cache_read_input_tokens", 0) or 0
        target["cache_write_5m"] += creation.get("ephemeral_5m_input_tokens", 0)
        target["cache_write_1h"] += creation.get("ephemeral_1h_input_tokens", 0)

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": sum(self.by_status.values()),
            "by_status": dict(self.by_status),
            "by_path": dict(self.by_path),
            "rate_limited": self.by_status.get("429", 0),
            "decisions": dict(self.decisions),
            "tokens": {
                k: self.tokens.get(k, 0)
                for k in ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")
            },
            "batch_tokens": dict(self.batch_tokens),
            "streams": self.streams,
        }
