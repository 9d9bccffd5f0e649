"""The role checks in lib/services.py: every Services method that reads or writes per-user data, for
a rep, a manager and an admin (the pages call these; a hidden page is not the check)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lib import services as wiring
from lib.auth import Forbidden, Identity, Role
from lib.bulk.input import NoteRow
from lib.claude.backend import Backend
from lib.crm.records import ProposedRow, SaveRequest
from lib.usage.log import UsageLog, UsageRecord
from lib.usage.queries import UsageFilter
from lib.work.conversations import Conversation

RITA = Identity("rita@acme.com", "Rita", Role.REP)
ROB = Identity("rob@acme.com", "Rob", Role.REP)
MAX = Identity("max@acme.com", "Max", Role.MANAGER)
ANA = Identity("ana@acme.com", "Ana", Role.ADMIN)


@pytest.fixture
def app(db):
    s = wiring.build(db=db, backend=Backend(kind="sandbox", base_url="http://127.0.0.1:9", api_key="test"))
    yield s
    if s._jobs is not None:
        s._jobs.shutdown()


def test_a_rep_reads_only_their_own_conversations_and_a_manager_reads_but_does_not_continue(app):
    mine, theirs = Conversation.new(RITA.user), Conversation.new(ROB.user)
    for c in (mine, theirs):
        app.conversations.save(c)
    assert set(app.conversation_list(RITA)["id"]) == {mine.id}
    assert app.open_conversation(RITA, mine.id).id == mine.id
    with pytest.raises(Forbidden) as refused:
        app.open_conversation(RITA, theirs.id)
    assert "rob" not in refused.value.message  # never says whose it is
    with pytest.raises(Forbidden):
        app.open_conversation(RITA, "no-such-id")  # the same refusal: ids cannot be probed
    assert set(app.conversation_list(MAX)["id"]) == {mine.id, theirs.id}
    assert app.open_conversation(MAX, theirs.id).user == ROB.user
    assert not app.may_continue(MAX, theirs) and app.may_continue(ANA, theirs) and app.may_continue(ROB, theirs)
    with pytest.raises(Forbidden):
        app.check_continue(MAX, theirs)


def test_jobs_a_rep_sees_and_manages_only_their_own(app):
    store = app.jobs().store
    mine = store.create_job(kind="live", user=RITA.user, model="m", rows=[NoteRow(1, "n")], max_tokens=10)
    theirs = store.create_job(kind="live", user=ROB.user, model="m", rows=[NoteRow(1, "n")], max_tokens=10)
    assert [j.id for j in app.job_list(RITA)] == [mine]
    assert {j.id for j in app.job_list(MAX)} == {mine, theirs}
    with pytest.raises(Forbidden):
        app.job_for(RITA, theirs)
    assert app.job_for(MAX, theirs).id == theirs
    with pytest.raises(Forbidden):
        app.cancel_job(MAX, theirs)  # managers read everyone's jobs; only admins cancel them
    with pytest.raises(Forbidden):
        app.retry_job(RITA, theirs)
    app.cancel_job(ANA, theirs)
    app.cancel_job(RITA, mine)


def _row(user: str, cost: str) -> UsageRecord:
    return UsageRecord(ts=datetime.now(UTC), call_id=f"c-{user}", backend="sandbox", model="claude-sonnet-4-6",
                       feature="summarize", user=user, status="ok", cost_usd=Decimal(cost), input_tokens=10,
                       output_tokens=5)


def test_usage_a_rep_sees_only_their_own_calls(app):
    log = UsageLog(app.db)
    log.write(_row(RITA.user, "1"))
    log.write(_row(ROB.user, "2"))
    today = datetime.now(UTC).date()
    wide = UsageFilter.for_days(today - timedelta(days=1), today, backend="sandbox", users=(ROB.user,))
    assert app.usage_filter(RITA, wide).users == (RITA.user,)  # asking for Rob's rows gives her own
    assert app.usage_filter(MAX, wide) == wide
    assert app.usage_options(RITA, "sandbox").users == [RITA.user]
    assert set(app.usage_options(MAX, "sandbox").users) == {RITA.user, ROB.user}
    assert app.spend_today(RITA, "sandbox") == (Decimal(1), False)
    assert app.spend_today(MAX, "sandbox") == (Decimal(3), True)


def test_budgets_need_a_manager_and_the_policy_an_admin(app):
    for call in (lambda: app.budget_statuses("sandbox", RITA), lambda: app.budget_list(RITA),
                 lambda: app.set_budget(RITA, "team", "", "day", Decimal(5)),
                 lambda: app.delete_budget(RITA, "team", "", "day")):
        with pytest.raises(Forbidden):
            call()
    budget = app.set_budget(MAX, "team", "", "day", Decimal(5))
    assert app.budget_list(MAX) == [budget]
    assert app.budget_statuses("sandbox", MAX)
    with pytest.raises(Forbidden):
        app.set_budget(MAX, "team", "", "day", Decimal(5), policy="step_down")
    app.set_budget(ANA, "team", "", "day", Decimal(5), policy="step_down")
    who = app.db.cursor().execute('SELECT * FROM budgets').fetchall()[0]
    assert ANA.user in who  # recorded as the identity's user


def test_import_needs_a_manager_and_records_the_importer(app):
    rows = [{"name": "Zed Zimmer", "email": "zed@example.org"}]
    with pytest.raises(Forbidden):
        app.import_contacts(rows, RITA)
    result = app.import_contacts(rows, MAX)
    assert {c.approved_by for c in app.crm.history(result.change_set_id)} == {MAX.user}


def test_reconciliation_needs_an_admin(app):
    now = datetime.now(UTC)
    for who in (RITA, MAX):
        with pytest.raises(Forbidden) as refused:
            app.cost_report(who, starting_at=now - timedelta(days=1), ending_at=now)
        assert "admin role" in refused.value.message


def test_undo_of_someone_elses_save_needs_an_admin(app):
    def save(user: str) -> str:
        row = ProposedRow(contact_id=1, values={"title": f"T {user}"}, call_id="x")
        return app.save_review(SaveRequest(review_key=f"r-{user}", user=user, rows=[row])).change_set_id

    robs = save(ROB.user)
    assert {c.approved_by for c in app.crm.history(robs)} == {ROB.user}
    for who in (RITA, MAX):
        with pytest.raises(Forbidden):
            app.undo_save(robs, who)
    history_id = app.crm.history(robs)[0].id
    with pytest.raises(Forbidden):
        app.revert_change(history_id, RITA)
    assert app.undo_save(robs, ANA).change_set_id
    ritas = save(RITA.user)
    assert app.undo_save(ritas, RITA).change_set_id  # her own: always


def test_a_malformed_role_setting_stops_the_start_with_the_entry_named(db, monkeypatch):
    from lib.auth import AuthConfigError
    from lib.core.settings import load_settings

    monkeypatch.setenv("SCRIBE_MANAGER_EMAILS", "max@acme.com, not-an-email")
    with pytest.raises(AuthConfigError, match="not-an-email"):
        wiring.build(load_settings(), db=db, backend=Backend(kind="sandbox", base_url=None, api_key="t"))
