"""POST /v1/messages through the SDK: JSON, streaming, stop reasons, thinking, headers."""

from __future__ import annotations

import asyncio
import re

import anthropic
import pytest

from lib.sandbox.testing import make_async_client
from lib.sandbox.tokens import count_output

MODEL = "claude-haiku-4-5"
ASK = [
    {"role": "user", "content": "What should I prepare for a quarterly pipeline review with the sales team?"}
]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_create_returns_a_valid_message(sandbox_client):
    message = sandbox_client.messages.create(model=MODEL, max_tokens=400, messages=ASK)
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert message.id.startswith("msg_01")
    assert message.stop_reason == "end_turn"
    text = message.content[0].text
    assert "pipeline" in text.lower()
    assert message.usage.output_tokens == count_output(text)
    assert message.usage.input_tokens > 0 and message.usage.service_tier == "standard"
    assert message._request_id and message._request_id.startswith("req_")


def test_stream_text_and_final_usage(sandbox_client):
    with sandbox_client.messages.stream(model=MODEL, max_tokens=400, messages=ASK) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 5
    assert "".join(pieces) == final.content[0].text
    assert final.usage.output_tokens == count_output(final.content[0].text)
    assert final.usage.input_tokens > 0
    assert final.stop_reason == "end_turn"


def test_stream_event_sequence_matches_the_real_api(sandbox_client):
    with sandbox_client.messages.create(model=MODEL, max_tokens=400, messages=ASK, stream=True) as events:
        kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}


def test_stream_and_json_give_the_same_content_for_the_same_request(sandbox_client):
    created = sandbox_client.messages.create(model=MODEL, max_tokens=400, messages=ASK)
    with sandbox_client.messages.stream(model=MODEL, max_tokens=400, messages=ASK) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].text.split(".")[0] == created.content[0].text.split(".")[0]


def test_max_tokens_really_truncates(sandbox_client):
    message = sandbox_client.messages.create(model=MODEL, max_tokens=7, messages=ASK)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 7 == count_output(message.content[0].text)
    with sandbox_client.messages.stream(model=MODEL, max_tokens=7, messages=ASK) as stream:
        assert len("".join(stream.text_stream)) > 0
        final = stream.get_final_message()
    assert final.stop_reason == "max_tokens" and final.usage.output_tokens == 7


def test_stop_sequence_cuts_the_text(sandbox, sandbox_client):
    sandbox.script("First part. STOP Second part that never arrives.")
    message = sandbox_client.messages.create(
        model=MODEL, max_tokens=100, messages=ASK, stop_sequences=["STOP", "zzz"]
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "STOP"
    assert message.content[0].text == "First part. "


def test_thinking_blocks_stream_with_signature(sandbox_client):
    with sandbox_client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=ASK,
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds and "signature" in kinds
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking and final.content[0].signature
    details = final.usage.output_tokens_details
    assert details is not None and details.thinking_tokens == count_output(final.content[0].thinking)
    assert final.usage.output_tokens == details.thinking_tokens + count_output(final.content[1].text)


def test_zero_max_tokens_returns_empty_content(sandbox_client):
    message = sandbox_client.messages.create(model=MODEL, max_tokens=0, messages=ASK)
    assert message.content == [] and message.stop_reason == "max_tokens" and message.usage.output_tokens == 0


def test_raw_response_headers(sandbox_client):
    raw = sandbox_client.messages.with_raw_response.create(model=MODEL, max_tokens=50, messages=ASK)
    headers = raw.headers
    assert headers["request-id"].startswith("req_")
    for bucket in ("requests", "input-tokens", "output-tokens", "tokens"):
        assert int(headers[f"anthropic-ratelimit-{bucket}-limit"]) > 0
        assert int(headers[f"anthropic-ratelimit-{bucket}-remaining"]) >= 0
        assert RFC3339.match(headers[f"anthropic-ratelimit-{bucket}-reset"])
    assert headers["anthropic-ratelimit-requests-remaining"] == "3999"
    assert raw.parse().stop_reason in ("end_turn", "max_tokens")


def test_streaming_responses_carry_rate_limit_headers(sandbox_client):
    with sandbox_client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=50, messages=ASK, stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "anthropic-ratelimit-tokens-remaining" in response.headers
        assert response.headers["request-id"].startswith("req_")


def test_email_and_summary_builtins(sandbox_client, sales_note):
    summary = (
        sandbox_client.messages.create(
            model=MODEL,
            max_tokens=600,
            system="Summarise the call note.",
            messages=[{"role": "user", "content": sales_note}],
        )
        .content[0]
        .text
    )
    assert "Key points:" in summary and "Decisions:" in summary and "Action items:" in summary
    assert (
        "Dana Whitfield: Dana will walk her CFO through the proposal next Tuesday. (due 2026-11-24)"
        in summary
    )
    email = (
        sandbox_client.messages.create(
            model=MODEL,
            max_tokens=600,
            messages=[
                {
                    "role": "user",
                    "content": "Write a follow-up email to Dana about this call.\n\n" + sales_note,
                }
            ],
        )
        .content[0]
        .text
    )
    assert email.startswith("Subject: ") and "\n\nHi Dana,\n" in email
    assert "$48,000" in email and "<" not in email


def test_async_client_streams(sandbox):
    async def run() -> str:
        async with make_async_client(sandbox) as client:
            async with client.messages.stream(model=MODEL, max_tokens=100, messages=ASK) as stream:
                return "".join([t async for t in stream.text_stream])

    assert asyncio.run(run())


def test_request_id_on_errors_matches_body(sandbox_client):
    with pytest.raises(anthropic.NotFoundError) as info:
        sandbox_client.messages.create(model="claude-unknown-9", max_tokens=10, messages=ASK)
    assert info.value.request_id == info.value.body["request_id"]
