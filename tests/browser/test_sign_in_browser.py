"""Sign-in and roles in the real app (`streamlit run app.py` with an [auth] section), through
oidc-provider-mock's own form in Chromium: what a rep and a manager each see, what a save records,
and that log out returns to the sign-in screen.

The database is seeded before the app starts (DuckDB: one process at a time) with calls by two
people and a conversation of someone else's, so "only their own" is something that can fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lib.crm.builtin import BuiltinCrm
from lib.services import open_database
from lib.usage.log import UsageLog, UsageRecord
from lib.work.conversations import Conversation, ConversationStore, Turn
from tests.browser.conftest import StreamlitApp, start_app
from tests.support.oidc import OidcProvider, auth_secrets_toml, oidc_provider  # noqa: F401  (a fixture)

NOTE = (Path(__file__).resolve().parents[2] / "data" / "notes" / "01_acme_demo.txt").read_text()
RITA, ROB, MAX, MIA = "rita@acme.com", "rob@acme.com", "max@acme.com", "mia@acme.com"  # reps; managers
CALLS = {RITA: 3, ROB: 5}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def seed(db_path: Path) -> str:
    """Calls by Rita and Rob today, and one conversation of Rob's; returns its id."""
    db = open_database(db_path)
    log = UsageLog(db)
    now = datetime.now(UTC)
    for user, n in CALLS.items():
        for i in range(n):
            log.write(UsageRecord(ts=now - timedelta(minutes=i + 1), call_id=f"{user}-{i}", backend="sandbox",
                                  model="claude-sonnet-4-6", feature="summarize", user=user, status="ok",
                                  cost_usd=Decimal("0.01"), input_tokens=100, output_tokens=20))
    conv = Conversation.new(ROB)
    conv.title = "Rob's pipeline"
    ConversationStore(db).save_turn(conv, Turn(seq=1, question="What is Rob's pipeline?", messages=[
        {"role": "user", "content": "What is Rob's pipeline?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Only Rob may read this."}]}]))
    db.close()
    return conv.id


@pytest.fixture
def start_signed(tmp_path: Path, browser_sandbox, oidc_provider: OidcProvider):  # noqa: F811
    """Start the app with an [auth] section for the mock provider: in [auth] itself, or named
    ([auth.mock], st.login("mock")). Max is a manager by email, Mia by her groups claim."""
    started: list[StreamlitApp] = []

    def start(provider_name: str | None = None) -> tuple[StreamlitApp, str]:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(auth_secrets_toml(oidc_provider, provider_name=provider_name))  # on 127.0.0.1
        conversation = seed(tmp_path / "browser.duckdb")
        app = start_app(tmp_path, browser_sandbox.base_url, {
            "STREAMLIT_SECRETS_FILES": str(secrets), "SCRIBE_MANAGER_EMAILS": MAX, "SCRIBE_USER": "nobody-local",
            "SCRIBE_ROLE_GROUPS": "sales-leads=manager"})
        started.append(app)
        oidc_provider.set_user("rita", email=RITA, name="Rita Rep", groups=["sales"])
        oidc_provider.set_user("max", email=MAX, name="Max Manager")
        oidc_provider.set_user("mia", email=MIA, name="Mia Lead", groups=["sales", "sales-leads"])
        return app, conversation

    yield start
    for app in started:
        app.stop()
        assert "Traceback" not in app.log()


@pytest.fixture
def signed_app(start_signed) -> tuple[StreamlitApp, str]:
    return start_signed()


