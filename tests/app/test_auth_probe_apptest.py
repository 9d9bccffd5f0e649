"""The sign-in gate under AppTest (auth_probe_app.py, the gate in miniature): what a page test can and
cannot do about sign-in. See tests/support/auth.py."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.auth import SIGNED_OUT, auth_section, signed_in

PROBE = str(Path(__file__).resolve().parents[1] / "browser" / "auth_probe_app.py")


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no project secrets.toml: only what the test puts in at.secrets
    for name in ("SCRIBE_ADMIN_EMAILS", "SCRIBE_MANAGER_EMAILS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SCRIBE_ROLE_GROUPS", "scribe-managers=manager")
    return AppTest.from_file(PROBE, default_timeout=30)


def texts(at) -> list[str]:
    return [h.value for h in at.header] + [m.value for m in at.markdown] + [e.value for e in at.error]


def test_without_auth_it_is_local_mode(at):
    at.user = {}  # what st.user is in a local run without [auth]
    at.run()
    assert not at.exception and texts(at) == ["Local mode: no sign-in"]


def test_with_auth_and_nobody_signed_in_it_shows_the_sign_in_screen(at):
    at.secrets["auth"] = auth_section()
    at.user = SIGNED_OUT
    at.run()
    assert not at.exception
    assert texts(at) == ["Sign in to Scribe"] and [b.label for b in at.button] == ["Sign in"]


def test_named_providers_get_one_button_each(at):
    at.secrets["auth"] = auth_section("okta")
    at.user = SIGNED_OUT
    at.run()
    assert [b.label for b in at.button] == ["Sign in with Okta"]


def test_a_signed_in_user_is_an_identity_with_a_role_and_logging_out_signs_them_out(at):
    at.secrets["auth"] = auth_section()
    at.user = signed_in("Max@Acme.com", "Max Manager", groups=["scribe-managers"])
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "Signed in as: `max@acme.com`" in shown and "Role: `manager`" in shown

    next(b for b in at.button if b.label == "Log out").click().run()
    assert at.user == SIGNED_OUT
    at.run()
    assert texts(at) == ["Sign in to Scribe"]


def test_an_incomplete_auth_section_is_an_error_on_the_page(at):
    at.secrets["auth"] = {k: v for k, v in auth_section().items() if k != "cookie_secret"}
    at.user = SIGNED_OUT
    at.run()
    assert not at.exception
    assert any("[auth] is missing cookie_secret" in e.value for e in at.error)
