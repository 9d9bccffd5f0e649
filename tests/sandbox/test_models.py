"""GET /v1/models and /v1/models/{id}: the catalogue, newest first, paginated like the real API."""

from __future__ import annotations

import anthropic
import pytest

from lib.sandbox import catalogue


def test_list_first_page(sandbox_client):
    page = sandbox_client.models.list(limit=3)
    assert [m.id for m in page.data] == ["claude-fable-5-2", "claude-mythos-5-2", "claude-haiku-5-5"]
    assert page.has_more and page.first_id == "claude-fable-5-2" and page.last_id == "claude-haiku-5-5"
    model = page.data[0]
    assert model.type == "model" and model.display_name == "Claude Fable 5.2" and model.line == "fable"
    assert model.max_input_tokens == 1_000_000 and model.max_tokens == 128_000
    assert model.capabilities is not None and model.capabilities.structured_outputs.supported


def test_auto_pagination_walks_the_whole_catalogue(sandbox_client):
    ids = [m.id for m in sandbox_client.models.list(limit=5)]
    assert ids == [m.id for m in catalogue.LISTED]
    assert (
        "claude-sonnet-4-6" in ids and "claude-haiku-4-5-20251001" in ids and len(ids) == len(set(ids)) == 22
    )
    created = [m.created_at for m in sandbox_client.models.list(limit=100).data]
    assert created == sorted(created, reverse=True)


def test_after_and_before_cursors(sandbox_client):
    ids = [m.id for m in catalogue.LISTED]
    after = sandbox_client.models.list(limit=2, after_id=ids[3])
    assert [m.id for m in after.data] == ids[4:6]
    before = sandbox_client.models.list(limit=2, before_id=ids[3])
    assert [m.id for m in before.data] == ids[1:3] and before.has_more


def test_lifecycle_filter(sandbox_client):
    deprecated = sandbox_client.models.list(lifecycle=["deprecated"], limit=100).data
    assert {m.id for m in deprecated} >= {"claude-sonnet-4-5", "claude-opus-4-5"}
    assert all(m.lifecycle == "deprecated" and m.retires_at is not None for m in deprecated)


def test_retrieve_and_unknown(sandbox_client):
    model = sandbox_client.models.retrieve("claude-haiku-4-5")
    assert model.id == "claude-haiku-4-5" and model.max_tokens == 64_000 and model.lifecycle == "active"
    with pytest.raises(anthropic.NotFoundError) as info:
        sandbox_client.models.retrieve("claude-nope")
    assert info.value.body["error"]["type"] == "not_found_error"
