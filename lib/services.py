"""The composition root: the one place that wires Scribe's parts together, once per process.

`build(settings)` opens the database (with every package's migrations), decides the backend (the real
API with a key, else the sandbox, started here), and builds the gateway with its budget check, the
stores and, on first use, the bulk job manager. The app holds one `Services` per process (a thin
`st.cache_resource` in `app_pages/_shared/resources.py`); the CLI and the tests call `build` or
`open_database` themselves. Nothing else constructs a store or a gateway.

    app_pages ─> lib.work / lib.bulk ─> lib.crm, lib.usage, lib.claude, lib.auth ─> lib.core

Who may do what is checked here, on the caller's `Identity` (lib/auth), for everything that reads or
writes per-user data or the team's settings: conversations, jobs, usage, budgets, contacts import,
cost reconciliation, undo of other people's CRM saves. lib.usage ranks beside lib.auth and cannot
import it, so its checks live in these methods; the pages call these, not the raw stores.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from lib.auth import Forbidden, Identity, Permission, RoleRules, require, require_owner_or, visible_users
from lib.bulk import migrations as bulk_migrations
from lib.core.settings import Settings, load_settings
from lib.crm import migrations as crm_migrations
from lib.usage import migrations as usage_migrations
from lib.work import migrations as work_migrations

if TYPE_CHECKING:  # imported for real only when used: the CLI must not pay for what it does not need
    from concurrent.futures import Future
    from datetime import datetime

    import pandas as pd

    from lib.bulk.jobs import JobInfo
    from lib.bulk.manager import JobManager
    from lib.claude.backend import Backend
    from lib.claude.gateway import ConfiguredLimit, Gateway
    from lib.core.db import Database, Migration
    from lib.crm.fields import FieldCatalogue
    from lib.crm.hubspot.store import HubSpotCrm
    from lib.crm.records import SaveRequest, SaveResult
    from lib.crm.store import CrmStore
    from lib.usage.budgets import Budget, BudgetGuard, BudgetStatus, BudgetStore
    from lib.usage.log import UsageLog
    from lib.usage.outcomes import OutcomeLog
    from lib.usage.queries import Options, UsageFilter, UsageQueries
    from lib.work.conversations import Conversation, ConversationStore
    from lib.work.work_store import WorkStore

MIGRATIONS: list[Migration] = (
    usage_migrations.MIGRATIONS + crm_migrations.MIGRATIONS + work_migrations.MIGRATIONS
    + bulk_migrations.MIGRATIONS
)
# The Postgres forms of the migrations whose DuckDB SQL Postgres does not take (by migration name).
POSTGRES_FORMS: dict[str, str] = {**usage_migrations.POSTGRES}
POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def _empty_catalogue() -> FieldCatalogue:
    from lib.crm.fields import EMPTY

    return EMPTY


def build_crm(settings: Settings, db: Database, catalogue: FieldCatalogue) -> CrmStore:
    """HubSpot (through the official client) when HUBSPOT_ACCESS_TOKEN is set, else the built-in CRM."""
    if settings.hubspot_access_token is None:
        from lib.crm.builtin import BuiltinCrm

        return BuiltinCrm(db, catalogue)
    from lib.crm.hubspot import connect
    from lib.crm.hubspot.store import HubSpotCrm

    hs = connect(settings.hubspot_access_token.get_secret_value(), settings.hubspot_base_url)
    return HubSpotCrm(db, hs, catalogue)


def open_database(target: Path | str, *, local_path: Path | None = None) -> Database:
    """The database at `target` (a DuckDB file, or a postgresql:// URL), with every package's tables migrated.

    On Postgres, `local_path` names this machine's side files (the usage log's fallback file is kept
    beside it); by default beside SCRIBE_DB."""
    # The driver loads here, not at import: the app's first page is drawn without it.
    from lib.core.db import Database, for_dialect

    if str(target).startswith(POSTGRES_PREFIXES):
        from lib.core.postgres import PostgresDatabase

        side = local_path or _postgres_side_path(load_settings().scribe_db)
        return PostgresDatabase(str(target), for_dialect(MIGRATIONS, POSTGRES_FORMS, "postgres"), path=side)
    return Database(target, MIGRATIONS)


def database_target(settings: Settings) -> str:
    """Where the settings put all state: SCRIBE_DATABASE_URL (Postgres) if set, else the DuckDB file SCRIBE_DB.
    Holds the URL's password: pass it to `open_database`, never show it."""
    if settings.scribe_database_url is not None:
        return settings.scribe_database_url.get_secret_value()
    return str(settings.scribe_db)


