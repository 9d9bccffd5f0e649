"""The assistant streamed, through the real SDK against the sandbox: tool rounds are told as they happen
(before the next call is made), the answer arrives in pieces, and Stop keeps what arrived, stores the
turn marked stopped, logs the cut call as aborted, and leaves a history the next question can follow."""

import threading

import pytest

from lib.work.assistant import STOPPED_NOTICE, AnswerText, ToolAnswered, ToolsAsked
from lib.work.conversations import Conversation
from tests.sandbox.work.test_assistant import JOHN, assert_tool_pairs_intact

LONG_ANSWER = " ".join(f"Point {n}: John Smith replied about data residency." for n in range(1, 40))


@pytest.fixture
def db(database):
    return database


def messages_sent(sandbox) -> int:
    return sum(1 for e in sandbox.journal if e["path"] == "/v1/messages")


def usage_rows(db):
    return db.cursor().execute("SELECT * FROM usage_log ORDER BY id").df()


def test_tool_rounds_are_told_as_they_happen_and_the_answer_arrives_in_pieces(assistant, sandbox, store):
    conv = Conversation.new("dana")
    turn_stream = assistant.stream(conv, f"What is the last activity for {JOHN}?")
    seen = []  # (event, Messages calls made so far, turn stored yet)
    for event in turn_stream:
        seen.append((event, messages_sent(sandbox), turn_stream.kept))

    kinds = [type(e).__name__ for e, _, _ in seen]
    asked_at = kinds.index("ToolsAsked")
    assert kinds[asked_at + 1] == "ToolAnswered" and set(kinds[:asked_at]) <= {"AnswerText"}
    asked, calls_then, stored_then = seen[asked_at]
    (call,) = asked.calls
    assert call.name == "lookup_contact" and call.input == {"email": JOHN} and call.content == ""
    assert calls_then == 1 and not stored_then  # shown before Claude is asked again, and before the turn ends
    answered, calls_then, _ = seen[asked_at + 1]
    assert answered.call.id == call.id and "2026-09-11 email: Replied to questions on data residency" in \
        answered.call.content and not answered.call.is_error and calls_then == 1
    final = [e for e, _, _ in seen[asked_at + 2:]]
    assert all(isinstance(e, AnswerText) and e.round == 2 for e in final)
    assert len(final) > 3  # the answer came in pieces, not at once
    turn = turn_stream.turn
    assert "".join(e.text for e in final) == turn.answer and "data residency" in turn.answer
    assert turn_stream.kept and turn_stream.finished and not turn_stream.stopped and turn.notice is None
    assert store.load(conv.id).turns[0].answer == turn.answer  # stored as ask() stores it


def test_stop_keeps_the_partial_answer_stores_the_turn_as_stopped_and_logs_the_call_aborted(assistant, sandbox,
                                                                                          store, db):
    sandbox.script({"blocks": [{"type": "tool_use", "name": "lookup_contact", "input": {"email": JOHN}}],
                    "stop_reason": "tool_use"}, {"text": LONG_ANSWER})
    conv = Conversation.new("dana")
    turn_stream = assistant.stream(conv, f"Tell me everything about {JOHN}")
    received = []
    for event in turn_stream:
        if isinstance(event, AnswerText) and event.round == 2:
            received.append(event.text)
            if len(received) == 3:
                break  # as a Stop click interrupts the page's loop
    turn_stream.close()  # what the page's `finally` does

    turn = turn_stream.turn
    partial = "".join(received)
    assert turn_stream.stopped and turn.notice == STOPPED_NOTICE
    assert turn.answer == partial and 0 < len(partial) < len(LONG_ANSWER)
    assert turn.messages[-1] == {"role": "assistant", "content": [{"type": "text", "text": partial}]}
    assert_tool_pairs_intact(turn.messages)
    (stored,) = store.load(conv.id).turns
    assert stored.answer == partial and stored.notice == STOPPED_NOTICE
    rows = usage_rows(db)
    assert list(rows["status"]) == ["ok", "aborted"] and bool(rows.iloc[-1]["usage_estimated"])
    assert rows.iloc[-1]["output_tokens"] > 0
    assert len(turn.calls) == 2 and turn.calls[-1].call_id == rows.iloc[-1]["call_id"]
    turn_stream.close()  # idempotent
    assert len(store.load(conv.id).turns) == 1

    after = assistant.ask(conv, f"What is the last activity for {JOHN}?")  # the history is still valid
    assert after.error is None and "data residency" in after.answer


def test_stop_while_the_tools_run_answers_the_tools_not_run(assistant, sandbox, store):
    sandbox.script({"blocks": [{"type": "tool_use", "name": "lookup_contact", "input": {"email": JOHN}},
                               {"type": "tool_use", "name": "pipeline_summary", "input": {}}],
                    "stop_reason": "tool_use"})
    conv = Conversation.new("dana")
    turn_stream = assistant.stream(conv, "John, and the pipeline?")
    for event in turn_stream:
        if isinstance(event, ToolAnswered):
            break  # the first tool has run, the second has not
    turn_stream.close()

    turn = turn_stream.turn
    first, second = turn.tool_calls()
    assert not first.is_error and second.is_error and second.content == "Not run: the rep stopped the turn."
    assert turn.notice == STOPPED_NOTICE and turn.messages[-1]["role"] == "assistant"
    assert_tool_pairs_intact(turn.messages)
    assert messages_sent(sandbox) == 1  # Claude was not asked again
    after = assistant.ask(conv, f"What is the last activity for {JOHN}?")
    assert after.error is None and "data residency" in after.answer


def test_stop_from_another_thread_ends_the_turn_and_a_question_that_is_refused_stores_nothing(assistant, store):
    conv = Conversation.new("dana")
    turn_stream = assistant.stream(conv, f"What is the last activity for {JOHN}?")
    events = iter(turn_stream)
    first = next(events)
    assert isinstance(first, AnswerText | ToolsAsked)
    turn_stream.stop(wait_s=0)  # the reader is idle (a run that was interrupted): the stop ends the turn itself
    assert turn_stream.finished and turn_stream.kept and turn_stream.turn.notice == STOPPED_NOTICE
    assert list(events) == []
    with pytest.raises(Exception, match="empty"):
        assistant.stream(conv, "   ")
    assert len(store.load(conv.id).turns) == 1


def test_stop_from_another_run_while_the_reader_is_held_up_keeps_the_turn(assistant, store, db):
    """The next Streamlit run stops a turn whose run is not reading (it waits on the page): the turn ends."""
    conv = Conversation.new("dana")
    turn_stream = assistant.stream(conv, f"What is the last activity for {JOHN}?")
    first_seen, resume, seen = threading.Event(), threading.Event(), []

    def reader():
        for event in turn_stream:
            seen.append(event)
            if len(seen) == 1:
                first_seen.set()
                resume.wait(10)

    thread = threading.Thread(target=reader)
    thread.start()
    assert first_seen.wait(10)
    turn_stream.stop(wait_s=0.2)
    assert turn_stream.finished and turn_stream.kept and turn_stream.turn.notice == STOPPED_NOTICE
    resume.set()
    thread.join(10)
    assert not thread.is_alive() and len(seen) == 1  # the reader's loop simply ends
    assert store.load(conv.id).turns[0].notice == STOPPED_NOTICE
    assert list(usage_rows(db)["status"]) == ["aborted"]
    assert not conv.lock.locked()  # the next question can start
