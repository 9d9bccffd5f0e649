"""Message Batches for bulk enrichment: submit, poll, import by custom_id, resubmit what failed.

Half price, results within 24 hours (usually under 1). A job's queued items go out as one batch or
several (under 100,000 requests and 256 MB each); each request's params are exactly the live
extraction request (model, max_tokens, system, messages, output_config). When a batch has ended its
results are imported by custom_id (`<job_id>-<item_no>`, order not guaranteed): a succeeded result is
logged in the usage log (service tier batch, the batch id, cost at half price) and validated with
pydantic; an invalid one is reported and not kept. Errored, expired and canceled items (and any the
results leave out) fail with their reason and can be resubmitted as a new batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pydantic

from lib.bulk.input import extraction_params
from lib.bulk.jobs import JobStore, custom_id, parse_custom_id
from lib.claude.gateway import BatchInfo, BatchResultLine, Gateway
from lib.work.schemas import Extraction

MAX_REQUESTS = 100_000
MAX_BYTES = 256_000_000
SAFETY = 0.95  # leave room for the request envelope the SDK adds around the items
RESUBMITTABLE = ("errored", "expired", "canceled", "invalid", "missing")


@dataclass
class ImportSummary:
    """What one batch's results did to its items."""

    batch_id: str
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # kind -> count
    unknown: list[str] = field(default_factory=list)  # custom_ids that are not this job's
    skipped: int = 0  # already imported

    def count(self, kind: str) -> None:
        self.failed[kind] = self.failed.get(kind, 0) + 1


def split(requests: list[dict], *, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES) -> list[list[dict]]:
    """Consecutive chunks, each under the request-count and byte limits."""
    budget = int(max_bytes * SAFETY)
    chunks: list[list[dict]] = [[]]
    size = 0
    for request in requests:
        n = len(json.dumps(request, separators=(",", ":")).encode("utf-8")) + 1
        if n > budget:
            raise ValueError(f"request {request.get('custom_id')} alone is {n:,} bytes, over the batch limit")
        if chunks[-1] and (len(chunks[-1]) >= max_requests or size + n > budget):
            chunks.append([])
            size = 0
        chunks[-1].append(request)
        size += n
    return [c for c in chunks if c]


def submit(gateway: Gateway, store: JobStore, job_id: str, *, max_requests: int = MAX_REQUESTS,
           max_bytes: int = MAX_BYTES) -> list[BatchInfo]:
    """Send the job's queued items as batches; they become `submitted`."""
    job = store.job(job_id)
    if job is None:
        raise KeyError(job_id)
    pending = store.pending(job_id, ("queued",))
    requests = [{"custom_id": custom_id(job_id, p.item_no),
                 "params": extraction_params(p.note, p.note_date, model=job.model, max_tokens=job.max_tokens)}
                for p in pending]
    sent = []
    for chunk in split(requests, max_requests=max_requests, max_bytes=max_bytes):
        info = gateway.create_batch(chunk, user=job.user, model=job.model)
        store.add_batch(job_id, info.id, len(chunk), info.processing_status)
        numbers = [n for _, n in (parse_custom_id(r["custom_id"]) for r in chunk)]
        store.mark_many(job_id, numbers, "submitted", batch_id=info.id)
        sent.append(info)
    if sent:
        store.set_status(job_id, "submitted")
    return sent


def refresh(gateway: Gateway, store: JobStore, job_id: str) -> list[BatchInfo]:
    """Ask the API about every batch not yet imported; import those that have ended."""
    infos = []
    for row in store.batches(job_id).itertuples():
        if not _missing(row.imported_at):
            continue
        info = gateway.retrieve_batch(row.batch_id)
        store.update_batch(info.id, info.processing_status, info.request_counts,
                           ended=info.processing_status == "ended")
        if info.processing_status == "ended":
            import_results(gateway, store, job_id, info.id)
        infos.append(info)
    _maybe_done(store, job_id)
    return infos


