"""The Assistant page on the sandbox: a chat turn shows its tool calls, is kept, and can be reopened."""

from lib.services import open_database
from lib.work.conversations import ConversationStore
from lib.work.extraction import NoteExtraction
from tests.app.steps import open_page

QUESTION = "What is the last activity for john.smith@acme.com?"


def ask(app, question):
    app.chat_input[0].set_value(question).run()
    assert not app.exception, app.exception


def test_a_chat_turn_shows_the_tool_call_and_the_answer(app, hermetic_env):
    open_page(app, "assistant")
    ask(app, QUESTION)

    labels = [e.label for e in app.expander]
    assert any("lookup_contact" in label and "john.smith@acme.com" in label for label in labels), labels
    text = " ".join(m.value for m in app.markdown)
    assert "2026-09-11" in text and "data residency" in text  # John Smith's last activity in the sample CRM
    captions = " ".join(c.value for c in app.caption)
    assert "2 call(s)" in captions and "cache read" in captions and "Sandbox output" in captions
    assert "Context sent with the next question" in app.get("progress")[0].proto.text

    (stored,) = ConversationStore(open_database(hermetic_env)).list().to_dict("records")
    assert stored["turns"] == 1 and stored["title"] == QUESTION


def test_a_past_conversation_can_be_reopened(app):
    open_page(app, "assistant")
    ask(app, QUESTION)  # the page reruns after the turn: the new conversation is in the picker, selected
    picker = app.selectbox(key="assistant_pick")
    conversation_id = picker.value
    assert conversation_id != "new" and len(picker.options) == 2

    picker.select("new").run()
    assert not any("lookup_contact" in e.label for e in app.expander)
    app.selectbox(key="assistant_pick").select(conversation_id).run()
    assert any("lookup_contact" in e.label for e in app.expander)
    assert any(QUESTION in m.value for m in app.chat_message[0].markdown)


def test_a_proposed_change_goes_to_the_extract_review(app, app_env):
    app_env.script(
        {"blocks": [{"type": "text", "text": "I'll propose it."},
                    {"type": "tool_use", "name": "propose_change",
                     "input": {"contact_id": 3, "changes": {"title": "Chief Technology Officer"}}}],
         "stop_reason": "tool_use"},
        {"text": "Proposed: Robert Chen's title to Chief Technology Officer. Review it on the Extract page."},
    )
    open_page(app, "assistant")
    ask(app, "Set Robert Chen's title to Chief Technology Officer")
    assert any("Not saved" in i.value for i in app.info)

    next(b for b in app.button if b.label == "Review this change on the Extract page").click().run()
    assert not app.exception, app.exception
    state = app.session_state
    if "extract_incoming" in state:  # the Extract page has not taken it yet
        handed = state["extract_incoming"]
    else:  # the Extract page took it into its review grid
        handed = list(state["extract_review"].notes.values())
    (extraction,) = handed
    assert isinstance(extraction, NoteExtraction)
    (person,) = extraction.people
    assert person.name == "Robert Chen" and person.email == "robert.chen@initech.com"
    assert person.title == "Chief Technology Officer" and person.deal_stage is None
    assert person.quote_for("title") == "Set Robert Chen's title to Chief Technology Officer"
    assert extraction.note == "Set Robert Chen's title to Chief Technology Officer"
    assert extraction.result.call_id and extraction.result.record is not None


def test_a_new_chat_shows_what_tools_and_system_cost_before_the_first_question(app):
    open_page(app, "assistant")
    text = app.get("progress")[0].proto.text
    tokens = int(text.split("question: ")[1].split(" of ")[0].replace(",", ""))
    assert 2000 < tokens < 5000 and "of 50,000 tokens" in text


def contact_links(app):
    return [(link.proto.label, link.proto.query_string) for link in app.get("page_link")
            if link.proto.page.endswith("contacts")]


def test_contacts_named_in_the_answer_are_links_to_their_records_and_stay(app):
    open_page(app, "assistant")
    ask(app, QUESTION)
    assert contact_links(app) == [("John Smith", "contact=1")]  # by name; the id is only in the address
    app.run()  # a second run (any click) draws the stored turn again: the link is still there
    assert contact_links(app) == [("John Smith", "contact=1")]
    open_page(app, "contacts")  # where the link goes, and back
    open_page(app, "assistant")
    assert contact_links(app) == [("John Smith", "contact=1")]
    assert any("lookup_contact" in e.label for e in app.expander)


def test_a_scripted_tool_round_and_answer_are_shown_and_kept(app, app_env, hermetic_env):
    app_env.script(
        {"blocks": [{"type": "text", "text": "Let me look them up."},
                    {"type": "tool_use", "name": "search_contacts", "input": {"query": "Chen"}}],
         "stop_reason": "tool_use"},
        {"text": "Robert Chen is CTO at Initech; Emily Chen works there too."},
    )
    open_page(app, "assistant")
    ask(app, "Who are the Chens?")
    assert any("search_contacts" in e.label and "Chen" in e.label for e in app.expander)
    assert [label for label, _ in contact_links(app)] == ["Robert Chen", "Emily Chen"]  # in the answer's order
    (stored,) = ConversationStore(open_database(hermetic_env)).list().to_dict("records")
    assert stored["turns"] == 1
