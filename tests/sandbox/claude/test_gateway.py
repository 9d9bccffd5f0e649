"""The gateway against the sandbox, through the real SDK over HTTP: one usage row per attempt."""

from decimal import Decimal

import pytest

from lib.claude import prompts
from lib.claude.gateway import Gateway
from lib.core.errors import (
    AuthenticationFailed,
    InputRejected,
    InvalidRequest,
    Overloaded,
    ReplyInvalid,
    StreamInterrupted,
)
from lib.usage.log import UsageLog
from lib.work import summarize
from lib.work.extraction import extract_note
from lib.work.schemas import Extraction

NOTE = (
    "Date: 2026-11-19\nRep: dana\n\nDemo with Acme Corp. John Smith (VP Operations) liked the live map. "
    "Linda Park, their CFO, wants pricing in writing: $48,000 for the first year. "
    "Next step: send the proposal by Friday."
)
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def db(database):
    """The gateway's usage log on DuckDB and on Postgres (the same tests, both databases)."""
    return database


def rows(gw):
    return gw.usage_log.db.cursor().execute("SELECT * FROM usage_log ORDER BY id").df()


def summary_stream(gw, note=NOTE, **kw):
    return gw.stream_text(feature="summarize", user="dana", model=MODEL, max_tokens=800,
                          system=prompts.summarize_system("medium"), messages=prompts.note_message(note), **kw)


def test_streamed_text_is_logged_once_with_final_usage_and_cost(gateway):
    stream = summary_stream(gateway)
    chunks = list(stream)
    assert len(chunks) > 3 and stream.text == "".join(chunks)
    result = stream.result
    log = rows(gateway)
    assert len(log) == 1
    row = log.iloc[0]
    assert row["status"] == "ok" and row["feature"] == "summarize" and row["user"] == "dana"
    assert row["backend"] == "sandbox" and row["request_id"] == result.request_id.replace("", "") != ""
    assert row["output_tokens"] == result.record.output_tokens > 0
    assert row["input_tokens"] + row["cache_creation_input_tokens"] + row["cache_read_input_tokens"] > 1000
    assert row["rl_requests_limit"] > 0 and row["rl_input_tokens_remaining"] is not None
    assert row["ttft_ms"] is not None and row["latency_ms"] >= row["ttft_ms"]
    assert Decimal(str(row["cost_usd"])) == result.cost_usd > 0
    assert row["stop_reason"] == "end_turn"


def test_the_house_guide_is_written_to_cache_then_read(gateway):
    list(first := summary_stream(gateway))
    list(second := summary_stream(gateway, note=NOTE + " Also: Tom Baker joins."))
    a, b = first.result.record, second.result.record
    assert a.cache_creation_input_tokens > 1000 and a.cache_write_5m_tokens == a.cache_creation_input_tokens
    assert a.cache_read_input_tokens == 0
    assert b.cache_read_input_tokens == a.cache_creation_input_tokens and b.cache_creation_input_tokens == 0
    assert b.cost_usd < a.cost_usd  # reads at 0.1x beat writes at 1.25x


def test_count_tokens_agrees_with_usage(gateway):
    system, messages = prompts.summarize_system("short"), prompts.note_message(NOTE)
    counted = gateway.count_tokens(model=MODEL, system=system, messages=messages)
    stream = gateway.stream_text(feature="summarize", user="dana", model=MODEL, max_tokens=300, system=system,
                                 messages=messages)
    list(stream)
    r = stream.result.record
    assert counted == r.input_tokens + r.cache_creation_input_tokens + r.cache_read_input_tokens


def test_a_429_then_a_successful_retry_is_two_rows(gateway, sandbox):
    sandbox.script({"error": {"status": 429, "headers": {"retry-after": "0.05"}}})
    stream = summary_stream(gateway)
    list(stream)
    log = rows(gateway)
    assert list(log["status"]) == ["429", "ok"]
    assert list(log["attempt"]) == [0, 1]
    assert log.iloc[0]["error_type"] == "rate_limit_error" and log.iloc[0]["retry_after_s"] == 0.05
    assert log.iloc[0]["cost_usd"] == 0 and log["call_id"].nunique() == 1
    assert [e["retry_count"] for e in sandbox.journal if e["path"] == "/v1/messages"] == [0, 1]


def test_overloaded_after_all_retries_is_a_domain_error_with_every_attempt_logged(gateway, sandbox):
    busy = {"error": {"status": 529, "headers": {"retry-after": "0.01"}}}
    sandbox.script(busy, busy, busy)
    with pytest.raises(Overloaded, match="overloaded"):
        list(summary_stream(gateway))
    assert list(rows(gateway)["status"]) == ["529", "529", "529"]


def test_a_wrong_key_is_a_clear_message_not_a_traceback(sandbox, db):
    gw = Gateway(UsageLog(db), api_key="sk-invalid-key", base_url=sandbox.base_url, backend="sandbox")
    with pytest.raises(AuthenticationFailed) as caught:
        list(summary_stream(gw))
    assert "ANTHROPIC_API_KEY" in str(caught.value) and "sk-invalid-key" not in str(caught.value)
    assert list(rows(gw)["status"]) == ["401"]


def test_unknown_model_is_an_invalid_request(gateway):
    with pytest.raises(InvalidRequest, match="404"):
        list(gateway.stream_text(feature="summarize", user="dana", model="claude-nope-9", max_tokens=100,
                                 messages=prompts.note_message(NOTE)))


def test_a_stream_error_keeps_the_partial_text_and_logs_it(gateway, sandbox):
    sandbox.script({"fault": {"kind": "error", "after_events": 8}})
    stream = summary_stream(gateway)
    with pytest.raises(StreamInterrupted):
        for _ in stream:
            pass
    assert stream.text and stream.result.incomplete and stream.error is not None
    (row,) = rows(gateway).itertuples()
    assert row.status == "stream_error" and row.error_type == "overloaded_error" and row.usage_estimated
    assert row.input_tokens + row.cache_creation_input_tokens > 0


