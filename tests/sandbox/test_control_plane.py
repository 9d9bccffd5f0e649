"""The control plane under /_sandbox/ (plain HTTP) and the Python API that backs it."""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest

MODEL = "claude-haiku-4-5"
HI = [{"role": "user", "content": "Hello, anything new?"}]
SECRET_KEY = "sk-test-sandbox-very-secret-1234"


@pytest.fixture
def http(sandbox):
    with httpx2.Client(base_url=sandbox.base_url) as client:
        yield client


def test_health(http):
    body = http.get("/_sandbox/health").json()
    assert body["status"] == "ok" and body["virtual_clock"] is True


def test_stats_and_journal_never_show_a_whole_key(sandbox, sandbox_client, http):
    client = sandbox_client.with_options(api_key=SECRET_KEY, max_retries=0)
    client.messages.create(model=MODEL, max_tokens=20, messages=HI)
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=MODEL, max_tokens=20, messages=[])
    journal = http.get("/_sandbox/journal").json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("POST", "/v1/messages", 200),
        ("POST", "/v1/messages", 400),
    ]
    assert journal[0]["key"] == "…1234" and journal[0]["retry_count"] == 0 and journal[0]["model"] == MODEL
    assert journal[0]["decision"] == "ok" and journal[1]["decision"] == "invalid_request_error"
    assert journal[0]["time"].startswith("2026-11-20T09:00:")
    stats = http.get("/_sandbox/stats").json()
    assert stats["by_status"] == {"200": 1, "400": 1} and stats["rate_limited"] == 0
    assert stats["tokens"]["output"] > 0 and stats["tokens"]["input"] > 0
    everything = json.dumps(journal) + json.dumps(stats)
    assert SECRET_KEY not in everything and "very-secret" not in everything


def test_script_queue_and_rules_over_http(sandbox_client, http):
    response = http.post(
        "/_sandbox/script",
        json={
            "replies": [{"text": "First scripted."}, {"error": {"status": 529}}],
            "rules": [
                {"contains": "weather", "reply": {"text": "Always sunny."}},
                {"regex": r"^Ping\b", "times": 1, "reply": {"text": "Pong."}},
            ],
        },
    )
    assert response.status_code == 200 and response.json()["pending"] == {
        "queue": 2,
        "per_key": 0,
        "rules": 2,
    }
    assert (
        sandbox_client.messages.create(model=MODEL, max_tokens=50, messages=HI).content[0].text
        == "First scripted."
    )
    with pytest.raises(anthropic.OverloadedError):
        sandbox_client.with_options(max_retries=0).messages.create(model=MODEL, max_tokens=50, messages=HI)

    def ask(text: str):
        return sandbox_client.messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": text}]
        )

    assert ask("How is the WEATHER?").content[0].text == "Always sunny."
    assert ask("Ping me").content[0].text == "Pong."
    assert ask("Ping me").content[0].text != "Pong."  # times=1 used up
    assert http.post("/_sandbox/script", json={"replies": [{"bogus": 1}]}).status_code == 400


def test_per_key_queue_and_rule_conditions(sandbox, sandbox_client):
    sandbox.script("For the other key only.", api_key="sk-test-other-key-0001")
    sandbox.add_rule("Tool results seen.", has_tool_result=True)
    sandbox.add_rule({"text": "Sonnet says hi."}, model="claude-sonnet-4-6")
    assert (
        sandbox_client.messages.create(model=MODEL, max_tokens=50, messages=HI).content[0].text
        != "For the other key only."
    )
    other = sandbox_client.with_options(api_key="sk-test-other-key-0001")
    assert (
        other.messages.create(model=MODEL, max_tokens=50, messages=HI).content[0].text
        == "For the other key only."
    )
    assert (
        sandbox_client.messages.create(model="claude-sonnet-4-6", max_tokens=50, messages=HI).content[0].text
        == "Sonnet says hi."
    )
    call = {"type": "tool_use", "id": "toolu_01X", "name": "t", "input": {}}
    conversation = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01X", "content": "done"}]},
    ]
    tools = [{"name": "t", "input_schema": {"type": "object", "properties": {}}}]
    reply = sandbox_client.messages.create(model=MODEL, max_tokens=50, tools=tools, messages=conversation)
    assert reply.content[0].text == "Tool results seen."


def test_scripted_blocks_usage_and_stop_reason(sandbox, sandbox_client):
    sandbox.script(
        {
            "blocks": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "name": "t", "input": {"a": 1}},
            ],
            "usage": {"output_tokens": 99},
        }
    )
    message = sandbox_client.messages.create(
        model=MODEL,
        max_tokens=50,
        tools=[{"name": "t", "input_schema": {"type": "object", "properties": {}}}],
        messages=HI,
    )
    assert message.stop_reason == "tool_use" and message.content[1].input == {"a": 1}
    assert message.usage.output_tokens == 99


def test_config_over_http(sandbox, sandbox_client, http):
    assert http.get("/_sandbox/config").json()["rpm"] == 4000
    assert http.post("/_sandbox/config", json={"rpm": 1}).json()["rpm"] == 1
    client = sandbox_client.with_options(max_retries=0)
    client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    assert http.post("/_sandbox/config", json={"rpm": -3}).status_code == 400
    assert http.post("/_sandbox/config", json={"virtual_clock": False}).status_code == 400
    assert http.post("/_sandbox/config", json={"no_such_knob": 1}).status_code == 400


def test_clock_and_reset_over_http(sandbox, sandbox_client, http):
    before = sandbox.clock.now()
    assert http.post("/_sandbox/clock", json={"advance": 90}).status_code == 200
    assert sandbox.clock.now() == before + 90
    assert http.post("/_sandbox/clock", json={"advance": -1}).status_code == 400
    sandbox_client.messages.create(model=MODEL, max_tokens=5, messages=HI)
    assert http.post("/_sandbox/reset").json() == {"status": "reset"}
    assert sandbox.journal == [] and sandbox.stats()["requests"] == 0


def test_clock_cannot_advance_on_the_real_clock(sandbox_realtime):
    with httpx2.Client(base_url=sandbox_realtime.base_url) as http:
        response = http.post("/_sandbox/clock", json={"advance": 5})
    assert response.status_code == 400 and "virtual clock" in response.json()["error"]["message"]
    with pytest.raises(RuntimeError):
        sandbox_realtime.clock.advance(1)


def test_unknown_route_uses_the_error_envelope(sandbox, http):
    response = http.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"
    assert response.headers["request-id"].startswith("req_")
