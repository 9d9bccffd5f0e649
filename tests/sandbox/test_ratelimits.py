"""Token buckets per API key: headers, 429 with retry-after, the SDK's own retry, ITPM/OTPM accounting."""

from __future__ import annotations

import time

import anthropic
import pytest

from lib.sandbox.testing import make_client

MODEL = "claude-haiku-4-5"
HI = [{"role": "user", "content": "Hi, what is new?"}]


def test_rpm_bucket_empties_then_429_with_retry_after(sandbox, sandbox_client):
    sandbox.configure(rpm=5)
    client = sandbox_client.with_options(max_retries=0)
    for _ in range(5):
        client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    err = info.value
    assert err.body["error"]["type"] == "rate_limit_error"
    retry_after = int(err.response.headers["retry-after"])
    assert 1 <= retry_after <= 12  # one request refills every 12 s
    assert err.response.headers["x-should-retry"] == "true"
    assert err.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert err.response.headers["anthropic-ratelimit-requests-limit"] == "5"
    sandbox.clock.advance(retry_after)
    assert client.messages.create(model=MODEL, max_tokens=5, messages=HI).content
    assert sandbox.stats()["rate_limited"] == 1


def test_streams_are_refused_with_the_same_429(sandbox, sandbox_client):
    sandbox.configure(rpm=1)
    client = sandbox_client.with_options(max_retries=0)
    client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    with (
        pytest.raises(anthropic.RateLimitError),
        client.messages.stream(model=MODEL, max_tokens=5, messages=HI) as stream,
    ):
        stream.get_final_message()


def test_sdk_retries_after_retry_after_on_the_real_clock(sandbox_realtime):
    sandbox_realtime.configure(rpm=60, burst_s=1.0)  # room for one request, refilled after 1 s
    with make_client(sandbox_realtime) as client:
        client.messages.create(model=MODEL, max_tokens=5, messages=HI)
        started = time.monotonic()
        message = client.messages.create(model=MODEL, max_tokens=5, messages=HI)
        waited = time.monotonic() - started
    assert message.content and waited >= 0.9
    journal = sandbox_realtime.journal
    assert [(e["status"], e["retry_count"]) for e in journal] == [(200, 0), (429, 0), (200, 1)]
    assert journal[1]["decision"] == "rate_limited"


def test_input_bucket_charges_writes_but_not_reads(sandbox, sandbox_client):
    sandbox.configure(itpm=3_000)
    system = [
        {"type": "text", "text": "Policy text for caching. " * 300, "cache_control": {"type": "ephemeral"}}
    ]
    params = {"model": "claude-sonnet-4-6", "max_tokens": 5, "system": system, "messages": HI}
    first = sandbox_client.messages.with_raw_response.create(**params)
    written = first.parse().usage.cache_creation_input_tokens + first.parse().usage.input_tokens
    assert int(first.headers["anthropic-ratelimit-input-tokens-remaining"]) == 3_000 - written
    second = sandbox_client.messages.with_raw_response.create(**params)
    usage = second.parse().usage
    assert usage.cache_read_input_tokens > 1_000
    spent = 3_000 - int(second.headers["anthropic-ratelimit-input-tokens-remaining"])
    assert spent <= written + usage.input_tokens  # the read cost nothing (and the bucket refilled a little)
    with pytest.raises(anthropic.RateLimitError):
        sandbox_client.with_options(max_retries=0).messages.create(
            model="claude-sonnet-4-6",
            max_tokens=5,
            system="Another long uncached prompt. " * 300,
            messages=HI,
        )


def test_output_reservation_is_refunded(sandbox, sandbox_client):
    sandbox.configure(otpm=1_000)
    client = sandbox_client.with_options(max_retries=0)
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=800, messages=HI)
    assert raw.headers["anthropic-ratelimit-output-tokens-remaining"] == "200"  # 800 reserved at admission
    used = raw.parse().usage.output_tokens
    assert used < 200
    # Without the refund of the unused 800 - used tokens this second request could not fit.
    again = client.messages.with_raw_response.create(model=MODEL, max_tokens=800, messages=HI)
    assert int(again.headers["anthropic-ratelimit-output-tokens-remaining"]) >= 200 - used


def test_a_request_that_can_never_fit_says_so_and_is_not_retried(sandbox, sandbox_client):
    sandbox.configure(otpm=1_000)
    with pytest.raises(anthropic.RateLimitError) as info:
        sandbox_client.messages.create(model=MODEL, max_tokens=2_000, messages=HI)
    assert "can never be admitted" in info.value.body["error"]["message"]
    assert "retry-after" not in info.value.response.headers
    assert len(sandbox.journal) == 1


def test_buckets_are_per_api_key(sandbox, sandbox_client):
    sandbox.configure(rpm=1)
    sandbox_client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    other = sandbox_client.with_options(api_key="sk-test-second-key", max_retries=0)
    assert other.messages.create(model=MODEL, max_tokens=5, messages=HI).content


def test_tokens_headers_report_the_tightest_token_bucket(sandbox, sandbox_client):
    sandbox.configure(otpm=1_000, itpm=1_000_000)
    raw = sandbox_client.messages.with_raw_response.create(model=MODEL, max_tokens=500, messages=HI)
    assert raw.headers["anthropic-ratelimit-tokens-limit"] == "1000"
    assert (
        raw.headers["anthropic-ratelimit-tokens-remaining"]
        == raw.headers["anthropic-ratelimit-output-tokens-remaining"]
    )


def test_count_tokens_has_its_own_requests_bucket(sandbox, sandbox_client):
    sandbox.configure(count_tokens_rpm=2, rpm=2)
    client = sandbox_client.with_options(max_retries=0)
    for _ in range(2):
        client.messages.count_tokens(model=MODEL, messages=HI)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.count_tokens(model=MODEL, messages=HI)
    assert client.messages.create(model=MODEL, max_tokens=5, messages=HI).content  # Messages bucket untouched


def test_a_burst_smaller_than_one_request_still_admits_one_request_per_refill(sandbox, sandbox_client):
    # --rpm 5 --burst-s 1: the bucket holds 1/12 of a request. The real API never refuses every request;
    # the sandbox admits one when the bucket is full and the next after a full refill (12 s at 5/min).
    sandbox.configure(rpm=5, burst_s=1.0)
    client = sandbox_client.with_options(max_retries=0)
    assert client.messages.create(model=MODEL, max_tokens=5, messages=HI).content
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    headers = info.value.response.headers
    assert headers["x-should-retry"] == "true"
    assert int(headers["retry-after"]) == 12
    sandbox.clock.advance(12)
    assert client.messages.create(model=MODEL, max_tokens=5, messages=HI).content
    assert "never_fits" not in [e["decision"] for e in sandbox.journal]


def test_count_tokens_bucket_also_holds_at_least_one_request(sandbox, sandbox_client):
    sandbox.configure(count_tokens_rpm=5, burst_s=1.0)
    client = sandbox_client.with_options(max_retries=0)
    assert client.messages.count_tokens(model=MODEL, messages=HI).input_tokens > 0
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.count_tokens(model=MODEL, messages=HI)
    assert int(info.value.response.headers["retry-after"]) == 12
    sandbox.clock.advance(12)
    assert client.messages.count_tokens(model=MODEL, messages=HI).input_tokens > 0
