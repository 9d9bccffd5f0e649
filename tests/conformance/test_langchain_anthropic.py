"""langchain-anthropic (a client nobody here wrote) against the sandbox: create, stream, tools, structured output.

These fail when the sandbox drifts from what real clients expect on the wire, or refuses what they send.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
langchain_anthropic = pytest.importorskip("langchain_anthropic", reason="pip install -r requirements-test.txt")

MODEL = "claude-haiku-4-5"
NOTE = ("Date: 2026-11-19\nSpoke with Dana Whitfield (dana.whitfield@acmecorp.com), VP of Sales at Acme Corp. "
        "Dana confirmed a budget of $48,000 for 40 seats. Next step: Dana will walk her CFO through the "
        "proposal next Tuesday.")


class Contact(BaseModel):
    """A contact read from a note."""

    name: str = Field(description="Full name")
    email: str | None = Field(default=None, description="Work email")
    company: str | None = None
    seats: int = Field(ge=1, le=1000, description="Seats discussed")


def _llm(sandbox, **kw):
    return langchain_anthropic.ChatAnthropic(model=MODEL, base_url=sandbox.base_url, api_key="sk-test-langchain",
                                            max_tokens=kw.pop("max_tokens", 400), max_retries=0, **kw)


def _requests(sandbox):
    return [e for e in sandbox.journal if e["path"] == "/v1/messages"]


def test_create(sandbox):
    reply = _llm(sandbox).invoke([("system", "Answer in one sentence."), ("human", "What is a pipeline stage?")])
    assert isinstance(reply.content, str) and reply.content
    assert reply.usage_metadata["input_tokens"] > 0 and reply.usage_metadata["output_tokens"] > 0
    assert reply.response_metadata["stop_reason"] == "end_turn"
    assert [e["status"] for e in _requests(sandbox)] == [200]


def test_stream_gives_the_same_text_as_create(sandbox):
    llm = _llm(sandbox)
    whole = llm.invoke(NOTE).content
    chunks = list(llm.stream(NOTE))
    assert len(chunks) > 3
    streamed = "".join(c.content if isinstance(c.content, str) else
                       "".join(p.get("text", "") for p in c.content if isinstance(p, dict)) for c in chunks)
    assert streamed == whole
    merged = chunks[0]
    for c in chunks[1:]:
        merged = merged + c
    assert merged.usage_metadata["output_tokens"] > 0
    assert [e["stream"] for e in _requests(sandbox)] == [False, True]


def test_tools(sandbox):
    lookup = {"name": "lookup_contact", "description": "Find a contact by email.",
              "input_schema": {"type": "object", "properties": {"email": {"type": "string"}},
                               "required": ["email"], "additionalProperties": False}}
    llm = _llm(sandbox).bind_tools([lookup])
    reply = llm.invoke("Who is dana.whitfield@acmecorp.com?")
    (call,) = reply.tool_calls
    assert call["name"] == "lookup_contact" and call["args"] == {"email": "dana.whitfield@acmecorp.com"}
    forced = _llm(sandbox).bind_tools([lookup], tool_choice="lookup_contact").invoke("Find Dana.")
    assert forced.tool_calls[0]["name"] == "lookup_contact" and "email" in forced.tool_calls[0]["args"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output(sandbox, method):
    llm = _llm(sandbox, max_tokens=1000).with_structured_output(Contact, method=method)
    contact = llm.invoke(NOTE)
    assert isinstance(contact, Contact)
    assert contact.name == "Dana Whitfield" and contact.email == "dana.whitfield@acmecorp.com"
    assert 1 <= contact.seats <= 1000
    assert all(e["status"] == 200 for e in _requests(sandbox))