def open_configured_database(settings: Settings) -> Database:
    """The database the settings name (see `database_target`), migrated."""
    return open_database(database_target(settings), local_path=_postgres_side_path(settings.scribe_db))


def _postgres_side_path(duckdb_path: Path) -> Path:
    """Side files of a Postgres deployment live beside SCRIBE_DB, under their own name."""
    return duckdb_path.with_name(duckdb_path.stem + "-postgres")


def work_store(db: Database) -> WorkStore:
    """The kept-work store on `db`. The app asks it before its Services are built: its first page puts a
    pasted note back without waiting for the SDK."""
    from lib.work.work_store import WorkStore

    return WorkStore(db)


def open_in_background(settings: Settings) -> Future[dict[str, object]]:
    """Open the database and decide the backend in a thread; `.result()` gives `build`'s db= and backend=
    (or raises what opening raised). The bulk CLI imports the SDK meanwhile: DuckDB's work and the sandbox
    probe wait on C code and the network, so the two overlap instead of adding up."""
    from concurrent.futures import ThreadPoolExecutor

    def open_parts() -> dict[str, object]:
        from lib.claude.backend import resolve_backend

        return {"db": open_configured_database(settings),
                "backend": resolve_backend(settings, start_sandbox=start_local_sandbox)}

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-open")
    future = pool.submit(open_parts)
    pool.shutdown(wait=False)
    return future


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
    budgets: BudgetStore
    budget_guard: BudgetGuard
    rules: RoleRules = field(default_factory=RoleRules)
    catalogue: FieldCatalogue = field(default_factory=lambda: _empty_catalogue())
    _jobs: JobManager | None = field(default=None, repr=False)
    _jobs_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _crm: CrmStore | None = field(default=None, repr=False)
    _parts_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # The stores below are made on first use: the bulk CLI needs none of them, nor the pandas they import.

    @property
    def crm(self) -> CrmStore:
        with self._parts_lock:
            if self._crm is None:
                self._crm = build_crm(self.settings, self.db, self.catalogue)
            return self._crm

    @functools.cached_property
    def usage(self) -> UsageQueries:
        from lib.usage.queries import UsageQueries

        return UsageQueries(self.db)

    @functools.cached_property
    def outcomes(self) -> OutcomeLog:
        from lib.usage.outcomes import OutcomeLog

        return OutcomeLog(self.db)

    @functools.cached_property
    def conversations(self) -> ConversationStore:
        from lib.work.conversations import ConversationStore

        return ConversationStore(self.db)

    @functools.cached_property
    def work_in_progress(self) -> WorkStore:
        """Each user's unfinished work (pasted notes, a review not yet saved, a draft), kept across reloads."""
        return work_store(self.db)

    def jobs(self) -> JobManager:
        """The process's bulk JobManager, made on first use (its worker threads outlive any session). Jobs
        another process left unfinished are marked interrupted then, and wait for someone to resume them."""
        with self._jobs_lock:
            if self._jobs is None:
                from lib.bulk.manager import JobManager

                self._jobs = JobManager(self.gateway, self.db, concurrency=self.settings.scribe_bulk_concurrency)
                self._seed_limiter(self._jobs)
            return self._jobs

    # -- CRM saves, with their outcomes reported to the usage side ---------------------------------------

    def save_review(self, request: SaveRequest) -> SaveResult:
        """Save what the rep accepted in one change set (see lib/work/saving.py). `request.user` is the
        caller's identity.user: it becomes approved_by."""
        from lib.work import saving

        return saving.save_review(self.crm, self.outcomes, request)

    def undo_save(self, change_set_id: str, identity: Identity) -> SaveResult:
        """Undo a whole save: the caller's own, or anyone's with REVERT_ANY_CHANGE."""
        from lib.work import saving

        for change in self.crm.history(change_set_id):
            require_owner_or(identity, change.approved_by, Permission.REVERT_ANY_CHANGE, what="change")
        return saving.undo_save(self.crm, self.outcomes, change_set_id, identity.user)

    def revert_change(self, history_id: int, identity: Identity) -> SaveResult:
        """Revert one field change: the caller's own, or anyone's with REVERT_ANY_CHANGE."""
        from lib.work import saving

        change = self.crm.change(history_id)
        if change is not None:
            require_owner_or(identity, change.approved_by, Permission.REVERT_ANY_CHANGE, what="change")
        return saving.revert_change(self.crm, self.outcomes, history_id, identity.user)

    @property
    def hubspot(self) -> HubSpotCrm | None:
        """The HubSpot-backed store when HubSpot is the system of record (its pipeline mapping, sync)."""
        from lib.crm.hubspot.store import HubSpotCrm

        return self.crm if isinstance(self.crm, HubSpotCrm) else None

    def set_stage_mapping(self, identity: Identity, pipeline_id: str, mapping: dict[str, str | None]) -> None:
        """HubSpot: which pipeline Scribe writes deals to, and its stage for each of Scribe's (CHANGE_SETTINGS)."""
        require(identity, Permission.CHANGE_SETTINGS)
        if self.hubspot is None:
            raise Forbidden("The stage mapping is a HubSpot setting; HubSpot is not configured.")
        self.hubspot.set_stage_mapping(pipeline_id, mapping)

    def import_contacts(self, rows: list[dict], identity: Identity) -> SaveResult:
        require(identity, Permission.IMPORT_CONTACTS)
        return self.crm.import_contacts(rows, identity.user)

    # -- conversations: a rep's own; managers read everyone's, admins also continue or delete them --------

    def conversation_list(self, identity: Identity, limit: int = 50) -> pd.DataFrame:
        """The conversations the caller may open, newest first (a rep: only theirs)."""
        scope = visible_users(identity, Permission.READ_ALL_CONVERSATIONS)
        frame = self.conversations.list(user=None if scope.everyone else identity.user, limit=limit)
        return frame

    def open_conversation(self, identity: Identity, conv_id: str) -> Conversation:
        """A stored conversation, if the caller may read it; Forbidden otherwise (also for an unknown id,
        with the same message, so ids cannot be probed)."""
        conv = self.conversations.load(conv_id)
        require_owner_or(identity, conv.user if conv else None, Permission.READ_ALL_CONVERSATIONS,
                         what="conversation")
        if conv is None:  # only reachable with READ_ALL_CONVERSATIONS
            raise Forbidden("There is no such conversation.")
        return conv

    def may_continue(self, identity: Identity, conv: Conversation) -> bool:
        """Whether the caller may add turns to (or delete) this conversation."""
        from lib.auth import can_owner_or

        return can_owner_or(identity, conv.user, Permission.MANAGE_ALL_CONVERSATIONS)

    def check_continue(self, identity: Identity, conv: Conversation) -> None:
        require_owner_or(identity, conv.user, Permission.MANAGE_ALL_CONVERSATIONS, what="conversation")

    # -- bulk jobs: a rep's own; managers see everyone's, admins also cancel, resume or retry them ---------

    def job_list(self, identity: Identity, limit: int = 10) -> list[JobInfo]:
        scope = visible_users(identity, Permission.READ_ALL_JOBS)
        return self.jobs().jobs(user=None if scope.everyone else identity.user, limit=limit)

    def job_for(self, identity: Identity, job_id: str, *, manage: bool = False) -> JobInfo:
        """A job the caller may see (manage=False) or cancel / retry (manage=True); Forbidden otherwise."""
        job = self.jobs().job(job_id)
        permission = Permission.MANAGE_ALL_JOBS if manage else Permission.READ_ALL_JOBS
        require_owner_or(identity, job.user if job else None, permission, what="job")
        if job is None:
            raise Forbidden("There is no such job.")
        return job

    def cancel_job(self, identity: Identity, job_id: str) -> None:
        self.job_for(identity, job_id, manage=True)
        self.jobs().cancel(job_id)

    def retry_job(self, identity: Identity, job_id: str) -> int:
        self.job_for(identity, job_id, manage=True)
        return self.jobs().retry_failed(job_id)

    def resume_job(self, identity: Identity, job_id: str) -> int:
        """Send an interrupted job's unfinished items; returns how many."""
        self.job_for(identity, job_id, manage=True)
        return self.jobs().resume_job(job_id)

    # -- usage: a rep sees only their own calls ---------------------------------------------------------

    def usage_filter(self, identity: Identity, f: UsageFilter) -> UsageFilter:
        """`f` as the caller may run it: unchanged for the team's view, else limited to their own rows."""
        from dataclasses import replace

        scope = visible_users(identity, Permission.READ_TEAM_USAGE)
        return f if scope.everyone else replace(f, users=(identity.user,))

    def usage_options(self, identity: Identity, backend: str | None) -> Options:
        from dataclasses import replace

        options = self.usage.options(backend)
        scope = visible_users(identity, Permission.READ_TEAM_USAGE)
        return options if scope.everyone else replace(options, users=[u for u in options.users if scope.allows(u)])

    def usage_export(self, identity: Identity, f: UsageFilter) -> bytes:
        return self.usage.export_csv(self.usage_filter(identity, f))

    def spend_today(self, identity: Identity, backend: str | None) -> tuple[Decimal, bool]:
        """Known spend today (UTC) on `backend`: the team's when the caller may see it, else their own.
        Returns (amount, is_team)."""
        from datetime import UTC, datetime, timedelta

        scope = visible_users(identity, Permission.READ_TEAM_USAGE)
        if scope.everyone:
            return self.usage_log.spend_today(backend=backend), True
        start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return self.usage_log.spend_between(start, start + timedelta(days=1), backend=backend,
                                            user=identity.user), False

    # -- budgets, reconciliation ------------------------------------------------------------------------

    def budget_statuses(self, backend: str, identity: Identity) -> list[BudgetStatus]:
        """Every budget with its spend so far on `backend`, read now (no cache). Needs VIEW_BUDGETS."""
        from lib.usage.budgets import BudgetGuard

        require(identity, Permission.VIEW_BUDGETS)
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

    def budget_list(self, identity: Identity) -> list[Budget]:
        require(identity, Permission.VIEW_BUDGETS)
        return self.budgets.list()

    def set_budget(self, identity: Identity, scope: str, subject: str, period: str, limit_usd: Decimal, *,
                   policy: str | None = None) -> Budget:
        """Set a budget amount (SET_BUDGETS); choosing its policy, rather than the default, needs
        SET_BUDGET_POLICY. Records who set it."""
        require(identity, Permission.SET_BUDGETS)
        if policy is not None:
            require(identity, Permission.SET_BUDGET_POLICY)
        budget = self.budgets.set(scope, subject, period, limit_usd, policy=policy, user=identity.user)
        self.budget_guard.invalidate()
        return budget

    def delete_budget(self, identity: Identity, scope: str, subject: str, period: str) -> None:
        require(identity, Permission.SET_BUDGETS)
        self.budgets.delete(scope, subject, period)
        self.budget_guard.invalidate()

    def cost_report(self, identity: Identity, *, starting_at: datetime, ending_at: datetime) -> list[dict]:
        """Anthropic's cost report, for reconciliation (RECONCILE_COSTS; needs ANTHROPIC_ADMIN_KEY)."""
        require(identity, Permission.RECONCILE_COSTS)
        key = self.settings.anthropic_admin_key
        if key is None:
            raise Forbidden("No admin key is set (ANTHROPIC_ADMIN_KEY).")
        return self.gateway.cost_report(key.get_secret_value(), starting_at=starting_at, ending_at=ending_at)

    def serve_cli_handoffs(self) -> None:
        """The app, holding the DuckDB file, runs the bulk CLI's jobs handed to it (lib/bulk/handoff.py)."""
        from lib.bulk import handoff

        handoff.watch(self)

    def close(self) -> list:
        """Stop the job manager's threads (waiting for them), write usage rows held back, close the SDK
        client and the database: the CLI calls this before exit. Returns the usage rows that neither the
        database nor a fallback file took (list[UsageRecord]): the caller must show them or lose them."""
        from lib.bulk import handoff
        from lib.usage.log import STORAGE_ERRORS

        handoff.stop_watching(self)
        if self._jobs is not None:
            self._jobs.shutdown(wait=True)
        try:
            self.usage_log.flush()
        except STORAGE_ERRORS:
            pass  # still refused: the rows stay in the fallback files, and are returned below
        self.gateway.close()
        self.db.close()
        return self.usage_log.in_memory_only()


