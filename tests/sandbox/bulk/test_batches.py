"""Message Batches through the SDK: lifecycle on the sim clock, results JSONL, limits."""

from __future__ import annotations

import anthropic
import pytest

MODEL = "claude-haiku-4-5"


def _params(question: str, **extra):
    return {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": question}], **extra}


def _requests():
    return [
        {"custom_id": "note-1", "params": _params("Summarise: Dana signed the order form today.")},
        {"custom_id": "note-2", "params": _params("What is our next step with Globex?")},
        {
            "custom_id": "bad-1",
            "params": {"model": MODEL, "messages": [{"role": "user", "content": "no max_tokens"}]},
        },
    ]


def test_batch_lifecycle_and_results(sandbox, sandbox_client):
    batches = sandbox_client.messages.batches
    created = batches.create(requests=_requests())
    assert created.id.startswith("msgbatch_01") and created.processing_status == "in_progress"
    assert created.request_counts.processing == 3 and created.results_url is None
    assert created.expires_at - created.created_at == __import__("datetime").timedelta(hours=24)
    sandbox.clock.advance(1.0)
    assert batches.retrieve(created.id).processing_status == "in_progress"  # batch_delay_s = 2
    sandbox.clock.advance(1.5)
    ended = batches.retrieve(created.id)
    assert ended.processing_status == "ended" and ended.ended_at is not None
    counts = ended.request_counts
    assert (counts.processing, counts.succeeded, counts.errored, counts.canceled) == (0, 2, 1, 0)
    assert ended.results_url == f"{sandbox.base_url}/v1/messages/batches/{created.id}/results"
    results = {r.custom_id: r.result for r in batches.results(created.id)}
    assert results["note-1"].type == "succeeded"
    assert results["note-1"].message.usage.service_tier == "batch"
    assert results["note-2"].message.content[0].text
    assert results["bad-1"].type == "errored"
    assert results["bad-1"].error.error.type == "invalid_request_error"
    assert "max_tokens" in results["bad-1"].error.error.message


def test_batch_work_does_not_use_the_messages_buckets(sandbox, sandbox_client):
    sandbox.configure(rpm=1, otpm=1_000)
    batch = sandbox_client.messages.batches.create(
        requests=[{"custom_id": f"r{i}", "params": _params(f"Q{i}?")} for i in range(5)]
    )
    sandbox.clock.advance(5)
    assert sandbox_client.messages.batches.retrieve(batch.id).request_counts.succeeded == 5
    raw = sandbox_client.messages.with_raw_response.create(**_params("Hello?"))
    assert (
        raw.headers["anthropic-ratelimit-requests-remaining"] == "0"
    )  # the first Messages request of this key


def test_cancel_then_delete(sandbox, sandbox_client):
    batches = sandbox_client.messages.batches
    batch = batches.create(requests=_requests())
    with pytest.raises(anthropic.BadRequestError):
        batches.delete(batch.id)  # still in progress
    canceling = batches.cancel(batch.id)
    assert canceling.processing_status == "canceling" and canceling.cancel_initiated_at is not None
    sandbox.clock.advance(1.0)
    ended = batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 3
    assert {r.result.type for r in batches.results(batch.id)} == {"canceled"}
    deleted = batches.delete(batch.id)
    assert deleted.id == batch.id and deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        batches.retrieve(batch.id)


def test_list_is_newest_first_and_paginates(sandbox, sandbox_client):
    ids = []
    for i in range(5):
        ids.append(
            sandbox_client.messages.batches.create(
                requests=[{"custom_id": "a", "params": _params(f"Q{i}")}]
            ).id
        )
        sandbox.clock.advance(1)
    page = sandbox_client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    assert [b.id for b in sandbox_client.messages.batches.list(limit=2)] == ids[::-1]  # auto-pagination
    before = sandbox_client.messages.batches.list(limit=2, before_id=ids[1])
    assert [b.id for b in before.data] == [ids[3], ids[2]]


def test_batch_limits(sandbox, sandbox_client):
    sandbox.configure(max_batch_requests=2)
    with pytest.raises(anthropic.BadRequestError) as info:
        sandbox_client.messages.batches.create(requests=_requests())
    assert "at most 2 requests" in info.value.body["error"]["message"]
    sandbox.configure(max_batch_requests=100_000, max_batch_bytes=200)
    with pytest.raises(anthropic.RequestTooLargeError):
        sandbox_client.messages.batches.create(requests=_requests())
    sandbox.configure(max_batch_bytes=256_000_000)
    with pytest.raises(anthropic.BadRequestError) as info:
        sandbox_client.messages.batches.create(requests=[{"custom_id": "x", "params": _params("a")}] * 2)
    assert "unique" in info.value.body["error"]["message"]


def test_immediate_batches_and_streaming_items(sandbox, sandbox_client):
    sandbox.configure(batch_delay_s=0)
    batch = sandbox_client.messages.batches.create(
        requests=[{"custom_id": "s", "params": _params("Hi", stream=True)}]
    )
    assert sandbox_client.messages.batches.retrieve(batch.id).processing_status == "ended"
    result = next(iter(sandbox_client.messages.batches.results(batch.id))).result
    assert result.type == "errored" and "stream" in result.error.error.message
