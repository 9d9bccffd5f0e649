"""The permission table from issue 15, checked rule by rule, and the checks services call.

    rep      own notes, reviews, drafts, conversations and jobs; Usage limited to own calls;
             no budgets, imports, reconciliation or other people's data
    manager  the team's usage, budgets, everyone's jobs and conversations (read), contacts import
    admin    everything, including settings that change behaviour (budget policy, field catalogue)
"""

import pytest

from lib.auth import (
    ROLE_PERMISSIONS,
    Forbidden,
    Identity,
    Permission,
    Role,
    can,
    can_owner_or,
    local_identity,
    minimum_role,
    require,
    require_owner_or,
    visible_users,
)

P = Permission
REP = Identity("rita@acme.com", "Rita", Role.REP)
OTHER_REP = Identity("ray@acme.com", "Ray", Role.REP)
MANAGER = Identity("max@acme.com", "Max", Role.MANAGER)
ADMIN = Identity("ana@acme.com", "Ana", Role.ADMIN)
BY_ROLE = {Role.REP: REP, Role.MANAGER: MANAGER, Role.ADMIN: ADMIN}

# Written out from the issue, not derived from lib.auth: the lowest role allowed to do each thing.
EXPECTED_MINIMUM = {
    P.USE_CLAUDE: Role.REP,
    P.READ_CRM: Role.REP,
    P.SAVE_TO_CRM: Role.REP,
    P.RUN_JOBS: Role.REP,
    P.READ_TEAM_USAGE: Role.MANAGER,
    P.VIEW_BUDGETS: Role.MANAGER,
    P.SET_BUDGETS: Role.MANAGER,
    P.READ_ALL_JOBS: Role.MANAGER,
    P.READ_ALL_CONVERSATIONS: Role.MANAGER,
    P.IMPORT_CONTACTS: Role.MANAGER,
    P.READ_ALL_NOTES: Role.ADMIN,
    P.MANAGE_ALL_JOBS: Role.ADMIN,
    P.MANAGE_ALL_CONVERSATIONS: Role.ADMIN,
    P.REVERT_ANY_CHANGE: Role.ADMIN,
    P.RECONCILE_COSTS: Role.ADMIN,
    P.SET_BUDGET_POLICY: Role.ADMIN,
    P.EDIT_FIELD_CATALOGUE: Role.ADMIN,
    P.CHANGE_SETTINGS: Role.ADMIN,
}


def test_every_permission_has_an_expected_role():
    assert set(EXPECTED_MINIMUM) == set(Permission)


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role", list(Role))
def test_each_role_holds_exactly_the_permissions_of_its_rank(role, permission):
    allowed = role >= EXPECTED_MINIMUM[permission]
    assert can(BY_ROLE[role], permission) is allowed
    if allowed:
        require(BY_ROLE[role], permission)
    else:
        with pytest.raises(Forbidden) as exc:
            require(BY_ROLE[role], permission)
        assert exc.value.permission is permission
        assert f"signed in as a {role.label}" in exc.value.message
        assert f"the {EXPECTED_MINIMUM[permission].label} role to {permission.value}" in exc.value.message


@pytest.mark.parametrize("permission", list(Permission))
def test_minimum_role(permission):
    assert minimum_role(permission) is EXPECTED_MINIMUM[permission]


def test_roles_are_nested_and_admin_holds_everything():
    assert ROLE_PERMISSIONS[Role.REP] < ROLE_PERMISSIONS[Role.MANAGER] < ROLE_PERMISSIONS[Role.ADMIN]
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


@pytest.mark.parametrize("permission", [P.VIEW_BUDGETS, P.SET_BUDGETS, P.IMPORT_CONTACTS, P.RECONCILE_COSTS,
                                        P.READ_TEAM_USAGE, P.READ_ALL_JOBS, P.READ_ALL_CONVERSATIONS,
                                        P.READ_ALL_NOTES])
def test_a_rep_has_no_budgets_imports_reconciliation_or_other_peoples_data(permission):
    with pytest.raises(Forbidden):
        require(REP, permission)


@pytest.mark.parametrize("permission", [P.SET_BUDGET_POLICY, P.EDIT_FIELD_CATALOGUE, P.CHANGE_SETTINGS,
                                        P.MANAGE_ALL_CONVERSATIONS, P.MANAGE_ALL_JOBS])
def test_a_manager_reads_the_team_but_does_not_change_behaviour_or_others_work(permission):
    with pytest.raises(Forbidden, match="admin role"):
        require(MANAGER, permission)


def test_local_mode_is_admin_and_may_do_everything():
    me = local_identity("rep")
    assert all(can(me, p) for p in Permission)


# ---- owner checks: "a conversation id that is not theirs is refused"

@pytest.mark.parametrize("permission", [P.READ_ALL_CONVERSATIONS, P.READ_ALL_JOBS, P.READ_ALL_NOTES,
                                        P.MANAGE_ALL_CONVERSATIONS, P.MANAGE_ALL_JOBS, P.REVERT_ANY_CHANGE])
def test_a_rep_reaches_their_own_items_and_no_one_elses(permission):
    require_owner_or(REP, "rita@acme.com", permission, what="conversation")
    require_owner_or(REP, "RITA@acme.com", permission)  # owners compare case-insensitively
    with pytest.raises(Forbidden) as exc:
        require_owner_or(REP, OTHER_REP.user, permission, what="conversation")
    assert exc.value.message.startswith("This conversation is not yours.")
    assert OTHER_REP.user not in str(exc.value)  # the refusal does not tell a rep whose it is


@pytest.mark.parametrize("permission, manager_may", [
    (P.READ_ALL_CONVERSATIONS, True), (P.READ_ALL_JOBS, True),                  # read
    (P.MANAGE_ALL_CONVERSATIONS, False), (P.MANAGE_ALL_JOBS, False),            # change: admin only
    (P.READ_ALL_NOTES, False), (P.REVERT_ANY_CHANGE, False),
])
def test_managers_read_everyones_jobs_and_conversations_but_only_admins_change_them(permission, manager_may):
    assert can_owner_or(MANAGER, REP.user, permission) is manager_may
    assert can_owner_or(ADMIN, REP.user, permission)
    assert can_owner_or(MANAGER, MANAGER.user, permission)  # their own, always


def test_an_item_with_no_recorded_owner_opens_only_with_the_permission():
    with pytest.raises(Forbidden):
        require_owner_or(REP, None, P.READ_ALL_CONVERSATIONS)
    require_owner_or(MANAGER, None, P.READ_ALL_CONVERSATIONS)


# ---- query scopes: "the Usage page limited to their own calls"

def test_a_rep_sees_only_their_own_rows():
    scope = visible_users(REP)
    assert not scope.everyone and scope.users == {"rita@acme.com"}
    assert scope.allows("rita@acme.com") and scope.allows("Rita@Acme.com")
    assert not scope.allows("ray@acme.com") and not scope.allows(None)


@pytest.mark.parametrize("who", [MANAGER, ADMIN, local_identity("rep")])
def test_managers_and_admins_see_everyones_usage(who):
    scope = visible_users(who)
    assert scope.everyone and scope.allows("ray@acme.com") and scope.allows(None)


def test_the_scope_follows_the_permission_asked_for():
    assert visible_users(MANAGER, P.READ_ALL_CONVERSATIONS).everyone
    assert not visible_users(MANAGER, P.READ_ALL_NOTES).everyone   # others' notes: admin only
    assert visible_users(MANAGER, P.READ_ALL_NOTES).users == {"max@acme.com"}
    assert visible_users(ADMIN, P.READ_ALL_NOTES).everyone
