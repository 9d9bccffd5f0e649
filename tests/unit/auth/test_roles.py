"""Role resolution: SCRIBE_ADMIN_EMAILS / SCRIBE_MANAGER_EMAILS (emails or @domain), the group claim
mapped through SCRIBE_ROLE_GROUPS, the highest role winning, and bad entries refused at start."""

import pytest

from lib.auth import AuthConfigError, Role, RoleRules
from lib.auth.roles import groups_in


def rules(**kw):
    return RoleRules.parse(**kw)


def test_roles_are_ordered_rep_manager_admin():
    assert Role.REP < Role.MANAGER < Role.ADMIN
    assert [r.label for r in Role] == ["rep", "manager", "admin"]


def test_with_no_rules_everyone_is_a_rep():
    assert RoleRules.parse().role_for("anyone@acme.com") is Role.REP
    assert RoleRules().role_for("anyone@acme.com", {"groups": ["admins"]}) is Role.REP


@pytest.mark.parametrize("email, expected", [
    ("ana@acme.com", Role.ADMIN),
    ("ANA@Acme.COM", Role.ADMIN),            # case-insensitive
    ("  ana@acme.com ", Role.ADMIN),
    ("max@acme.com", Role.MANAGER),
    ("lee@leads.acme.com", Role.MANAGER),    # @domain
    ("LEE@LEADS.ACME.COM", Role.MANAGER),
    ("rita@acme.com", Role.REP),
    ("x@sub.leads.acme.com", Role.REP),      # a domain rule is exact: no subdomains
    ("x@notleads.acme.com", Role.REP),
    ("ana@acme.com.evil.io", Role.REP),
    ("leads.acme.com", Role.REP),            # not an email at all
])
def test_email_and_domain_rules(email, expected):
    r = rules(admin_emails="ana@acme.com", manager_emails="max@acme.com, @leads.acme.com")
    assert r.role_for(email) is expected


def test_entries_may_be_separated_by_commas_semicolons_or_new_lines():
    r = rules(admin_emails="a@x.io;b@x.io\n @y.io ,")
    assert {r.role_for(e) for e in ("a@x.io", "b@x.io", "z@y.io")} == {Role.ADMIN}


def test_admin_wins_over_manager_when_both_rules_match():
    r = rules(admin_emails="@acme.com", manager_emails="max@acme.com")
    assert r.role_for("max@acme.com") is Role.ADMIN


@pytest.mark.parametrize("setting, value", [
    ("admin_emails", "acme.com"),          # a domain needs its @
    ("admin_emails", "ana"),
    ("manager_emails", "max@acme"),        # no dot in the domain
    ("manager_emails", "a@b@c.com"),
])
def test_a_malformed_email_entry_is_an_error_naming_the_setting(setting, value):
    with pytest.raises(AuthConfigError) as exc:
        rules(**{setting: value})
    assert ("SCRIBE_ADMIN_EMAILS" if setting == "admin_emails" else "SCRIBE_MANAGER_EMAILS") in exc.value.message
    assert repr(value)[1:-1] in exc.value.message


def test_group_claim_maps_to_roles_case_insensitively():
    r = rules(role_groups="scribe-admins=admin, Scribe-Managers = manager")
    assert r.role_for("a@x.io", {"groups": ["scribe-admins"]}) is Role.ADMIN
    assert r.role_for("a@x.io", {"groups": ["SCRIBE-MANAGERS", "other"]}) is Role.MANAGER
    assert r.role_for("a@x.io", {"groups": ["other"]}) is Role.REP
    assert r.role_for("a@x.io", {}) is Role.REP
    assert r.role_for("a@x.io") is Role.REP


def test_the_highest_of_email_and_group_roles_wins():
    r = rules(manager_emails="@acme.com", role_groups="scribe-admins=admin,scribe-reps=rep")
    assert r.role_for("rita@acme.com", {"groups": ["scribe-reps"]}) is Role.MANAGER
    assert r.role_for("rita@acme.com", {"groups": ["scribe-reps", "scribe-admins"]}) is Role.ADMIN


def test_the_group_claim_name_is_configurable():
    r = rules(role_groups="Scribe.Admin=admin", group_claim="roles")  # e.g. Entra app roles
    assert r.role_for("a@x.io", {"roles": ["Scribe.Admin"]}) is Role.ADMIN
    assert r.role_for("a@x.io", {"groups": ["Scribe.Admin"]}) is Role.REP
    assert rules(group_claim="  ").group_claim == "groups"


@pytest.mark.parametrize("value, expected", [
    (["a", " b ", "", 3, None], ["a", "b"]),
    (("a",), ["a"]),
    ("a, b c", ["a", "b", "c"]),
    (None, []),
    (7, []),
    ({"a": 1}, []),
])
def test_group_claim_shapes(value, expected):
    assert groups_in({"groups": value}, "groups") == expected


@pytest.mark.parametrize("value", ["scribe-admins", "=admin", "scribe-admins=", "scribe-admins=owner"])
def test_a_malformed_group_entry_is_an_error(value):
    with pytest.raises(AuthConfigError, match="SCRIBE_ROLE_GROUPS"):
        rules(role_groups=value)


def test_a_group_listed_twice_keeps_its_highest_role():
    assert rules(role_groups="g=admin,g=rep").role_for("a@x.io", {"groups": ["g"]}) is Role.ADMIN
