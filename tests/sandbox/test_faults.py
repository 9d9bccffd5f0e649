"""Faults: 500/529 (retried by the SDK), mid-stream error events, dropped connections, the spend limit."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

MODEL = "claude-haiku-4-5"
HI = [{"role": "user", "content": "Give me a short status update on the Acme renewal."}]


@pytest.mark.parametrize(("status", "kind"), [(500, "api_error"), (529, "overloaded_error")])
def test_server_errors_are_retried_by_the_sdk(sandbox, sandbox_client, status, kind):
    sandbox.script({"error": {"status": status}})
    message = sandbox_client.messages.create(model=MODEL, max_tokens=50, messages=HI)
    assert message.content
    assert [(e["status"], e["retry_count"]) for e in sandbox.journal] == [(status, 0), (200, 1)]
    assert sandbox.journal[0]["decision"] == "scripted_error"


def test_configured_fault_rates_raise_the_sdk_errors(sandbox, sandbox_client):
    client = sandbox_client.with_options(max_retries=0)
    sandbox.configure(fail_rate=1.0)
    with pytest.raises(anthropic.InternalServerError) as info:
        client.messages.create(model=MODEL, max_tokens=50, messages=HI)
    assert info.value.body["error"]["type"] == "api_error"
    sandbox.configure(fail_rate=0.0, overload_rate=1.0)
    with pytest.raises(anthropic.OverloadedError) as info:
        client.messages.create(model=MODEL, max_tokens=50, messages=HI)
    assert info.value.status_code == 529 and info.value.body["error"]["type"] == "overloaded_error"


def test_fault_draws_are_seeded(sandbox, sandbox_client):
    client = sandbox_client.with_options(max_retries=0)

    def pattern() -> list[bool]:
        sandbox.reset()
        sandbox.configure(fail_rate=0.5)
        outcome = []
        for i in range(16):
            try:
                client.messages.create(
                    model=MODEL, max_tokens=5, messages=[{"role": "user", "content": f"Question {i}?"}]
                )
                outcome.append(True)
            except anthropic.InternalServerError:
                outcome.append(False)
        return outcome

    first = pattern()
    assert first == pattern()
    assert True in first and False in first


def test_error_event_mid_stream(sandbox, sandbox_client):
    sandbox.script({"fault": {"kind": "error", "after_events": 5}})
    received = []
    with pytest.raises(anthropic.APIStatusError) as info:  # noqa: PT012
        with sandbox_client.messages.stream(model=MODEL, max_tokens=200, messages=HI) as stream:
            for text in stream.text_stream:
                received.append(text)
    assert received  # some text arrived before the error
    assert info.value.status_code == 200
    assert info.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert info.value.body["request_id"].startswith("req_")
    assert len(sandbox.journal) == 1 and sandbox.journal[0]["decision"] == "stream_error"  # not retried


def test_midstream_error_rate(sandbox, sandbox_client):
    sandbox.configure(midstream_error_rate=1.0)
    with (
        pytest.raises(anthropic.APIStatusError),
        sandbox_client.messages.stream(model=MODEL, max_tokens=200, messages=HI) as stream,
    ):
        stream.get_final_message()


def test_disconnect_mid_stream_raises_a_connection_error(sandbox, sandbox_client):
    sandbox.script({"fault": {"kind": "disconnect", "after_events": 6}})
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        sandbox_client.messages.stream(model=MODEL, max_tokens=200, messages=HI) as stream,
    ):
        stream.get_final_message()
    assert sandbox.journal[0]["decision"] == "disconnect"
    sandbox.configure(disconnect_rate=1.0)
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        sandbox_client.messages.stream(model=MODEL, max_tokens=200, messages=HI) as stream,
    ):
        stream.get_final_message()


def test_disconnect_without_streaming_is_retried_as_a_connection_error(sandbox, sandbox_client):
    sandbox.script({"fault": {"kind": "disconnect"}})
    assert (
        sandbox_client.with_options(max_retries=1)
        .messages.create(model=MODEL, max_tokens=20, messages=HI)
        .content
    )
    assert [e["decision"] for e in sandbox.journal] == ["disconnect", "ok"]
    sandbox.script({"fault": {"kind": "disconnect"}})
    with pytest.raises(anthropic.APIConnectionError):
        sandbox_client.with_options(max_retries=0).messages.create(model=MODEL, max_tokens=20, messages=HI)


def test_spend_limit_429_has_no_retry_after_and_is_not_retried(sandbox, sandbox_client):
    sandbox.configure(spend_limit_reached=True)
    with pytest.raises(anthropic.RateLimitError) as info:
        sandbox_client.messages.create(model=MODEL, max_tokens=20, messages=HI)  # max_retries=2
    err = info.value
    assert isinstance(err, anthropic.EnforcedSpendLimitReachedError)
    assert "retry-after" not in err.response.headers
    assert err.response.headers["x-should-retry"] == "false"
    assert "spend limit" in err.body["error"]["message"]
    assert err.body["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}
    assert [(e["status"], e["retry_count"], e["decision"]) for e in sandbox.journal] == [
        (429, 0, "spend_limit")
    ]


def test_scripted_429_with_custom_headers(sandbox, sandbox_client):
    sandbox.script({"error": {"status": 429, "headers": {"retry-after-ms": "50"}, "message": "slow down"}})
    assert sandbox_client.messages.create(model=MODEL, max_tokens=20, messages=HI).content
    assert [e["status"] for e in sandbox.journal] == [429, 200]
