"""Identities: from Streamlit's st.user (as a plain dict), local mode, and the CLI."""

import getpass

import pytest

from lib.auth import (
    LOCAL_MODE_LABEL,
    Identity,
    NotSignedIn,
    Role,
    RoleRules,
    SignInRefused,
    cli_identity,
    identity_from_user,
    local_identity,
    resolve_identity,
)
from lib.core.errors import ScribeError

RULES = RoleRules.parse(admin_emails="ana@acme.com", manager_emails="@leads.acme.com",
                        role_groups="scribe-managers=manager")
# What st.user.to_dict() held for a sign-in through oidc-provider-mock (tests/browser/test_sign_in_browser.py)
SIGNED_IN = {"is_logged_in": True, "provider": "default", "iss": "http://localhost:5000", "sub": "rita",
             "aud": ["scribe-tests"], "email": "Rita.Rep@Acme.com", "name": "Rita Rep", "nonce": "n",
             "iat": 1, "exp": 2, "auth_time": 1, "at_hash": "h", "tokens": {}}


def test_a_signed_in_user_becomes_an_identity_with_a_lower_cased_email():
    me = identity_from_user(SIGNED_IN, RULES)
    assert me == Identity(email="rita.rep@acme.com", name="Rita Rep", role=Role.REP, local=False)
    assert me.user == "rita.rep@acme.com"
    assert me.label == "Rita Rep · rita.rep@acme.com · rep"


def test_roles_come_from_the_rules_and_the_group_claim():
    assert identity_from_user(SIGNED_IN | {"email": "ana@acme.com"}, RULES).role is Role.ADMIN
    assert identity_from_user(SIGNED_IN | {"email": "lee@leads.acme.com"}, RULES).role is Role.MANAGER
    assert identity_from_user(SIGNED_IN | {"groups": ["scribe-managers"]}, RULES).role is Role.MANAGER


@pytest.mark.parametrize("user_info", [{}, {"is_logged_in": False}, {"email": "a@b.io"}])
def test_nobody_signed_in_is_refused(user_info):
    """{} is st.user without [auth]; {"is_logged_in": False} with [auth] before sign-in."""
    with pytest.raises(NotSignedIn):
        identity_from_user(user_info, RULES)


@pytest.mark.parametrize("email", [None, "", "rita", 42])
def test_a_token_without_an_email_is_refused_with_a_hint(email):
    info = dict(SIGNED_IN)
    info.pop("email")
    if email is not None:
        info["email"] = email
    with pytest.raises(SignInRefused) as exc:
        identity_from_user(info, RULES)
    assert "email" in exc.value.hint and isinstance(exc.value, ScribeError)


@pytest.mark.parametrize("verified", [False, "false", "False"])
def test_an_unverified_email_is_refused(verified):
    with pytest.raises(SignInRefused, match="not verified"):
        identity_from_user(SIGNED_IN | {"email": "ana@acme.com", "email_verified": verified}, RULES)


def test_a_verified_or_unstated_email_is_accepted():
    assert identity_from_user(SIGNED_IN | {"email_verified": True}, RULES).email == "rita.rep@acme.com"
    assert identity_from_user(SIGNED_IN | {"email_verified": "true"}, RULES).email == "rita.rep@acme.com"


@pytest.mark.parametrize("claims, name", [
    ({"name": "  Rita Rep "}, "Rita Rep"),
    ({"name": "", "given_name": "Rita", "family_name": "Rep"}, "Rita Rep"),
    ({"given_name": "Rita"}, "Rita"),
    ({}, "rita.rep"),
])
def test_the_name_falls_back_to_given_and_family_names_then_the_email(claims, name):
    info = {k: v for k, v in SIGNED_IN.items() if k != "name"} | claims
    assert identity_from_user(info, RULES).name == name


def test_local_mode_is_scribe_user_with_the_admin_role():
    me = local_identity("dana")
    assert me == Identity(email="dana", name="dana", role=Role.ADMIN, local=True)
    assert me.label == f"{LOCAL_MODE_LABEL} · dana"
    assert local_identity("  ").user == "rep"  # SCRIBE_USER's default


def test_resolve_identity_is_local_without_auth_and_the_signed_in_person_with_it():
    assert resolve_identity({}, RULES, auth_configured=False, local_user="dana") == local_identity("dana")
    assert resolve_identity(SIGNED_IN, RULES, auth_configured=True, local_user="dana").email == "rita.rep@acme.com"
    with pytest.raises(NotSignedIn):
        resolve_identity({"is_logged_in": False}, RULES, auth_configured=True, local_user="dana")


def test_owner_comparison_ignores_case_and_spaces():
    me = identity_from_user(SIGNED_IN, RULES)
    assert me.owns("Rita.Rep@acme.com ") and not me.owns("rita@acme.com") and not me.owns(None)


def test_the_cli_records_the_user_given_or_the_os_user():
    assert cli_identity("dana", RULES, auth_configured=False) == local_identity("dana")
    assert cli_identity(None, RULES, auth_configured=False).user == getpass.getuser()


def test_with_auth_configured_the_cli_gets_the_role_the_rules_give_that_email():
    assert cli_identity("Ana@acme.com", RULES, auth_configured=True).role is Role.ADMIN
    assert cli_identity("Ana@acme.com", RULES, auth_configured=True).user == "ana@acme.com"
    assert cli_identity("rita@acme.com", RULES, auth_configured=True).role is Role.REP
    assert cli_identity("build-bot", RULES, auth_configured=True).role is Role.REP
