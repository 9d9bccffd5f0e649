"""The process-wide resources the app shares between sessions (thin st.cache_resource factories).

Each is created once per process on first use, never on every rerun. They are keyed by the
settings that define them (the key only by a fingerprint), so a test that points SCRIBE_DB
elsewhere gets its own database.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from lib.backend import Backend, resolve_backend
from lib.budgets import BudgetGuard
from lib.claude import Gateway
from lib.db import Database
from lib.settings import Settings, load_settings
from lib.usage_log import UsageLog


def settings() -> Settings:
    """Settings as of now (cheap: env and one small file)."""
    return load_settings()


def _fingerprint(s: Settings) -> str:
    key = s.anthropic_api_key.get_secret_value() if s.anthropic_api_key else ""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@st.cache_resource(show_spinner=False)
def _database(path: str) -> Database:
    db = Database(path)
    UsageLog(db).import_fallback()  # rows kept aside when a write failed last time
    return db


@st.cache_resource(show_spinner="Starting the Claude backend…")
def _backend(key_fingerprint: str, base_url: str | None, ttft_ms: float | None, tps: float | None) -> Backend:
    return resolve_backend(settings())


@st.cache_resource(show_spinner=False)
def _gateway(db_path: str, key_fingerprint: str, base_url: str | None, max_retries: int,
             timeout_s: float) -> Gateway:
    chosen = backend()
    db = _database(db_path)
    guard = BudgetGuard(db, backend=chosen.kind, settings=settings)  # budgets count this backend's spend
    return Gateway(UsageLog(db), api_key=chosen.api_key, base_url=chosen.base_url,
                   backend=chosen.kind, max_retries=max_retries, timeout_s=timeout_s, budget_check=guard)


def database() -> Database:
    return _database(str(settings().scribe_db))


def backend() -> Backend:
    s = settings()
    return _backend(_fingerprint(s), s.anthropic_base_url, s.scribe_sandbox_ttft_ms, s.scribe_sandbox_tokens_per_s)


def gateway() -> Gateway:
    s = settings()
    return _gateway(str(s.scribe_db), _fingerprint(s), s.anthropic_base_url, s.scribe_max_retries, s.scribe_timeout_s)


def usage_log() -> UsageLog:
    return gateway().usage_log


@st.cache_resource(show_spinner=False)
def _job_manager(db_path: str, key_fingerprint: str, base_url: str | None, concurrency: int):
    from lib.jobs.manager import JobManager  # imported here: only the Bulk page needs it

    return JobManager(gateway(), database(), concurrency=concurrency)  # resumes jobs a restart interrupted


def job_manager():
    """The process's bulk JobManager: its worker threads outlive any session, so jobs survive a reload."""
    s = settings()
    return _job_manager(str(s.scribe_db), _fingerprint(s), s.anthropic_base_url, s.scribe_bulk_concurrency)
