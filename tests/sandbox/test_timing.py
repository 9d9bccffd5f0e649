"""Timing: TTFT and tokens/s per model, absolute deadlines, the same total for JSON and SSE."""

from __future__ import annotations

import time

import pytest

from lib.sandbox.testing import make_client

MODEL = "claude-haiku-4-5"
ASK = [{"role": "user", "content": "What should I prepare for a quarterly pipeline review?"}]


def test_non_stream_takes_ttft_plus_tokens_over_rate_on_the_virtual_clock(sandbox, sandbox_client):
    sandbox.configure(ttft_ms=500, tokens_per_s=50)
    start = sandbox.clock.now()
    message = sandbox_client.messages.create(model=MODEL, max_tokens=300, messages=ASK)
    elapsed = sandbox.clock.now() - start
    assert elapsed == pytest.approx(0.5 + (message.usage.output_tokens - 1) / 50)


def test_stream_ends_at_the_same_virtual_time(sandbox, sandbox_client):
    sandbox.configure(ttft_ms=500, tokens_per_s=50)
    start = sandbox.clock.now()
    with sandbox_client.messages.stream(model=MODEL, max_tokens=300, messages=ASK) as stream:
        final = stream.get_final_message()
    assert sandbox.clock.now() - start == pytest.approx(0.5 + (final.usage.output_tokens - 1) / 50)


def test_model_defaults_and_reply_overrides(sandbox, sandbox_client):
    start = sandbox.clock.now()
    sandbox.script({"text": "one two three four", "timing": {"ttft_ms": 2000, "tokens_per_s": 1}})
    message = sandbox_client.messages.create(model=MODEL, max_tokens=300, messages=ASK)
    assert sandbox.clock.now() - start == pytest.approx(2.0 + (message.usage.output_tokens - 1))
    start = sandbox.clock.now()
    message = sandbox_client.messages.create(model="claude-opus-4-8", max_tokens=300, messages=ASK)
    assert sandbox.clock.now() - start == pytest.approx(0.9 + (message.usage.output_tokens - 1) / 40)


def test_real_clock_pacing(sandbox_realtime):
    sandbox_realtime.configure(ttft_ms=150, tokens_per_s=200)
    with make_client(sandbox_realtime) as client:
        sent = time.monotonic()
        times = []
        with client.messages.stream(model=MODEL, max_tokens=300, messages=ASK) as stream:
            for _ in stream.text_stream:
                times.append(time.monotonic() - sent)
            tokens = stream.get_final_message().usage.output_tokens
    assert times[0] == pytest.approx(0.150, abs=0.05)
    assert times[-1] == pytest.approx(0.150 + (tokens - 1) / 200, abs=0.08)
