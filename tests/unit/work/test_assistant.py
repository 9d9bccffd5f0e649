"""The assistant's pure parts: turns and their steps, closing a cut-short turn, the summary transcript,
proposals as extractions, and conversations kept whole in DuckDB."""

from datetime import date

from lib.claude.gateway import CallResult
from lib.core.errors import ScribeError
from lib.crm.records import DealStage
from lib.work.assistant import close_turn, starts_turn, to_extraction, transcript, usage_summary
from lib.work.conversations import CallUsage, Conversation, ConversationStore, Proposal, Turn

QUESTION = "Mark the Acme deal closed-won, John signed today"


def tool_turn(seq=1, error=False):
    return Turn(seq=seq, question="Who is john.smith@acme.com?", messages=[
        {"role": "user", "content": [{"type": "text", "text": "Who is john.smith@acme.com?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "I'll look."},
            {"type": "tool_use", "id": "toolu_1", "name": "lookup_contact", "input": {"email": "john.smith@acme.com"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"name":"John"}',
                                      **({"is_error": True} if error else {})}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It is John Smith."}]},
    ], calls=[CallUsage(call_id="c1", model="claude-opus-4-8", backend="sandbox", input_tokens=10, output_tokens=5,
                        cache_read_input_tokens=100, cost_usd="0.001"),
              CallUsage(call_id="c2", model="claude-opus-4-8", backend="sandbox", input_tokens=20, output_tokens=7,
                        cost_usd="0.002")])


def proposal(changes):
    usage = CallUsage(call_id="call-9", model="claude-opus-4-8", backend="sandbox", request_id="req_9")
    return Proposal(tool_use_id="toolu_9", contact_id=1, name="John Smith", email="john.smith@acme.com",
                    company="Acme Corp.", changes=changes, current={}, question=QUESTION, usage=usage)


def test_steps_pair_each_tool_call_with_its_result():
    turn = tool_turn()
    text, call, answer = turn.steps()
    assert text == "I'll look." and answer == "It is John Smith." == turn.answer
    assert call.name == "lookup_contact" and call.content == '{"name":"John"}' and not call.is_error
    assert call.label == "lookup_contact(email='john.smith@acme.com')"
    assert tool_turn(error=True).tool_calls()[0].label.endswith("· error")


def test_a_turn_cut_short_is_closed_with_a_marked_note_that_is_not_shown_as_claude():
    turn = tool_turn()
    turn.messages = turn.messages[:3]  # ends with the tool results
    close_turn(turn, "Stopped after 6 rounds.")
    assert turn.messages[-1] == {"role": "assistant",
                                 "content": [{"type": "text", "text": "[Scribe] Stopped after 6 rounds."}]}
    assert turn.answer == "" and len(turn.steps()) == 2
    close_turn(turn, "again")  # already ends with the assistant: unchanged
    assert len(turn.messages) == 4


def test_context_starts_at_a_turn_and_turn_starts_are_plain_user_questions():
    conv = Conversation.new("dana")
    conv.turns = [tool_turn(1), tool_turn(2)]
    conv.context_start = 1
    assert conv.context_messages() == conv.turns[1].messages and len(conv.all_messages()) == 8
    assert starts_turn(conv.context_messages()[0])
    assert not starts_turn(conv.turns[0].messages[2]) and not starts_turn(conv.turns[0].messages[1])
    assert starts_turn({"role": "user", "content": "plain"})


def test_the_transcript_for_the_summary_renders_tool_pairs_inline():
    text = transcript("Earlier: asked about Initech.", [tool_turn()])
    assert text.startswith("<earlier_summary>\nEarlier: asked about Initech.")
    assert 'Tool lookup_contact({"email": "john.smith@acme.com"}) result: {"name":"John"}' in text
    assert "Rep: Who is john.smith@acme.com?" in text and "Assistant: It is John Smith." in text


def test_usage_summary_adds_up_the_calls_of_a_turn():
    line = usage_summary(tool_turn())
    assert line.startswith("2 call(s) · 30 in · 12 out · cache read 100 · cache write 0 · $0.0030")
    turn = tool_turn()
    turn.calls[1].cost_usd = None
    assert "price unknown" in usage_summary(turn)


def test_a_proposal_becomes_an_extraction_with_the_request_as_evidence():
    extraction = to_extraction(proposal({"deal_stage": "closed_won", "next_step": "Kick-off"}), today=date(2026, 11, 20))
    (person,) = extraction.people
    assert extraction.note == QUESTION and extraction.note_date == date(2026, 11, 20)
    assert (person.name, person.email, person.company) == ("John Smith", "john.smith@acme.com", "Acme Corp.")
    assert person.deal_stage is DealStage.closed_won and person.next_step == "Kick-off" and person.title is None
    assert person.quote_for("deal_stage") == QUESTION and person.quote_for("email") is None
    assert extraction.result.call_id == "call-9" and extraction.result.request_id == "req_9"

    live = proposal({"title": "CTO"})
    live.result = CallResult(call_id="call-9", backend="sandbox", model="claude-opus-4-8")
    assert to_extraction(live).result is live.result


def test_a_conversation_is_stored_whole_and_reopened(database):
    store = ConversationStore(database)
    conv = Conversation.new("dana", model="claude-opus-4-8")
    conv.title = "Who is John"
    first = tool_turn(1)
    first.proposals = [proposal({"title": "CTO"})]
    second = tool_turn(2)
    second.error, second.notice = ScribeError("Claude is busy.", "Try again."), "No answer."
    for turn in (first, second):
        conv.turns.append(turn)
        store.save_turn(conv, turn)
    conv.summary, conv.context_start, conv.context_tokens = "Asked about John.", 1, 4321
    store.save(conv)
    store.save_turn(Conversation.new("li"), tool_turn(1))

    (listed,) = store.list(user="dana").to_dict("records")
    assert listed["id"] == conv.id and listed["turns"] == 2 and listed["title"] == "Who is John"
    again = store.load(conv.id)
    assert again.all_messages() == conv.all_messages() and again.summary == "Asked about John."
    assert (again.context_start, again.context_tokens, again.model) == (1, 4321, "claude-opus-4-8")
    assert again.turns[0].proposals[0].changes == {"title": "CTO"} and again.turns[0].calls == first.calls
    assert again.turns[1].error.message == "Claude is busy." and again.turns[1].error.hint == "Try again."
    assert store.load("nope") is None and len(store.list()) == 2


def test_contacts_named_in_tool_results_are_linked_when_the_answer_mentions_them():
    from lib.work.assistant import mentioned_contacts
    from lib.work.assistant_tools import contacts_in

    found = contacts_in(['{"contact_id":1,"name":"John Smith","email":"john.smith@acme.com"}',
                         '[{"contact_id":3,"name":"Robert Chen"},{"contact_id":4,"name":"Emily Chen"}]',
                         "No contact matches 'zed'; try a last name", '{"deal_id":7,"name":"Acme pilot"}',
                         '{"contact_id":"5","name":"Not an id"}'])
    assert found == {1: "John Smith", 3: "Robert Chen", 4: "Emily Chen"}

    turn = tool_turn()
    turn.messages[2]["content"][0]["content"] = '{"contact_id":1,"name":"John Smith"}'
    turn.messages[3]["content"][0]["text"] = "It is john smith, of Acme."
    assert mentioned_contacts(turn) == [(1, "John Smith")]  # found by a tool, named in the answer (any case)
    turn.messages[3]["content"][0]["text"] = "It is someone else."
    assert mentioned_contacts(turn) == []  # looked up, but not in the answer: no link
    error = tool_turn(error=True)
    error.messages[2]["content"][0]["content"] = '{"contact_id":1,"name":"John"}'
    assert mentioned_contacts(error) == []  # an error result names nobody
