"""Tool use: the built-in reply calls a fitting tool, and answers from the tool results."""

from __future__ import annotations

import json

import pytest

MODEL = "claude-haiku-4-5"
LOOKUP = {
    "name": "lookup_contact",
    "description": "Find a CRM contact by email address.",
    "input_schema": {
        "type": "object",
        "properties": {"email": {"type": "string", "format": "email"}, "include_deals": {"type": "boolean"}},
        "required": ["email", "include_deals"],
        "additionalProperties": False,
    },
}
SEARCH = {
    "name": "search_accounts",
    "description": "Search accounts by name.",
    "input_schema": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
    },
}
PIPELINE = {
    "name": "pipeline_summary",
    "description": "Pipeline totals by stage.",
    "input_schema": {"type": "object", "properties": {}},
}
TOOLS = [LOOKUP, SEARCH, PIPELINE]


def _ask(client, question: str, **kw):
    return client.messages.create(
        model=MODEL, max_tokens=500, tools=TOOLS, messages=[{"role": "user", "content": question}], **kw
    )


def test_round_trip_email_lookup(sandbox_client):
    question = "Who is dana.whitfield@acmecorp.com and what stage is her deal in?"
    first = _ask(sandbox_client, question)
    assert first.stop_reason == "tool_use"
    assert first.content[0].type == "text"
    call = first.content[1]
    assert call.type == "tool_use" and call.name == "lookup_contact" and call.id.startswith("toolu_01")
    assert call.input["email"] == "dana.whitfield@acmecorp.com"
    assert set(call.input) == {"email", "include_deals"} and isinstance(call.input["include_deals"], bool)
    record = {"name": "Dana Whitfield", "company": "Acme Corp", "stage": "proposal", "amount": 48000}
    second = sandbox_client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": question},
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": json.dumps(record)}],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    answer = second.content[0].text
    assert "Acme Corp" in answer and "proposal" in answer and "48000" in answer


def test_two_emails_make_two_parallel_calls(sandbox_client):
    message = _ask(sandbox_client, "Can you look up dana@acme.com and raj@globex.io?")
    calls = [b for b in message.content if b.type == "tool_use"]
    assert [c.input["email"] for c in calls] == ["dana@acme.com", "raj@globex.io"]
    assert len({c.id for c in calls}) == 2
    single = _ask(
        sandbox_client,
        "Can you look up dana@acme.com and raj@globex.io?",
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert len([b for b in single.content if b.type == "tool_use"]) == 1


def test_query_tool_with_a_company_name(sandbox_client):
    message = _ask(sandbox_client, "What do we know about Globex Industries?")
    call = next(b for b in message.content if b.type == "tool_use")
    assert call.name == "search_accounts" and call.input["query"] == "Globex Industries"


def test_tool_without_parameters_by_name(sandbox_client):
    message = _ask(sandbox_client, "How does our pipeline look this quarter?")
    call = next(b for b in message.content if b.type == "tool_use")
    assert call.name == "pipeline_summary" and call.input == {}


def test_statement_without_a_fitting_tool_gets_text(sandbox_client):
    message = _ask(sandbox_client, "Thanks, that is all for today.")
    assert message.stop_reason == "end_turn" and [b.type for b in message.content] == ["text"]


def test_forced_tool_choice(sandbox_client):
    message = _ask(sandbox_client, "Hello.", tool_choice={"type": "tool", "name": "lookup_contact"})
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["tool_use"]
    assert message.content[0].name == "lookup_contact"
    assert set(message.content[0].input) == {"email", "include_deals"}  # minimal, schema-valid
    anything = _ask(sandbox_client, "Hello.", tool_choice={"type": "any"})
    assert anything.content[0].type == "tool_use"


def test_tool_error_is_reported(sandbox_client):
    question = "Look up dana@acme.com please?"
    first = _ask(sandbox_client, question)
    call = next(b for b in first.content if b.type == "tool_use")
    second = sandbox_client.messages.create(
        model=MODEL,
        max_tokens=500,
        tools=TOOLS,
        messages=[
            {"role": "user", "content": question},
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": "CRM timeout",
                        "is_error": True,
                    }
                ],
            },
        ],
    )
    assert "failed" in second.content[0].text and "CRM timeout" in second.content[0].text


def test_streamed_tool_input_arrives_as_json_fragments(sandbox_client):
    with sandbox_client.messages.stream(
        model=MODEL,
        max_tokens=500,
        tools=TOOLS,
        messages=[{"role": "user", "content": "Who is raj.patel@globex.io?"}],
    ) as stream:
        fragments = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    call = final.content[-1]
    assert call.input["email"] == "raj.patel@globex.io"
    assert fragments[0] == "" and json.loads("".join(fragments)) == call.input
    assert final.stop_reason == "tool_use"


def test_beta_tool_runner_over_message_threads(sandbox, sandbox_client):
    from anthropic import beta_tool

    calls = []

    @beta_tool
    def lookup_contact(email: str) -> str:
        """Look up a CRM contact by email."""
        calls.append(email)
        return json.dumps({"name": "Dana Whitfield", "company": "Acme Corp"})

    runner = sandbox_client.beta.messages.tool_runner(
        model=MODEL,
        max_tokens=500,
        tools=[lookup_contact],
        messages=[{"role": "user", "content": "Who is dana@acme.com?"}],
    )
    replies = list(runner)
    assert calls == ["dana@acme.com"]
    assert [m.stop_reason for m in replies] == ["tool_use", "end_turn"]
    assert "Acme Corp" in replies[-1].content[0].text
    assert [e["status"] for e in sandbox.journal] == [
        200,
        200,
    ]  # the second turn continued the server-held thread


def test_continuing_an_unknown_thread_is_thread_not_found(sandbox_client):
    import anthropic

    with pytest.raises(anthropic.NotFoundError) as info:
        sandbox_client.post(
            "/v1/messages",
            body={
                "model": MODEL,
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "more"}],
                "thread": {"type": "continue", "previous_message_id": "msg_01nothere"},
            },
            cast_to=object,
        )
    assert info.value.body["error"]["details"] == {"error_code": "thread_not_found"}