def build(settings: Settings | None = None, *, db: Database | None = None, backend: Backend | None = None,
          seed: bool = True) -> Services:
    """Wire the whole app for `settings` (default: read now). Seeds the sample CRM once, if empty.

    `db` and `backend` may be handed in by a caller that keeps them longer than one Services (the app
    keeps one database per file and one sandbox per process, whatever settings change)."""
    from lib.claude.backend import resolve_backend
    from lib.claude.gateway import Gateway
    from lib.crm.fields import load_catalogue
    from lib.usage.budgets import BudgetGuard
    from lib.usage.log import UsageLog

    settings = settings or load_settings()
    rules = role_rules(settings)  # a malformed entry stops the start, with the entry named
    if db is not None and settings.uses_postgres and db.dialect != "postgres":
        logging.getLogger(__name__).warning(
            "SCRIBE_DATABASE_URL is set but the caller handed in the DuckDB file %s: state stays there", db.path)
    db = db or open_configured_database(settings)
    usage_log = UsageLog(db, settings.scribe_fallback_dir)
    usage_log.import_fallback()  # rows kept aside when a write failed last time
    backend = backend or resolve_backend(settings, start_sandbox=start_local_sandbox)
    guard = BudgetGuard(db, backend=backend.kind, settings=lambda: settings)  # budgets count this backend's spend
    gateway = Gateway(usage_log, api_key=backend.api_key, base_url=backend.base_url, backend=backend.kind,
                      max_retries=settings.scribe_max_retries, timeout_s=settings.scribe_timeout_s,
                      budget_check=guard)
    catalogue = load_catalogue(settings.scribe_field_catalogue)
    app = Services(settings=settings, db=db, backend=backend, gateway=gateway, usage_log=usage_log,
                   budgets=guard.store, budget_guard=guard, rules=rules, catalogue=catalogue)
    if seed:
        app.crm.seed_if_empty()
    return app


def role_rules(settings: Settings) -> RoleRules:
    """The role rules from SCRIBE_ADMIN_EMAILS, SCRIBE_MANAGER_EMAILS, SCRIBE_ROLE_GROUPS, SCRIBE_GROUP_CLAIM.
    Raises AuthConfigError naming a malformed entry."""
    return RoleRules.parse(admin_emails=settings.scribe_admin_emails, manager_emails=settings.scribe_manager_emails,
                           role_groups=settings.scribe_role_groups, group_claim=settings.scribe_group_claim)
