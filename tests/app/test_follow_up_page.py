"""The Follow-up page on the sandbox: a draft streams into an editor, and can be logged as sent."""

from lib.crm.builtin import BuiltinCrm
from lib.services import open_database
from lib.usage.log import UsageLog
from tests.app.steps import click, open_page


def test_a_draft_for_a_contact_fills_the_editor(app, hermetic_env):
    open_page(app, "follow_up")
    app.text_input(key="follow_up_query").input("john.smith@acme").run()
    app.selectbox(key="follow_up_contact").select(1).run()
    app.text_area(key="follow_up_notes").input("Date: 2026-11-19\nDemo went well; John wants pricing for 40 seats, "
                                               "$48,000. Next step: send the proposal by Friday.").run()
    click(app, "Draft")

    draft = app.text_area(key="follow_up_text").value
    assert draft.startswith("Subject: ") and "Hi John," in draft
    captions = " ".join(c.value for c in app.caption)
    assert "Sandbox output" in captions and "cache write" in captions and "measured with count_tokens" in captions
    assert not app.main.warning  # complete, not cut short (the sidebar has the sandbox badge)
    assert any(d.proto.label == "Download .eml" for d in app.get("download_button"))

    click(app, "Log as sent")
    assert any("Logged as interaction" in s.value for s in app.success)
    db = open_database(hermetic_env)
    latest = BuiltinCrm(db).recent_interactions(1, limit=1)[0]
    assert latest.kind == "email" and latest.summary.startswith("Follow-up email sent: ")
    row = UsageLog(db).recent(limit=1).iloc[0]
    assert row["feature"] == "follow_up" and row["outcome_kind"] == "follow_up"
    assert row["outcome_ref"] == str(latest.id)


def test_nothing_to_write_about_is_a_message_not_a_call(app, hermetic_env):
    open_page(app, "follow_up")
    click(app, "Draft")
    assert any("Nothing to write about yet" in e.value for e in app.error)
    assert UsageLog(open_database(hermetic_env)).recent().empty


def test_a_dropped_stream_keeps_the_partial_draft_with_the_error(app, app_env, hermetic_env):
    app_env.script({"fault": {"kind": "disconnect", "after_events": 12}})
    open_page(app, "follow_up")
    app.text_area(key="follow_up_notes").input("Met Anna Berg (anna.berg@foo.io) from Foo Inc. She wants a demo "
                                               "next Tuesday; budget $20,000.").run()
    click(app, "Draft")

    assert any("dropped part-way" in e.value for e in app.error)
    partial = app.text_area(key="follow_up_text").value
    assert partial.startswith("Subject: ") and "Best regards," not in partial
    row = UsageLog(open_database(hermetic_env)).recent(limit=1).iloc[0]
    assert row["status"] == "stream_error" and row["usage_estimated"]
