"""The app's one door to lib/: `services()`, the process's Services (lib/services.py), cached.

Built once per process on first use, never on a rerun. The database is kept per file (or Postgres URL) and the backend
(a sandbox it may have started) per key and URL, so a change of another setting only rewires the
parts above them. Tests that point SCRIBE_DB elsewhere get their own database.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import importlib.util
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from lib import services as wiring
from lib.auth import RoleRules
from lib.claude.backend import Backend, known_kind, resolve_backend
from lib.core.errors import ScribeError
from lib.core.settings import Settings, load_settings

_log = logging.getLogger(__name__)
PAGES = Path(__file__).resolve().parents[1]
# What Streamlit itself imports on its first script run (an icon checked, a script compiled): 0.1-0.3 s here.
STREAMLIT_FIRST_RUN = ["streamlit.emojis", "streamlit.material_icon_names", "streamlit.runtime.scriptrunner.magic_funcs"]

if TYPE_CHECKING:  # the first page is drawn before the database's driver is imported
    from lib.core.db import Database
    from lib.work.work_store import WorkStore


def settings() -> Settings:
    """Settings as of now (cheap: env and one small file)."""
    return load_settings()


def _fingerprint(s: Settings) -> str:
    """Every setting, secrets as a hash: the cache key of the Services built from them."""
    secret_fields = ("anthropic_api_key", "anthropic_admin_key", "hubspot_access_token", "scribe_database_url")
    secrets = [v.get_secret_value() if (v := getattr(s, name)) else "" for name in secret_fields]
    plain = s.model_dump_json(exclude=set(secret_fields))
    return hashlib.sha256("\x00".join([*secrets, plain]).encode()).hexdigest()[:16]


def _key_fingerprint(s: Settings) -> str:
    key = s.anthropic_api_key.get_secret_value() if s.anthropic_api_key else ""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _database_fingerprint(s: Settings) -> str:
    """Which database the settings name (a Postgres URL holds a password: only its hash is a cache key)."""
    return hashlib.sha256(wiring.database_target(s).encode()).hexdigest()[:16]


@st.cache_resource(show_spinner="Opening the database…")
def _database(fingerprint: str) -> Database:
    return wiring.open_configured_database(settings())


@st.cache_resource(show_spinner="Starting the Claude backend…")
def _backend(key_fingerprint: str, base_url: str | None, ttft_ms: float | None, tps: float | None) -> Backend:
    return resolve_backend(settings(), start_sandbox=wiring.start_local_sandbox)


@st.cache_resource(show_spinner=False)
def _services(fingerprint: str) -> wiring.Services:
    s = settings()
    backend = _backend(_key_fingerprint(s), s.anthropic_base_url, s.scribe_sandbox_ttft_ms,
                       s.scribe_sandbox_tokens_per_s)
    app = wiring.build(s, db=_database(_database_fingerprint(s)), backend=backend)
    app.serve_cli_handoffs()  # the app holds the DuckDB file: the nightly CLI hands its jobs to it
    return app


def rules() -> RoleRules:
    """Who has which role, from the settings alone: the sign-in gate needs it before the services are built."""
    return wiring.role_rules(settings())


def backend_kind() -> str:
    """"sandbox" or "anthropic", without building the services where the settings alone say which."""
    return known_kind(settings()) or services().backend.kind


def work_in_progress() -> WorkStore:
    """Each user's kept work, from the database alone: a page restores its notes before the services are built."""
    return wiring.work_store(_database(_database_fingerprint(settings())))


def services() -> wiring.Services:
    """The process's Services for the settings in force."""
    return _services(_fingerprint(settings()))


def warm_up() -> None:
    """Before the server answers (app.py): import what the pages import and build the services, so the first
    page a person opens is drawn at once. A failure here is only logged: that page then shows it, as it would."""
    with _outside_a_session():
        for module in [*page_imports(PAGES), *STREAMLIT_FIRST_RUN]:
            importlib.import_module(module)
        st.empty()  # Streamlit's first element in a process inspects the whole call stack (0.3-0.5 s): now, not on a page
        try:
            services()
        except Exception as exc:  # noqa: BLE001 - the first page reports it too, through the error boundary
            said = exc.message if isinstance(exc, ScribeError) else type(exc).__name__  # a ScribeError's is for people
            _log.warning("Services not built at start: %s The first page will say so too.", said)


@contextlib.contextmanager
def _outside_a_session() -> Iterator[None]:
    """The warm-up runs before any session exists, which Streamlit would log as a 'missing ScriptRunContext'
    warning on each call that looks for one: expected here, so not shown to whoever starts the server."""
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        yield
    finally:
        quiet.setLevel(level)


def page_imports(folder: Path) -> list[str]:
    """Every module the pages in `folder` (and their shared parts) import, at the top or inside a function."""
    found: dict[str, None] = {}
    for file in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found[node.module] = None
                submodules = (f"{node.module}.{alias.name}" for alias in node.names)
                found.update(dict.fromkeys(m for m in submodules if _is_module(m)))
    return list(found)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