def import_results(gateway: Gateway, store: JobStore, job_id: str, batch_id: str) -> ImportSummary:
    """Match an ended batch's results to the job's items by custom_id (idempotent: imported items stay)."""
    job = store.job(job_id)
    if job is None:
        raise KeyError(job_id)
    waiting = set(store.items_with(job_id, status="submitted", batch_id=batch_id))
    summary = ImportSummary(batch_id)
    for line in gateway.batch_results(batch_id):
        key = parse_custom_id(line.custom_id)
        if key is None or key[0] != job_id:
            summary.unknown.append(line.custom_id)
            continue
        if key[1] not in waiting:
            summary.skipped += 1
            continue
        waiting.discard(key[1])
        _import_line(gateway, store, job, key[1], line, summary)
    for item_no in sorted(waiting):  # the results left it out
        store.mark(job_id, item_no, "failed", error="The batch returned no result for this note.", kind="missing")
        summary.count("missing")
    store.mark_imported(batch_id)
    return summary


def _import_line(gateway: Gateway, store: JobStore, job, item_no: int, line: BatchResultLine,  # noqa: ANN001
                 summary: ImportSummary) -> None:
    if line.type != "succeeded":
        reason = {"errored": f"Errored in the batch: {line.error_type or 'error'}: {line.error_message or ''}".strip(),
                  "expired": "Expired: the batch did not reach this note within 24 hours.",
                  "canceled": "Canceled with the batch."}.get(line.type, f"Batch result: {line.type}")
        store.mark(job.id, item_no, "failed", error=reason, kind=line.type if line.type in RESUBMITTABLE else "other")
        summary.count(line.type)
        return
    result = gateway.log_batch_result(line, batch_id=summary.batch_id, user=job.user, model=job.model)
    try:
        extraction = Extraction.model_validate_json(line.text)
    except pydantic.ValidationError as exc:
        store.add_spend(job.id, item_no, result.record)
        store.mark(job.id, item_no, "failed", kind="invalid",
                   error=f"The reply did not match the expected fields ({exc.error_count()} problem(s)); not kept.")
        summary.count("invalid")
        return
    if not extraction.people:
        store.add_spend(job.id, item_no, result.record)
        store.mark(job.id, item_no, "failed", error="Claude found no people in this note.", kind="no_people")
        summary.count("no_people")
        return
    store.succeed(job.id, item_no, extraction, result, attempts=1)
    summary.succeeded += 1


def resubmittable(store: JobStore, job_id: str) -> list[int]:
    """Failed items a new batch may fix: errored, expired, canceled, invalid or missing."""
    return store.items_with(job_id, status="failed", kinds=RESUBMITTABLE)


def resubmit(gateway: Gateway, store: JobStore, job_id: str, **limits: int) -> list[BatchInfo]:
    """Queue the resubmittable items again and send them as new batch(es)."""
    numbers = resubmittable(store, job_id)
    if not numbers:
        return []
    store.mark_many(job_id, numbers, "queued", only_unfinished=False)
    return submit(gateway, store, job_id, **limits)


def cancel(gateway: Gateway, store: JobStore, job_id: str) -> list[BatchInfo]:
    """Ask the API to cancel the job's batches that are still running (their items end canceled)."""
    infos = []
    for row in store.batches(job_id).itertuples():
        if row.processing_status == "in_progress":
            info = gateway.cancel_batch(row.batch_id)
            store.update_batch(info.id, info.processing_status, info.request_counts)
            infos.append(info)
    return infos


def _maybe_done(store: JobStore, job_id: str) -> None:
    job = store.job(job_id)
    if job is not None and job.active and not job.counts.get("submitted") and not job.counts.get("queued"):
        store.set_status(job_id, "canceled" if job.status == "canceling" else "done", finished=True)


def _missing(value: object) -> bool:
    """pandas NaT/None for a timestamp column."""
    return value is None or str(value) in ("NaT", "None", "nan")


def status_table(store: JobStore, job_id: str) -> list[dict[str, object]]:
    """The job's batches for display: id, notes, status and the counts the API last gave."""
    rows = []
    for row in store.batches(job_id).itertuples():
        counts = json.loads(row.counts_json) if isinstance(row.counts_json, str) else {}
        rows.append({"batch": row.batch_id, "notes": int(row.requests), "status": row.processing_status,
                     **{k: int(counts.get(k, 0)) for k in ("processing", "succeeded", "errored", "expired", "canceled")},
                     "imported": "yes" if not _missing(row.imported_at) else "no"})
    return rows
