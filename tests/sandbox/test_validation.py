"""Requests the real API rejects get the same status, error type and a message that says what is wrong."""

from __future__ import annotations

import anthropic
import pytest
from anthropic import Omit

MODEL = "claude-haiku-4-5"
HI = {"role": "user", "content": "Hi"}
TOOL = {"name": "lookup", "description": "Look up", "input_schema": {"type": "object", "properties": {}}}
CALL = {"type": "tool_use", "id": "toolu_01A", "name": "lookup", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "ok"}


def _bad(client, expected: str, **body):
    """POST a raw body through the SDK (client.post) and expect a 400 whose message contains `expected`."""
    params = {"model": MODEL, "max_tokens": 50, "messages": [HI], **body}
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(anthropic.BadRequestError) as info:
        client.post("/v1/messages", body=params, cast_to=object)
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert expected in info.value.body["error"]["message"]
    return info.value


@pytest.mark.parametrize("missing", ["model", "max_tokens", "messages"])
def test_missing_required_field(sandbox_client, missing):
    body = {"model": MODEL, "max_tokens": 50, "messages": [HI]}
    del body[missing]
    with pytest.raises(anthropic.BadRequestError) as info:
        sandbox_client.post("/v1/messages", body=body, cast_to=object)
    assert info.value.body["error"]["message"] == f"{missing}: Field required"


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([], "at least one message is required"),
        ([{"role": "assistant", "content": "Hello"}, HI], 'first message must use the "user" role'),
        (
            [
                {"role": "user", "content": "Find it"},
                {"role": "assistant", "content": [CALL]},
                {"role": "user", "content": "thanks"},
            ],
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_01A",
        ),
        (
            [{"role": "user", "content": "Find it"}, {"role": "assistant", "content": [CALL]}],
            "`tool_use` ids were found without `tool_result` blocks",
        ),
        (
            [
                {"role": "user", "content": "Find it"},
                {"role": "assistant", "content": [CALL]},
                {"role": "user", "content": [{"type": "text", "text": "here"}, RESULT]},
            ],
            "tool_result blocks must come first",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_99", "content": "x"}],
                }
            ],
            "unexpected `tool_use_id` found in `tool_result` blocks: toolu_99",
        ),
        ([{"role": "user", "content": ""}], "text content blocks must be non-empty"),
        ([{"role": "system", "content": "x"}], "messages.0.role"),
    ],
)
def test_wrongly_ordered_or_empty_conversations(sandbox_client, messages, expected):
    tools = [TOOL] if any(isinstance(m["content"], list) for m in messages) else None
    _bad(sandbox_client, expected, messages=messages, tools=tools)


def test_consecutive_same_role_messages_are_merged_like_the_real_api(sandbox_client):
    message = sandbox_client.messages.create(
        model=MODEL, max_tokens=50, messages=[HI, {"role": "user", "content": "Are you there?"}]
    )
    assert message.stop_reason in ("end_turn", "max_tokens")


def test_a_complete_tool_round_trip_is_accepted(sandbox_client):
    messages = [
        {"role": "user", "content": "Find it"},
        {"role": "assistant", "content": [CALL]},
        {"role": "user", "content": [RESULT, {"type": "text", "text": "and?"}]},
    ]
    assert sandbox_client.messages.create(
        model=MODEL, max_tokens=200, tools=[TOOL], messages=messages
    ).content


@pytest.mark.parametrize("field", ["temperature", "top_p", "top_k"])
def test_sampling_parameters_are_rejected_under_2026_10_21(sandbox_client, field):
    _bad(sandbox_client, f"{field}: Extra inputs are not permitted", **{field: 1})


def test_sampling_parameters_are_accepted_under_2023_06_01(sandbox):
    client = anthropic.Anthropic(
        base_url=sandbox.base_url,
        api_key="sk-test",
        default_headers={"anthropic-version": "2023-06-01"},
        _strict_response_validation=True,
        max_retries=0,
    )
    with client:
        message = client.messages.create(
            model=MODEL, max_tokens=20, messages=[HI], extra_body={"temperature": 0.2, "top_k": 5}
        )
    assert message.content
    assert sandbox.journal[-1]["anthropic_version"] == "2023-06-01"


def test_more_than_four_cache_breakpoints(sandbox_client):
    cc = {"type": "ephemeral"}
    system = [{"type": "text", "text": f"part {i}", "cache_control": cc} for i in range(5)]
    _bad(sandbox_client, "A maximum of 4 blocks with cache_control may be provided. Found 5.", system=system)


def test_automatic_cache_control_counts_as_a_breakpoint(sandbox_client):
    cc = {"type": "ephemeral"}
    system = [{"type": "text", "text": f"part {i}", "cache_control": cc} for i in range(4)]
    _bad(sandbox_client, "Found 5.", system=system, cache_control=cc)


def test_max_tokens_above_the_model_limit(sandbox_client):
    _bad(
        sandbox_client,
        "which is the maximum allowed number of output tokens for claude-haiku-4-5",
        max_tokens=64_001,
    )


def test_thinking_budget_and_forced_tools(sandbox_client):
    _bad(sandbox_client, "greater than or equal to 1024", thinking={"type": "enabled", "budget_tokens": 100})
    _bad(
        sandbox_client,
        "Thinking may not be enabled when tool_choice forces tool use.",
        max_tokens=4000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[TOOL],
        tool_choice={"type": "any"},
    )


def test_unknown_model_is_404(sandbox_client):
    with pytest.raises(anthropic.NotFoundError) as info:
        sandbox_client.messages.create(model="claude-nonexistent-1", max_tokens=10, messages=[HI])
    assert info.value.body["error"] == {"type": "not_found_error", "message": "model: claude-nonexistent-1"}


def test_no_api_key_is_401(sandbox_client):
    with pytest.raises(anthropic.AuthenticationError) as info:
        sandbox_client.messages.create(
            model=MODEL, max_tokens=10, messages=[HI], extra_headers={"Authorization": Omit()}
        )
    assert info.value.body["type"] == "error"
    assert info.value.body["error"]["type"] == "authentication_error"
    assert info.value.body["request_id"] == info.value.response.headers["request-id"]


def test_x_api_key_header_is_accepted(sandbox_client):
    message = sandbox_client.messages.create(
        model=MODEL,
        max_tokens=10,
        messages=[HI],
        extra_headers={"Authorization": Omit(), "x-api-key": "sk-other-key-123"},
    )
    assert message.content


def test_missing_anthropic_version_is_400(sandbox_client):
    with pytest.raises(anthropic.BadRequestError) as info:
        sandbox_client.messages.create(
            model=MODEL, max_tokens=10, messages=[HI], extra_headers={"anthropic-version": Omit()}
        )
    assert "anthropic-version" in info.value.body["error"]["message"]


def test_body_over_the_size_limit_is_413(sandbox, sandbox_client):
    sandbox.configure(max_request_bytes=2_000)
    with pytest.raises(anthropic.RequestTooLargeError) as info:
        sandbox_client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x" * 5_000}]
        )
    assert info.value.status_code == 413
    assert info.value.body["error"]["type"] == "request_too_large"
    assert len(sandbox.journal) == 1  # 413 is not retried


def test_validation_errors_are_not_retried(sandbox, sandbox_client):
    with pytest.raises(anthropic.BadRequestError):
        sandbox_client.messages.create(model=MODEL, max_tokens=10, messages=[])
    assert [e["status"] for e in sandbox.journal] == [400]
