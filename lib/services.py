"""The composition root: the one place that wires Scribe's parts together, once per process.

`build(settings)` opens the database (with every package's migrations), decides the backend (the real
API with a key, else the sandbox, started here), and builds the gateway with its budget check, the
stores and, on first use, the bulk job manager. The app holds one `Services` per process (a thin
`st.cache_resource` in `app_pages/_shared/resources.py`); the CLI and the tests call `build` or
`open_database` themselves. Nothing else constructs a store or a gateway.

    app_pages ─> lib.work / lib.bulk ─> lib.crm, lib.usage, lib.claude, lib.auth ─> lib.core
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lib.bulk import migrations as bulk_migrations
from lib.core.db import Database, Migration
from lib.core.settings import Settings, load_settings
from lib.crm import migrations as crm_migrations
from lib.usage import migrations as usage_migrations
from lib.work import migrations as work_migrations

if TYPE_CHECKING:  # imported for real only when used: the CLI must not pay for what it does not need
    from lib.bulk.manager import JobManager
    from lib.claude.backend import Backend
    from lib.claude.gateway import ConfiguredLimit, Gateway
    from lib.crm.records import SaveRequest, SaveResult
    from lib.crm.store import CrmStore
    from lib.usage.budgets import BudgetGuard, BudgetStatus, BudgetStore
    from lib.usage.log import UsageLog
    from lib.usage.outcomes import OutcomeLog
    from lib.usage.queries import UsageQueries
    from lib.work.conversations import ConversationStore

MIGRATIONS: list[Migration] = (
    usage_migrations.MIGRATIONS + crm_migrations.MIGRATIONS + work_migrations.MIGRATIONS
    + bulk_migrations.MIGRATIONS
)


def open_database(path: Path | str) -> Database:
    """The database at `path`, with every package's tables migrated."""
    return Database(path, MIGRATIONS)


def start_local_sandbox(settings: Settings) -> str:
    """Start the sandbox in this process (real clock, demo timings) and return its base URL."""
    from lib.sandbox import SandboxConfig, Simulator  # only needed without a key

    config = SandboxConfig(ttft_ms=settings.scribe_sandbox_ttft_ms, tokens_per_s=settings.scribe_sandbox_tokens_per_s)
    return Simulator(config).start()


@dataclass
class Services:
    """Everything a page, the CLI or a job needs, built once. Ask it; never build a store yourself."""

    settings: Settings
    db: Database
    backend: Backend
    gateway: Gateway
    usage_log: UsageLog
    usage: UsageQueries
    budgets: BudgetStore
    budget_guard: BudgetGuard
    crm: CrmStore
    outcomes: OutcomeLog
    conversations: ConversationStore
    _jobs: JobManager | None = field(default=None, repr=False)
    _jobs_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def jobs(self, *, resume: bool = True) -> JobManager:
        """The process's bulk JobManager, made on first use (its worker threads outlive any session)."""
        with self._jobs_lock:
            if self._jobs is None:
                from lib.bulk.manager import JobManager

                self._jobs = JobManager(self.gateway, self.db, concurrency=self.settings.scribe_bulk_concurrency,
                                        resume=resume)
                self._seed_limiter(self._jobs)
            return self._jobs

    # -- CRM saves, with their outcomes reported to the usage side ---------------------------------------

    def save_review(self, request: SaveRequest) -> SaveResult:
        """Save what the rep accepted in one change set (see lib/work/saving.py)."""
        from lib.work import saving

        return saving.save_review(self.crm, self.outcomes, request)

    def undo_save(self, change_set_id: str, user: str) -> SaveResult:
        from lib.work import saving

        return saving.undo_save(self.crm, self.outcomes, change_set_id, user)

    def revert_change(self, history_id: int, user: str) -> SaveResult:
        from lib.work import saving

        return saving.revert_change(self.crm, self.outcomes, history_id, user)

    def budget_statuses(self, backend: str) -> list[BudgetStatus]:
        """Every budget with its spend so far on `backend`, read now (no cache)."""
        from lib.usage.budgets import BudgetGuard

        return BudgetGuard(self.db, backend=backend, settings=lambda: self.settings, ttl_s=0).statuses()

    def configured_limits(self, model: str | None = None) -> list[ConfiguredLimit]:
        """The organisation's configured rate limits (needs ANTHROPIC_ADMIN_KEY; [] without one)."""
        if self.settings.anthropic_admin_key is None:
            return []
        return self.gateway.configured_rate_limits(self.settings.anthropic_admin_key.get_secret_value(), model=model)

    def _seed_limiter(self, manager: JobManager) -> None:
        """With an admin key, the bulk limiter starts from the configured limits, not from a probe."""
        from lib.bulk.limiter import limits_from_configured
        from lib.core.errors import ScribeError

        try:
            groups = self.configured_limits(self.settings.model_for("batch"))
        except ScribeError:
            return  # no configured limits to be had: the limiter learns them from the headers, as without a key
        for group in groups:
            if manager.seed_limits(limits_from_configured(group.limits)):
                return

    def close(self) -> None:
        """Stop the job manager's threads and close the database (the CLI calls this before exit)."""
        if self._jobs is not None:
            self._jobs.shutdown()
        self.db.close()


def build(settings: Settings | None = None, *, db: Database | None = None, backend: Backend | None = None,
          seed: bool = True) -> Services:
    """Wire the whole app for `settings` (default: read now). Seeds the sample CRM once, if empty.

    `db` and `backend` may be handed in by a caller that keeps them longer than one Services (the app
    keeps one database per file and one sandbox per process, whatever settings change)."""
    from lib.claude.backend import resolve_backend
    from lib.claude.gateway import Gateway
    from lib.crm.builtin import BuiltinCrm
    from lib.usage.budgets import BudgetGuard
    from lib.usage.log import UsageLog
    from lib.usage.outcomes import OutcomeLog
    from lib.usage.queries import UsageQueries
    from lib.work.conversations import ConversationStore

    settings = settings or load_settings()
    db = db or open_database(settings.scribe_db)
    usage_log = UsageLog(db)
    usage_log.import_fallback()  # rows kept aside when a write failed last time
    backend = backend or resolve_backend(settings, start_sandbox=start_local_sandbox)
    guard = BudgetGuard(db, backend=backend.kind, settings=lambda: settings)  # budgets count this backend's spend
    gateway = Gateway(usage_log, api_key=backend.api_key, base_url=backend.base_url, backend=backend.kind,
                      max_retries=settings.scribe_max_retries, timeout_s=settings.scribe_timeout_s,
                      budget_check=guard)
    crm = BuiltinCrm(db)
    if seed:
        crm.seed_if_empty()
    return Services(settings=settings, db=db, backend=backend, gateway=gateway, usage_log=usage_log,
                    usage=UsageQueries(db), budgets=guard.store, budget_guard=guard, crm=crm, outcomes=OutcomeLog(db),
                    conversations=ConversationStore(db))
