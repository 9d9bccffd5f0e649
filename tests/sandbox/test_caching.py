"""Prompt caching (claude-api.md §5) and the one token counter (count_tokens == usage)."""

from __future__ import annotations

import pytest

MODEL = "claude-sonnet-4-6"  # minimum cacheable prefix 1024 tokens
POLICY = "Refunds are accepted within 30 days of purchase with a receipt. " * 120  # ~2,000 tokens
TOOLS = [
    {
        "name": "lookup",
        "description": "Look up an order by its number. " * 160,
        "input_schema": {"type": "object", "properties": {"order": {"type": "string"}}},
    }
]


def _system(ttl: str | None = None, text: str = POLICY):
    marker = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return [{"type": "text", "text": text, "cache_control": marker}]


def _ask(client, question: str = "Can I return a jacket?", **kw):
    params = {
        "model": MODEL,
        "max_tokens": 100,
        "system": _system(),
        "messages": [{"role": "user", "content": question}],
    }
    params.update(kw)
    return client.messages.create(**params)


def _total(usage) -> int:
    return usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens


def test_first_call_writes_second_reads_and_input_is_only_the_tail(sandbox_client):
    first = _ask(sandbox_client).usage
    assert first.cache_creation_input_tokens > 1024
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert first.cache_read_input_tokens == 0
    second = _ask(sandbox_client, "What about shoes bought online?").usage
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert 0 < second.input_tokens < 30  # only the user turn after the breakpoint


def test_5m_and_1h_split(sandbox_client):
    tools = [{**TOOLS[0], "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    usage = _ask(sandbox_client, tools=tools, system=_system("5m")).usage
    assert usage.cache_creation.ephemeral_1h_input_tokens > 0
    assert usage.cache_creation.ephemeral_5m_input_tokens > 1000
    assert usage.cache_creation_input_tokens == (
        usage.cache_creation.ephemeral_1h_input_tokens + usage.cache_creation.ephemeral_5m_input_tokens
    )


def test_a_short_prefix_is_never_cached(sandbox_client):
    for _ in range(2):
        usage = _ask(sandbox_client, system=_system(text="You are terse.")).usage
        assert usage.cache_creation_input_tokens == 0 and usage.cache_read_input_tokens == 0


def test_minimum_is_per_model_and_configurable(sandbox, sandbox_client):
    # ~2,000 tokens: enough for Sonnet 4.6 (1024) but not for Haiku 4.5 (4096).
    assert _ask(sandbox_client, model="claude-haiku-4-5").usage.cache_creation_input_tokens == 0
    sandbox.configure(cache_min_tokens={"claude-haiku-4-5": 512})
    assert _ask(sandbox_client, model="claude-haiku-4-5").usage.cache_creation_input_tokens > 0


def test_expiry_on_the_virtual_clock(sandbox, sandbox_client):
    _ask(sandbox_client)
    sandbox.clock.advance(301)
    usage = _ask(sandbox_client).usage
    assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens > 0


def test_one_hour_ttl_survives_five_minutes(sandbox, sandbox_client):
    _ask(sandbox_client, system=_system("1h"))
    sandbox.clock.advance(600)
    assert _ask(sandbox_client, system=_system("1h")).usage.cache_read_input_tokens > 0


def test_reads_refresh_the_ttl(sandbox, sandbox_client):
    _ask(sandbox_client)
    sandbox.clock.advance(200)
    assert _ask(sandbox_client).usage.cache_read_input_tokens > 0  # read at ~200 s refreshes to ~500 s
    sandbox.clock.advance(200)
    assert _ask(sandbox_client).usage.cache_read_input_tokens > 0  # 400 s after the write, still alive


def test_cache_is_per_model_and_per_key(sandbox, sandbox_client):
    _ask(sandbox_client)
    assert _ask(sandbox_client, model="claude-opus-4-8").usage.cache_read_input_tokens == 0
    other = sandbox_client.with_options(api_key="sk-test-other-key")
    assert _ask(other).usage.cache_read_input_tokens == 0


def test_automatic_cache_control_moves_forward_with_the_conversation(sandbox_client):
    turn1 = [{"role": "user", "content": POLICY + " First question?"}]
    first = sandbox_client.messages.create(
        model=MODEL, max_tokens=50, messages=turn1, cache_control={"type": "ephemeral"}
    )
    assert first.usage.cache_creation_input_tokens == _total(first.usage)  # breakpoint on the last block
    assert first.usage.input_tokens == 0
    turn2 = turn1 + [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "And a follow-up?"},
    ]
    second = sandbox_client.messages.create(
        model=MODEL, max_tokens=50, messages=turn2, cache_control={"type": "ephemeral"}
    )
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens > 0  # the new turns are written too
    assert second.usage.input_tokens == 0


@pytest.mark.parametrize("cached", [False, True])
def test_count_tokens_equals_usage(sandbox_client, cached):
    system = _system() if cached else [{"type": "text", "text": POLICY}]
    params = {
        "model": MODEL,
        "system": system,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "Can I return it?"}],
    }
    counted = sandbox_client.messages.count_tokens(**params).input_tokens
    for _ in range(2):  # a write, then a read: the total never changes
        usage = sandbox_client.messages.create(max_tokens=50, **params).usage
        assert _total(usage) == counted


def test_count_tokens_never_touches_the_cache(sandbox_client):
    params = {"model": MODEL, "system": _system(), "messages": [{"role": "user", "content": "Hello?"}]}
    sandbox_client.messages.count_tokens(**params)
    assert sandbox_client.messages.create(max_tokens=20, **params).usage.cache_read_input_tokens == 0


def test_count_tokens_with_structured_output_and_thinking(sandbox_client):
    params = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Extract: Ana (ana@x.io) wants Pro"}],
        "output_config": {
            "format": {
                "type": "json_schema",
                "schema": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}},
                    "required": ["email"],
                    "additionalProperties": False,
                },
            }
        },
    }
    counted = sandbox_client.messages.count_tokens(**params).input_tokens
    assert sandbox_client.messages.create(max_tokens=200, **params).usage.input_tokens == counted
