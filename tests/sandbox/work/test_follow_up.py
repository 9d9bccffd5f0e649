"""Follow-up drafts against the sandbox: a prompt bounded by count_tokens, a streamed subject and body,
drafts cut short (Stop, dropped stream) kept and logged, and "Log as sent"."""

import email

import pytest

from lib.core.errors import InputRejected, StreamInterrupted
from lib.core.settings import load_settings
from lib.work import follow_up

MODEL = load_settings().scribe_model_follow_up
NOTES = ("Date: 2026-11-19\nDemo went well. John wants pricing for 40 seats, $48,000 for the first year. "
         "Next step: send the proposal by Friday.")


@pytest.fixture
def db(database):
    """The stores on DuckDB and on Postgres (the same tests, both databases)."""
    return database


def rows(db):
    return db.cursor().execute("SELECT * FROM usage_log ORDER BY id").df()


def prepare(gateway, crm, **kw):
    args = dict(contact_id=1, notes=NOTES, tone="friendly", length="medium", model=MODEL) | kw
    return follow_up.prepare_draft(gateway, crm, **args)


def test_a_draft_streams_a_subject_and_a_greeting_and_is_logged(gateway, crm, db):
    prompt = prepare(gateway, crm)
    draft = follow_up.start_draft(gateway, prompt, length="medium", model=MODEL, user="dana", contact_id=1)
    chunks = list(draft.stream)

    assert len(chunks) > 5
    subject, body = follow_up.split_subject(draft.stream.text)
    assert subject and body.startswith("Hi John,")
    (row,) = rows(db).itertuples()
    assert row.feature == "follow_up" and row.model == MODEL and row.status == "ok" and row.user == "dana"
    assert row.input_tokens + row.cache_creation_input_tokens + row.cache_read_input_tokens == prompt.tokens
    assert "john.smith@acme.com" in prompt.messages[0]["content"] and "Fleet telemetry pilot" in prompt.messages[0][
        "content"]


def test_the_prompt_is_cut_to_the_budget_oldest_interactions_first(gateway, crm):
    for k in range(12):
        crm.log_interaction(1, "call", f"Call number {k:02d}: " + "discussed rollout details at length. " * 12,
                            None, "dana")
    everything = prepare(gateway, crm, budget=100_000)
    assert everything.interactions_dropped == 0 and everything.interactions_used == 14  # 2 seeded + 12

    budget = everything.tokens - 500
    prompt = prepare(gateway, crm, budget=budget)
    text = prompt.messages[0]["content"]
    assert prompt.interactions_dropped > 0 and prompt.interactions_used + prompt.interactions_dropped == 14
    assert prompt.tokens <= budget
    assert gateway.count_tokens(model=MODEL, system=prompt.system, messages=prompt.messages) == prompt.tokens
    assert "Call number 11" in text  # the newest stays
    assert "Call number 00" not in text and "data residency" not in text  # the oldest went first
    assert NOTES in text  # the notes are never cut


def test_notes_over_the_budget_are_refused_before_anything_is_sent(gateway, crm, sandbox):
    with pytest.raises(InputRejected, match="over the budget"):
        prepare(gateway, crm, notes="Long notes. " * 2000, budget=3000)
    assert not [e for e in sandbox.journal if e["path"] == "/v1/messages"]


def test_a_stopped_draft_keeps_its_text_marked_incomplete_and_logged(gateway, crm, db):
    draft = follow_up.start_draft(gateway, prepare(gateway, crm), length="medium", model=MODEL, user="dana")
    iterator = iter(draft.stream)
    first = [next(iterator) for _ in range(3)]
    iterator.close()  # what a Stop click does to st.write_stream's loop
    draft.stream.close()

    assert draft.stream.text == "".join(first) and draft.stream.text.startswith("Subject")
    assert draft.stream.result.incomplete
    (row,) = rows(db).itertuples()
    assert row.feature == "follow_up" and row.status == "aborted" and row.usage_estimated and row.output_tokens >= 1


def test_a_dropped_stream_keeps_the_partial_draft_and_logs_it(gateway, crm, db, sandbox):
    sandbox.script({"fault": {"kind": "disconnect", "after_events": 10}})
    draft = follow_up.start_draft(gateway, prepare(gateway, crm), length="medium", model=MODEL, user="dana")
    with pytest.raises(StreamInterrupted):
        for _ in draft.stream:
            pass
    draft.stream.close()

    assert draft.stream.text and draft.stream.result.incomplete and draft.stream.error is not None
    (row,) = rows(db).itertuples()
    assert row.status == "stream_error" and row.error_type == "disconnect"


def test_log_as_sent_records_the_edited_email_and_ties_the_call_to_it(gateway, crm, db):
    draft = follow_up.start_draft(gateway, prepare(gateway, crm), length="short", model=MODEL, user="dana",
                                  contact_id=1)
    list(draft.stream)
    edited = draft.stream.text.replace("Hi John,", "Hi John, (edited)")
    interaction_id = follow_up.log_as_sent(crm, gateway.usage_log, contact_id=1, text=edited, author="dana",
                                           call_id=draft.call_id)

    latest = crm.recent_interactions(1, limit=1)[0]
    assert latest.id == interaction_id and latest.kind == "email" and latest.author == "dana"
    note = db.cursor().execute("SELECT note, call_id FROM interactions WHERE id = ?", [interaction_id]).fetchone()
    assert note == (edited.strip(), draft.call_id)
    (row,) = rows(db).itertuples()
    assert (row.outcome_kind, row.outcome_ref) == ("follow_up", str(interaction_id))


def test_a_notes_only_draft_and_its_eml(gateway, crm):
    notes = "Met Anna Berg (anna.berg@foo.io) from Foo Inc. She wants a demo next Tuesday; budget $20,000."
    prompt = prepare(gateway, crm, contact_id=None, notes=notes, tone="formal", length="short")
    assert prompt.contact is None and prompt.to_address is None
    draft = follow_up.start_draft(gateway, prompt, length="short", model=MODEL, user="dana")
    text = "".join(draft.stream)

    message = email.message_from_bytes(follow_up.build_eml(text, prompt.to_address))
    assert message["To"] is None and message["Subject"] == follow_up.split_subject(text)[0]
    assert message.get_payload(decode=True).decode().startswith("Hi Anna,")
