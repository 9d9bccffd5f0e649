"""The few Streamlit helpers the pages share: sidebar, banners, error display, usage lines."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app_pages._shared import resources, signin
from lib.auth import LOCAL_MODE_LABEL, Identity
from lib.core.errors import ReplyInvalid, ScribeError
from lib.usage.pricing import format_usd

if TYPE_CHECKING:  # the SDK and pandas load when a page first needs them, not before the first page is drawn
    import pandas as pd

    from lib.claude.gateway import CallResult

T = TypeVar("T")

SANDBOX_NOTE = "Sandbox output: written by Scribe's offline simulator, not by Claude."
SANDBOX_HOW_TO_GO_LIVE = ("To use the real Claude API: set `ANTHROPIC_API_KEY` in the environment, or at the root of "
                          "`.streamlit/secrets.toml`, then restart Scribe.")


def identity() -> Identity:
    """Who is using the app on this run: the signed-in person, or SCRIBE_USER in local mode."""
    return signin.current()


def current_user() -> str:
    """What is recorded as the actor: the identity's user (the signed-in email, or SCRIBE_USER)."""
    return identity().user


def sidebar() -> DeltaGenerator:
    """Backend badge and who is working (with Log out when signed in); returns the slot where spend goes."""
    sandbox = resources.backend_kind() == "sandbox"
    me = identity()
    with st.sidebar:
        if sandbox:
            st.warning("**Sandbox**: offline simulator. No real Claude calls; costs shown are what the calls "
                       "would cost, and nothing is billed.", icon=":material/science:")
            st.caption(SANDBOX_HOW_TO_GO_LIVE)
        else:  # the key itself is never shown, not even its first or last characters
            st.success("**Claude API**: live calls, real spend.", icon=":material/cloud_done:")
            st.caption("Using the API key from the environment or `.streamlit/secrets.toml` (never shown).")
        if me.local:
            st.caption(f"{LOCAL_MODE_LABEL} · recorded as **{me.user}** (SCRIBE_USER)")
        else:
            st.caption(f"Signed in as **{me.email}** · {me.role.label}")
            if st.button("Log out", key="sidebar_logout", icon=":material/logout:"):
                st.logout()
        return st.empty()


def show_spend(slot: DeltaGenerator) -> None:
    """Today's known spend on this backend, in the sidebar slot."""
    backend = resources.services().backend
    spend, team = resources.services().spend_today(identity(), backend.kind)
    label = ("Simulated spend today (UTC)" if backend.is_sandbox else "Spend today (UTC)") + ("" if team else ", yours")
    slot.metric(label, money(spend), help="Known cost of today's calls on this backend"
                + ("." if team else ": your calls only."))


def records_frame(records: list, columns: list[str]) -> pd.DataFrame:
    """A table of records (a store's dataclasses) for st.dataframe and the charts: one row each."""
    import pandas as pd

    return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in records], columns=columns)


def money(amount: Decimal | None) -> str:
    """Dollars as the Usage page shows them ($0.0148, $12.50); None is a price we do not know."""
    return "price unknown" if amount is None else format_usd(amount)


def sandbox_label() -> None:
    """Every piece of AI output on the sandbox says so."""
    if resources.services().backend.is_sandbox:
        st.caption(f":material/science: {SANDBOX_NOTE}")


def usage_line(result: CallResult) -> str:
    """One line under an AI output: tokens by kind, cost, TTFT."""
    r = result.record
    if r is None:
        return "No usage recorded."
    parts = [
        f"{r.input_tokens:,} in",
        f"{r.output_tokens:,} out" + (" (estimated)" if r.usage_estimated else ""),
        f"cache read {r.cache_read_input_tokens:,}",
        f"cache write {r.cache_creation_input_tokens:,}",
        money(r.cost_usd),
    ]
    if r.ttft_ms is not None:
        parts.append(f"TTFT {r.ttft_ms:,.0f} ms")
    parts.append(f"{r.model}")
    return " · ".join(parts)


_log = logging.getLogger("scribe")


def guarded(action: Callable[[], T]) -> T | None:
    """The app's one error boundary: a domain error is shown as itself; anything else as a short message
    with a reference, its traceback going to the server log only. Never a raw traceback on the page."""
    try:
        return action()
    except ScribeError as err:
        show_error(err)
    except Exception as exc:  # noqa: BLE001 - the boundary: whatever went wrong, the person sees a message, not a stack
        reference = uuid.uuid4().hex[:8]
        _log.exception("unexpected error, reference %s", reference)
        if _disk_full(exc):
            st.error("The disk that holds Scribe's database is full, so this could not be saved; nothing you entered "
                     f"was lost. Free some space on it (or ask whoever runs Scribe to), then try again. Reference: "
                     f"`{reference}`.")
        else:
            st.error(f"Something went wrong on Scribe's side; nothing you entered was lost. Reference: `{reference}` "
                     "(the details are in the server log).")
    return None


def _disk_full(exc: BaseException) -> bool:
    """A full disk, as the OS or DuckDB reports it (DuckDB wraps the OS error in its own text)."""
    import errno

    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def show_error(err: ScribeError) -> None:
    """A domain error, shown once: what happened and what to do."""
    text = err.message + (f"  \n{err.hint}" if err.hint else "")
    if err.request_id:
        text += f"  \nRequest id: `{err.request_id}`"
    st.error(text)
    if isinstance(err, ReplyInvalid):
        with st.expander("What Claude answered"):
            st.text(err.raw_text)


def show_warnings(result: CallResult | None) -> None:
    for warning in (result.warnings if result else []):
        st.warning(warning)


@st.cache_data(ttl=3600, show_spinner=False)
def _model_ids(backend_kind: str, base_url: str | None) -> list[str]:
    return [m["id"] for m in resources.services().gateway.list_models()]


def model_picker(feature: str, label: str = "Model") -> str:
    """A model for this feature: the setting by default; any model the Models API lists."""
    default = resources.settings().model_for(feature)
    backend = resources.services().backend
    try:
        ids = _model_ids(backend.kind, backend.base_url)
    except ScribeError as err:
        st.caption(f"Could not list models ({err.message}); using {default}.")
        return default
    if default not in ids:
        ids = [default, *ids]
    key = f"model_{feature}"
    st.session_state.setdefault(key, default)
    return st.selectbox(label, ids, key=key, help=f"Default from SCRIBE_MODEL_{feature.upper()}.")
