"""Bulk enrichment: many notes at once, live (rate-limit aware) or through the Message Batches API.

    input       CSV/JSONL in, column mapping, bad rows with their reasons
    limiter     client-side rate limiting driven by the anthropic-ratelimit-* headers
    runner      the live runner: fair per-user queues, the limiter, its own retries
    batches     Message Batches: submit (split), poll, import by custom_id, resubmit
    jobs        the jobs tables (JobStore): every item's status, result or reason
    manager     JobManager: the process's live runner and batch jobs
    estimate    each mode's cost and time before starting
    python -m lib.bulk   the cron CLI
"""