@pytest.fixture
def local_page(browser) -> Iterator[object]:
    """A page that reaches only this machine (the mock's form links a stylesheet from a CDN)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).hostname in LOCAL_HOSTS
                  else route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def sign_in(page, url: str, sub: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name="Sign in to Scribe").wait_for()
    assert page.get_by_role("link", name="Usage & spend").count() == 0  # no page before sign-in
    page.get_by_role("button", name=re.compile(r"^Sign in")).click()
    page.get_by_role("heading", name="Authorize Client").wait_for()  # the provider's form
    page.locator("input[name='sub']").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.get_by_test_id("stSidebar").get_by_text("Signed in as").wait_for()
    assert urlsplit(page.url).netloc == urlsplit(url).netloc  # back on the app after the provider


def requests_shown(page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text="Requests")
    metric.wait_for()
    return metric.get_by_test_id("stMetricValue").inner_text()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_a_rep_sees_only_their_own_work_and_is_refused_the_rest(local_page, signed_app):
    app, robs_conversation = signed_app
    page = local_page
    sign_in(page, app.url, "rita")
    sidebar = page.get_by_test_id("stSidebar")
    assert f"Signed in as {RITA} · rep" in sidebar.inner_text()
    assert "Your name" not in sidebar.inner_text() and "Local mode" not in sidebar.inner_text()
    page.reload()  # a new session: the identity comes back from Streamlit's signed cookie
    sidebar.get_by_text(f"Signed in as {RITA}").wait_for()

    page.goto(app.url + "/usage")
    assert requests_shown(page) == str(CALLS[RITA])  # her 3 calls, not the team's 8
    page.get_by_text("Spend in range").wait_for()
    assert ROB not in page.get_by_test_id("stMain").inner_text()
    open_tab(page, "Budgets")
    page.get_by_text("It takes the manager role").first.wait_for()  # the services refuse, the page says so
    assert page.get_by_role("button", name="Save budget").count() == 0

    page.goto(app.url + "/contacts")
    page.get_by_text("Import contacts from CSV").click()
    page.get_by_text("Importing contacts takes the manager role.").wait_for()

    page.goto(app.url + f"/assistant?conversation={robs_conversation}")  # someone else's, by direct URL
    page.get_by_text("not yours", exact=False).first.wait_for()
    assert "Only Rob may read this" not in page.get_by_test_id("stMain").inner_text()


@pytest.mark.parametrize(("provider", "sub", "email"), [(None, "max", MAX), ("mock", "mia", MIA)],
                         ids=["manager-by-email", "manager-by-group-claim-named-provider"])
def test_a_manager_sees_the_team_and_its_budgets(local_page, start_signed, provider, sub, email):
    app, robs_conversation = start_signed(provider)
    page = local_page
    sign_in(page, app.url, sub)
    assert f"Signed in as {email} · manager" in page.get_by_test_id("stSidebar").inner_text()
    page.goto(app.url + "/usage")
    assert requests_shown(page) == str(sum(CALLS.values()))
    open_tab(page, "Budgets")
    page.get_by_role("button", name="Save budget").wait_for()

    page.goto(app.url + f"/assistant?conversation={robs_conversation}")  # managers read everyone's
    page.get_by_text("Only Rob may read this").wait_for()
    page.get_by_text("you can read it, not continue it").wait_for()


def test_a_save_records_the_signed_in_email_and_log_out_returns_to_sign_in(local_page, signed_app, browser_sandbox):
    app, _ = signed_app
    browser_sandbox.configure(tokens_per_s=2000)
    started = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    page = local_page
    sign_in(page, app.url, "rita")
    page.goto(app.url + "/extract")
    page.get_by_role("textbox", name="Notes").fill(NOTE)
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Review: 3 person(s) from 1 note(s)").wait_for(timeout=60_000)
    page.get_by_role("button", name="Save accepted to CRM").click()
    page.get_by_text(re.compile(r"Saved: \d+ new contact\(s\), \d+ updated")).wait_for()

    page.get_by_test_id("stSidebar").get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="End session").click()  # the mock's RP-initiated logout
    page.get_by_role("heading", name="Sign in to Scribe").wait_for()
    page.reload()
    page.get_by_role("heading", name="Sign in to Scribe").wait_for()

    app.stop()
    crm = BuiltinCrm(open_database(app.db_path))
    john = crm.contact_by_email("john.smith@acme.com")
    saved = [e for e in crm.timeline(john.id) if e.what == "change" and e.ts >= started]
    assert saved and {e.approved_by for e in saved} == {RITA}  # the ID token's email, not SCRIBE_USER


def test_an_incomplete_auth_section_stops_the_app_with_a_clear_error_and_no_secret(local_page, tmp_path,
                                                                                   browser_sandbox):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "test-cookie-secret-not-a-real-secret-0123456789"\n'
        'client_id = "scribe-tests-client-id"\n'
        'server_metadata_url = "http://localhost:9/.well-known/openid-configuration"\n')
    app = start_app(tmp_path, browser_sandbox.base_url, {"STREAMLIT_SECRETS_FILES": str(secrets)})
    try:
        local_page.goto(app.url)
        alert = local_page.get_by_test_id("stAlert")
        alert.get_by_text("is missing client_secret").wait_for()
        assert "test-cookie-secret" not in alert.inner_text() and "scribe-tests-client-id" not in alert.inner_text()
        assert local_page.get_by_role("button", name=re.compile("Sign in")).count() == 0
        assert local_page.get_by_role("link", name="Usage & spend").count() == 0  # nothing past the gate
    finally:
        app.stop()
    assert "Traceback" not in app.log()