def test_a_dropped_connection_mid_stream(gateway, sandbox):
    sandbox.script({"fault": {"kind": "disconnect", "after_events": 8}})
    stream = summary_stream(gateway)
    with pytest.raises(StreamInterrupted, match="dropped"):
        list(stream)
    assert rows(gateway).iloc[0]["status"] == "stream_error"


def test_stopping_a_stream_logs_what_was_used(gateway):
    stream = summary_stream(gateway)
    iterator = iter(stream)
    first = [next(iterator), next(iterator)]
    iterator.close()  # what a Stop click does to st.write_stream's loop
    stream.close()
    assert stream.text == "".join(first) and stream.result.incomplete
    (row,) = rows(gateway).itertuples()
    assert row.status == "aborted" and row.usage_estimated and row.output_tokens >= 1


def test_a_stop_logged_while_the_reply_ends_is_the_only_row(gateway):
    """A stop() from another thread that logs the call just before the reader reaches the end of the
    reply (its wait ran out): the end does not log the same call a second time."""
    stream = summary_stream(gateway)
    for n, _ in enumerate(stream):
        if n == 1:
            stream.close()  # logs the call as aborted, as a stop() whose wait ran out does, while reading goes on
    assert stream.result.incomplete
    assert list(rows(gateway)["status"]) == ["aborted"]


def test_a_streamed_tool_round_hands_back_the_final_message_with_its_tool_use(gateway, sandbox):
    sandbox.script({"blocks": [{"type": "text", "text": "Let me check."},
                               {"type": "tool_use", "name": "pipeline_summary", "input": {}}],
                    "stop_reason": "tool_use"})
    stream = gateway.stream_text(feature="assistant", user="dana", model=MODEL, max_tokens=500,
                                 messages=[{"role": "user", "content": "How is the pipeline?"}],
                                 tools=prompts.assistant_tools())
    assert stream.message is None  # nothing read yet
    assert "".join(stream) == "Let me check." and stream.result.stop_reason == "tool_use"
    text, tool = stream.message.content
    assert text.type == "text" and tool.type == "tool_use" and tool.name == "pipeline_summary" and tool.input == {}
    stopped = summary_stream(gateway)
    chunks = iter(stopped)
    next(chunks)
    chunks.close()
    stopped.close()
    assert stopped.message is None and stopped.result.incomplete  # a stream cut short has no final message


def test_a_refused_usage_write_keeps_the_answer_and_the_row(gateway):
    gateway.usage_log.db.cursor().execute("ALTER TABLE usage_log RENAME TO away")
    stream = summary_stream(gateway)
    text = "".join(stream)
    assert text and "fallback" in stream.result.warnings[0]
    gateway.usage_log.db.cursor().execute("ALTER TABLE away RENAME TO usage_log")
    assert gateway.usage_log.import_fallback() == 1 and len(rows(gateway)) == 1


def test_structured_output_is_parsed_into_pydantic(gateway):
    parsed, result = gateway.parse(feature="extract", user="dana", model=MODEL, max_tokens=2000,
                                   output_format=Extraction, system=prompts.extract_system("2026-11-19"),
                                   messages=prompts.note_message(NOTE))
    names = {p.name for p in parsed.people}
    assert {"John Smith", "Linda Park"} <= names
    assert rows(gateway).iloc[0]["feature"] == "extract" and result.cost_usd > 0


def test_an_invalid_reply_is_retried_once_then_reported_with_the_raw_text(gateway, sandbox):
    sandbox.script({"text": "Sorry, I can't do JSON today."}, {"text": "{\"people\": \"nope\"}"})
    with pytest.raises(ReplyInvalid, match="twice") as caught:
        extract_note(gateway, NOTE, user="dana", model=MODEL)
    assert caught.value.raw_text == '{"people": "nope"}'
    assert list(rows(gateway)["status"]) == ["ok", "ok"]  # both replies were billed, so both are logged


def test_one_invalid_reply_then_a_valid_one_succeeds(gateway, sandbox):
    sandbox.script({"text": "not json"})
    run = extract_note(gateway, NOTE, user="dana", model=MODEL)
    assert run.attempts == 2 and any(p.name == "John Smith" for p in run.people)


def test_summary_refuses_a_note_too_long_for_the_model_without_a_call(gateway, monkeypatch):
    # a model with a small window, as the Models API would describe it
    monkeypatch.setitem(gateway._model_info, MODEL, {"id": MODEL, "max_input_tokens": 3000})
    summarize.start_summary(gateway, NOTE, length="short", model=MODEL, user="dana").close()  # fits
    with pytest.raises(InputRejected, match="too long for claude-sonnet-4-6: [0-9,]+ tokens, the model takes 3,000"):
        summarize.start_summary(gateway, NOTE * 40, length="short", model=MODEL, user="dana")
    assert rows(gateway).empty


def test_stop_from_another_thread_waits_for_the_reader_to_log(gateway, sandbox_realtime, db):
    import threading

    gw = Gateway(UsageLog(db), api_key="sk-test-gateway", base_url=sandbox_realtime.base_url, backend="sandbox")
    sandbox_realtime.configure(tokens_per_s=100)
    stream = summary_stream(gw)
    started = threading.Event()

    def read():
        for _ in stream:
            started.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert started.wait(10)
    stream.stop()  # what the page's next run does after a Stop click
    reader.join(10)
    assert stream.finished and stream.result.incomplete
    assert list(rows(gw)["status"]) == ["aborted"]
