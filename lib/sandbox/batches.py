"""Message Batches kept in memory; state moves lazily (on retrieve/list/results) on the simulator clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import rfc3339
from .errors import ApiError, invalid

DAY_S = 24 * 3600.0
CANCEL_DELAY_S = 1.0  # canceling -> ended this long after cancel() (sim clock)
CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# runner(params, anthropic_version) -> the `result` object of one JSONL line
Runner = Callable[[Any, str], dict[str, Any]]


@dataclass
class Batch:
    """One batch and, once ended, its results."""

    id: str
    created: float
    ends: float
    requests: list[dict[str, Any]]
    version: str = "2026-10-21"
    status: str = "in_progress"
    cancel_at: float | None = None
    ended_at: float | None = None
    results: list[dict[str, Any]] | None = None
    counts: dict[str, int] = field(default_factory=dict)


class BatchStore:
    """All batches of one simulator. Not thread-safe on its own: the Simulator locks around calls."""

    def __init__(self) -> None:
        self._batches: dict[str, Batch] = {}

    def clear(self) -> None:
        self._batches.clear()

    def __len__(self) -> int:
        return len(self._batches)

    def create(
        self, body: Any, batch_id: str, now: float, delay_s: float, max_requests: int, version: str
    ) -> Batch:
        requests = _check_requests(body, max_requests)
        batch = Batch(batch_id, now, now + delay_s, requests, version)
        batch.counts = {
            "processing": len(requests),
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        }
        self._batches[batch_id] = batch
        return batch

    def get(self, batch_id: str, now: float, run: Runner) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"message_batch: {batch_id} not found")
        self._advance(batch, now, run)
        return batch

    def _advance(self, batch: Batch, now: float, run: Runner) -> None:
        if (
            batch.status == "canceling"
            and batch.cancel_at is not None
            and now >= batch.cancel_at + CANCEL_DELAY_S
        ):
            self._end(batch, batch.cancel_at + CANCEL_DELAY_S, [{"type": "canceled"} for _ in batch.requests])
        elif (
            batch.status == "in_progress"
            and now >= batch.created + DAY_S
            and batch.ends > batch.created + DAY_S
        ):
            self._end(batch, batch.created + DAY_S, [{"type": "expired"} for _ in batch.requests])
        elif batch.status == "in_progress" and now >= batch.ends:
            results = [run(r["params"], batch.version) for r in batch.requests]
            self._end(batch, batch.ends, results)

    def _end(self, batch: Batch, at: float, results: list[dict[str, Any]]) -> None:
        batch.status, batch.ended_at = "ended", at
        batch.results = [
            {"custom_id": r["custom_id"], "result": res}
            for r, res in zip(batch.requests, results, strict=True)
        ]
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for res in results:
            counts[res["type"]] += 1
        batch.counts = counts

    def list(
        self, limit: int, after_id: str | None, before_id: str | None, now: float, run: Runner
    ) -> tuple[list[Batch], bool]:
        """A page of batches, newest first, and whether more exist in that direction."""
        ordered = sorted(self._batches.values(), key=lambda b: (b.created, b.id), reverse=True)
        for b in ordered:
            self._advance(b, now, run)
        page, has_more = paginate([b.id for b in ordered], limit, after_id, before_id)
        return [self._batches[i] for i in page], has_more

    def cancel(self, batch_id: str, now: float, run: Runner) -> Batch:
        batch = self.get(batch_id, now, run)
        if batch.status == "in_progress":
            batch.status, batch.cancel_at = "canceling", now
        elif batch.status == "ended":
            raise invalid(f"Batch {batch_id} has already ended and cannot be canceled")
        return batch

    def delete(self, batch_id: str, now: float, run: Runner) -> None:
        batch = self.get(batch_id, now, run)
        if batch.status != "ended":
            raise invalid(
                f"Batch {batch_id} is still {batch.status}; cancel it and wait until it has ended to delete it"
            )
        del self._batches[batch_id]

    def results(self, batch_id: str, now: float, run: Runner) -> list[dict[str, Any]]:
        batch = self.get(batch_id, now, run)
        if batch.results is None:
            raise invalid(
                f"Batch {batch_id} has not ended yet; results are available once processing_status is 'ended'"
            )
        return batch.results


def paginate(
    ids: list[str], limit: int, after_id: str | None, before_id: str | None
) -> tuple[list[str], bool]:
    """One page of `ids` (already in list order) with the real API's after_id/before_id cursors."""
    if after_id is not None:
        start = ids.index(after_id) + 1 if after_id in ids else len(ids)
        return ids[start : start + limit], start + limit < len(ids)
    if before_id is not None:
        end = ids.index(before_id) if before_id in ids else 0
        return ids[max(0, end - limit) : end], end - limit > 0
    return ids[:limit], limit < len(ids)


def batch_json(batch: Batch, base_url: str) -> dict[str, Any]:
    """The MessageBatch object; results_url is absolute, on the server the client talked to."""
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": batch.status,
        "request_counts": dict(batch.counts),
        "created_at": rfc3339(batch.created),
        "expires_at": rfc3339(batch.created + DAY_S),
        "ended_at": rfc3339(batch.ended_at) if batch.ended_at is not None else None,
        "cancel_initiated_at": rfc3339(batch.cancel_at) if batch.cancel_at is not None else None,
        "archived_at": None,
        "results_url": f"{base_url.rstrip('/')}/v1/messages/batches/{batch.id}/results"
        if batch.status == "ended"
        else None,
    }


def _check_requests(body: Any, max_requests: int) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or "requests" not in body:
        raise invalid("requests: Field required")
    requests = body["requests"]
    if not isinstance(requests, list) or not requests:
        raise invalid("requests: List should have at least 1 item")
    if len(requests) > max_requests:
        raise invalid(f"requests: a batch may contain at most {max_requests} requests; got {len(requests)}")
    seen: set[str] = set()
    for i, item in enumerate(requests):
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            raise invalid(f"requests.{i}.custom_id: Field required")
        if not CUSTOM_ID_RE.match(item["custom_id"]):
            raise invalid(f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if item["custom_id"] in seen:
            raise invalid(f"requests.{i}.custom_id: custom_id values must be unique within a batch")
        seen.add(item["custom_id"])
        if "params" not in item:
            raise invalid(f"requests.{i}.params: Field required")
    return [{"custom_id": r["custom_id"], "params": r["params"]} for r in requests]
