"""Bulk enrichment jobs: many notes at once, live (rate-limit aware) or through the Message Batches API.

    lib.jobs.store      the jobs tables (MIGRATIONS, JobStore): every item's status, result or reason
    lib.jobs.manager    JobManager: the process's live runner and batch jobs (held by st.cache_resource)
    lib.jobs.estimate   each mode's cost and time before starting
    python -m lib.jobs  the cron CLI: `enrich NOTES.csv --mode live|batch [--out proposals.jsonl]`

Only the store is imported here: lib.db imports this package for its migrations.
"""

from lib.jobs.store import MIGRATIONS, JobInfo, JobStore

__all__ = ["MIGRATIONS", "JobInfo", "JobStore"]
