"""The Rate Limits API (GET /v1/organizations/rate_limits) through SDK 2.14's client.organization.rate_limits."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types.organization import OrganizationRateLimit

from lib.sandbox.testing import make_client

pytestmark = pytest.mark.sandbox

ADMIN = "sk-ant-admin-test"


def _admin(sandbox):
    return make_client(sandbox, api_key=ADMIN)


def test_lists_the_configured_buckets(sandbox):
    sandbox.configure(rpm=50, itpm=30_000, otpm=8_000, count_tokens_rpm=100)
    with _admin(sandbox) as client:
        entries = list(client.organization.rate_limits.list())
    assert all(isinstance(e, OrganizationRateLimit) and e.type == "rate_limit" for e in entries)
    by_type = {e.group.type: e for e in entries}
    assert set(by_type) == {"model_group", "token_count"}
    messages = by_type["model_group"]
    assert {v.type: v.value for v in messages.limits} == {
        "requests_per_minute": 50, "input_tokens_per_minute_cache_aware": 30_000, "output_tokens_per_minute": 8_000}
    assert "claude-sonnet-4-6" in messages.models and messages.group.display_name
    assert messages.group.id.startswith("rlg_") and messages.id != messages.group.id
    assert {v.type: v.value for v in by_type["token_count"].limits} == {"requests_per_minute": 100}
    assert by_type["token_count"].models is None


def test_the_limits_follow_a_live_reconfiguration(sandbox):
    with _admin(sandbox) as client:
        sandbox.configure(rpm=7)
        (entry,) = client.organization.rate_limits.list(model="claude-haiku-4-5")
    assert entry.group.type == "model_group"
    assert next(v.value for v in entry.limits if v.type == "requests_per_minute") == 7


def test_filters_and_pages(sandbox):
    with _admin(sandbox) as client:
        assert [e.group.type for e in client.organization.rate_limits.list(group_type="token_count")] == ["token_count"]
        assert list(client.organization.rate_limits.list(group_type="web_search")) == []
        first = client.organization.rate_limits.list(limit=1)
        assert len(first.data) == 1 and first.next_page
        assert len(list(client.organization.rate_limits.list(limit=1))) == 2  # the iterator follows next_page
        with pytest.raises(anthropic.NotFoundError):
            client.organization.rate_limits.list(model="claude-nonexistent-9")
        with pytest.raises(anthropic.BadRequestError):
            client.organization.rate_limits.list(group_type="nope")  # type: ignore[arg-type]


def test_needs_an_admin_key(sandbox, sandbox_client):
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        sandbox_client.organization.rate_limits.list()
    assert info.value.body["error"]["type"] == "permission_error"
    with make_client(sandbox, api_key="sk-test-not-admin", default_headers={"x-api-key": "sk-test-not-admin"}) as c:
        with pytest.raises(anthropic.PermissionDeniedError):
            c.organization.rate_limits.list()
