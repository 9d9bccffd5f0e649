"""Streamlit's own sign-in, end to end, against oidc-provider-mock: st.login → the provider's form →
st.user.email → st.logout → the sign-in screen again.

A throwaway script (auth_probe_app.py), not app.py: it proves the pieces Scribe's sign-in gate is built
on (Authlib installed, the [auth] section, `{port}` in redirect_uri, a secrets file outside the repo
through STREAMLIT_SECRETS_FILES, a named provider, a group claim turned into a role by lib.auth)
before the gate is wired in. Nothing is written into the repo: the app runs in tmp_path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.browser.conftest import free_port
from tests.support.oidc import OidcProvider, auth_secrets_toml, oidc_provider  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("auth_probe_app.py")
pytestmark = pytest.mark.browser  # (the folder marks it too); skipped via `browser` where Chromium is missing
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


def start_probe(tmp_path: Path, secrets_toml: str, extra_env: dict[str, str] | None = None
                ) -> tuple[str, subprocess.Popen, Path]:
    """`streamlit run auth_probe_app.py` on 127.0.0.1:<free port>, secrets from a file in tmp_path.

    The working directory holds a .streamlit/secrets.toml that is not even TOML, on purpose: had
    Streamlit read it, it would have dropped all secrets (and the probe would show an error). Sign-in
    working proves STREAMLIT_SECRETS_FILES replaces Streamlit's default secrets locations (the
    project's and ~/.streamlit's) rather than adding to them, so a developer's own secrets.toml
    cannot leak into a test.
    """
    project = tmp_path / "project"
    (project / ".streamlit").mkdir(parents=True)
    (project / ".streamlit" / "secrets.toml").write_text('[auth]\nredirect_uri = "not toml\n')
    secrets_file = tmp_path / "secrets" / "secrets.toml"
    secrets_file.parent.mkdir()
    secrets_file.write_text(secrets_toml)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "STREAMLIT_", "SCRIBE_"))}
    env |= {"STREAMLIT_SECRETS_FILES": str(secrets_file), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)} | (extra_env or {})
    log_path = tmp_path / "streamlit.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROBE), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--global.developmentMode", "false"],
        cwd=project, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx2.get(url + "/_stcore/health", timeout=1).status_code == 200:
                return url, process, log_path
        except httpx2.HTTPError:
            time.sleep(0.2)  # polling the server's start, not waiting on the page
    stop(process)
    raise RuntimeError(f"streamlit did not start in 60 s:\n{log_path.read_text(errors='replace')}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(params=[None, "mock"], ids=["default-provider", "named-provider"])
def probe(request, tmp_path: Path, oidc_provider: OidcProvider) -> Iterator[str]:  # noqa: F811
    """The probe, with the provider in [auth] itself (st.login()) or in [auth.mock] (st.login("mock"))."""
    url, process, log_path = start_probe(
        tmp_path, auth_secrets_toml(oidc_provider, provider_name=request.param),
        {"SCRIBE_ROLE_GROUPS": "scribe-admins=admin,scribe-managers=manager"})
    yield url
    stop(process)
    assert "Traceback" not in log_path.read_text(errors="replace")


@pytest.fixture
def local_page(browser) -> Iterator[object]:
    """A page that can reach only this machine: the mock's pages link a stylesheet from a CDN."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})

    def only_local(route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def test_sign_in_through_the_provider_shows_the_email_and_log_out_returns_to_sign_in(
        local_page, probe, oidc_provider):  # noqa: F811
    oidc_provider.set_user("rita", email="Rita.Rep@example.com", name="Rita Rep", groups=["scribe-managers"])
    page = local_page
    page.goto(probe)
    page.get_by_role("heading", name="Sign in to Scribe").wait_for()

    page.get_by_role("button", name=re.compile(r"^Sign in")).click()  # "Sign in" or "Sign in with Mock"
    page.get_by_role("heading", name="Authorize Client").wait_for()  # the provider's own form
    assert urlsplit(page.url).netloc == urlsplit(oidc_provider.base_url).netloc
    page.locator("input[name='sub']").fill("rita")
    page.get_by_role("button", name="Authorize").click()

    page.get_by_role("heading", name="Signed in").wait_for()
    main = page.get_by_test_id("stMain")
    main.get_by_text("Signed in as: rita.rep@example.com").wait_for()
    main.get_by_text("Name: Rita Rep").wait_for()
    main.get_by_text("Role: manager").wait_for()  # the groups claim, through SCRIBE_ROLE_GROUPS
    claims = main.get_by_text("Claims:").inner_text()
    assert "'groups'" in claims and "'provider'" in claims and "'is_logged_in'" in claims

    page.reload()  # a new session: st.user comes back from the signed cookie
    page.get_by_role("heading", name="Signed in").wait_for()

    page.get_by_role("button", name="Log out").click()
    # The mock advertises end_session_endpoint, so Streamlit sends the browser there (RP-initiated logout)
    page.get_by_role("button", name="End session").click()
    page.get_by_role("heading", name="Sign in to Scribe").wait_for()
    assert urlsplit(page.url).netloc == urlsplit(probe).netloc

    page.reload()  # the identity cookie is gone, not just this session's copy
    page.get_by_role("heading", name="Sign in to Scribe").wait_for()
    assert page.get_by_text("Signed in as").count() == 0


def test_an_incomplete_auth_section_is_a_clear_error_at_start_without_the_secrets(local_page, tmp_path):
    secrets = (
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "test-cookie-secret-not-a-real-secret-0123456789"\n'
        'client_id = "scribe-tests-client-id"\n'
        'server_metadata_url = "http://localhost:9/.well-known/openid-configuration"\n'
    )
    url, process, log_path = start_probe(tmp_path, secrets)
    try:
        local_page.goto(url)
        alert = local_page.get_by_test_id("stAlert")
        alert.get_by_text("is missing client_secret").wait_for()
        text = alert.inner_text()
        assert "[auth] (the default provider) is missing client_secret" in text
        assert "test-cookie-secret" not in text and "scribe-tests-client-id" not in text
        assert local_page.get_by_role("button", name=re.compile("Sign in")).count() == 0
    finally:
        stop(process)
    assert "Traceback" not in log_path.read_text(errors="replace")
