"""litellm (a client nobody here wrote) against the sandbox: create, stream, tools, structured output."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no download of the cost map: offline
litellm = pytest.importorskip("litellm", reason="pip install -r requirements-test.txt")

MODEL = "anthropic/claude-haiku-4-5"
NOTE = ("Date: 2026-11-19\nSpoke with Dana Whitfield (dana.whitfield@acmecorp.com), VP of Sales at Acme Corp. "
        "Dana confirmed a budget of $48,000 for 40 seats. Next step: Dana will walk her CFO through the "
        "proposal next Tuesday.")


def _call(sandbox, **kw):
    return litellm.completion(model=MODEL, api_base=sandbox.base_url, api_key="sk-test-litellm", num_retries=0,
                              max_tokens=kw.pop("max_tokens", 400), **kw)


def _requests(sandbox):
    return [e for e in sandbox.journal if e["path"] == "/v1/messages"]


def test_create(sandbox):
    reply = _call(sandbox, messages=[{"role": "system", "content": "Answer in one sentence."},
                                     {"role": "user", "content": "What is a pipeline stage?"}])
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert [e["status"] for e in _requests(sandbox)] == [200]


def test_stream_gives_the_same_text_as_create(sandbox):
    messages = [{"role": "user", "content": NOTE}]
    whole = _call(sandbox, messages=messages).choices[0].message.content
    parts = [c.choices[0].delta.content or "" for c in _call(sandbox, messages=messages, stream=True)]
    assert len(parts) > 3 and "".join(parts) == whole
    assert [e["stream"] for e in _requests(sandbox)] == [False, True]


TOOL = {"type": "function", "function": {
    "name": "lookup_contact", "description": "Find a contact by email.",
    "parameters": {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}}}


def test_tools(sandbox):
    reply = _call(sandbox, messages=[{"role": "user", "content": "Who is dana.whitfield@acmecorp.com?"}],
                  tools=[TOOL])
    (call,) = reply.choices[0].message.tool_calls
    assert call.function.name == "lookup_contact"
    assert json.loads(call.function.arguments) == {"email": "dana.whitfield@acmecorp.com"}
    assert reply.choices[0].finish_reason == "tool_calls"
    forced = _call(sandbox, messages=[{"role": "user", "content": "Find Dana."}], tools=[TOOL],
                   tool_choice={"type": "function", "function": {"name": "lookup_contact"}})
    assert forced.choices[0].message.tool_calls[0].function.name == "lookup_contact"


def test_tool_result_round_trip(sandbox):
    first = _call(sandbox, messages=[{"role": "user", "content": "Who is dana.whitfield@acmecorp.com?"}],
                  tools=[TOOL])
    call = first.choices[0].message.tool_calls[0]
    reply = _call(sandbox, tools=[TOOL], messages=[
        {"role": "user", "content": "Who is dana.whitfield@acmecorp.com?"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"name": "Dana Whitfield", "title": "VP"})}])
    assert "Dana Whitfield" in reply.choices[0].message.content


def test_structured_output(sandbox):
    schema = {"type": "object", "additionalProperties": False, "required": ["name", "email", "seats"],
              "properties": {"name": {"type": "string"}, "email": {"type": "string"},
                             "seats": {"type": "integer", "minimum": 1, "maximum": 1000}}}
    reply = _call(sandbox, max_tokens=800, messages=[{"role": "user", "content": NOTE}],
                  response_format={"type": "json_schema", "json_schema": {"name": "contact", "schema": schema,
                                                                          "strict": True}})
    value = json.loads(reply.choices[0].message.content)
    assert value["name"] == "Dana Whitfield" and value["email"] == "dana.whitfield@acmecorp.com"
    assert 1 <= value["seats"] <= 1000
    assert all(e["status"] == 200 for e in _requests(sandbox))
