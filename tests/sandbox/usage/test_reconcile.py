"""Reconciliation against the sandbox's cost report: the log matches its bill, and real drift shows."""

from datetime import timedelta
from decimal import Decimal

import pytest

from lib.claude import prompts
from lib.claude.gateway import Gateway
from lib.core.errors import AuthenticationFailed
from lib.sandbox.clock import to_datetime
from lib.usage import reconcile
from lib.usage.log import UsageLog
from lib.usage.queries import UsageQueries

ADMIN_KEY = "sk-ant-admin-sbtest"
NOTE = ("Date: 2026-11-19\nRep: dana\n\nCall with Initech. Bob Porter wants a pilot for 20 seats at $12,000; "
        "legal review next week. Next step: send the order form by Friday.")


@pytest.fixture
def gw(sandbox, database):
    # usage rows are stamped with the sandbox's (virtual) clock, so both sides agree on the day
    return Gateway(UsageLog(database), api_key="sk-test-reconcile", base_url=sandbox.base_url,
                   backend="sandbox", now=lambda: to_datetime(sandbox.clock.now()))


def summarize(gw, model, note=NOTE):
    stream = gw.stream_text(feature="summarize", user="dana", model=model, max_tokens=400,
                            system=prompts.summarize_system("medium"), messages=prompts.note_message(note))
    list(stream)
    return stream.result


def compare(gw, sandbox):
    day = to_datetime(sandbox.clock.now()).date()
    start = to_datetime(sandbox.clock.now()).replace(hour=0, minute=0, second=0, microsecond=0)
    pages = gw.cost_report(ADMIN_KEY, starting_at=start - timedelta(days=1), ending_at=start + timedelta(days=1))
    ours = UsageQueries(gw.usage_log.db).cost_by_day_and_model("sandbox", day - timedelta(days=1), day)
    frame = reconcile.reconcile(ours, reconcile.parse_cost_report(pages))  # now: the real one
    return {r.model: r for r in frame.itertuples()}, pages


def test_our_log_matches_the_sandboxs_bill(gw, sandbox):
    summarize(gw, "claude-sonnet-4-6")  # writes the house guide to the cache
    summarize(gw, "claude-sonnet-4-6", NOTE + " Also: Tom joins.")  # reads it
    summarize(gw, "claude-haiku-4-5")
    sandbox.script({"error": {"status": 429, "headers": {"retry-after": "0.01"}}})
    summarize(gw, "claude-opus-4-8")  # a 429, then the retry: only the retry is billed
    rows, pages = compare(gw, sandbox)
    assert set(rows) == {"claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-8"}
    for row in rows.values():
        assert row.theirs_usd > 0 and row.status == "matches"
        assert abs(row.drift_usd) < Decimal("1e-8")  # per-row rounding to 1e-9 dollars, nothing else
    kinds = {i["token_type"] for p in pages for b in p["data"] for i in b["results"]}
    assert {"uncached_input_tokens", "cache_creation.ephemeral_5m_input_tokens", "cache_read_input_tokens",
            "output_tokens"} <= kinds


def test_a_price_we_got_wrong_shows_as_drift(gw, sandbox):
    # Sonnet 5.5's cache reads: data/models.toml follows unverified reports of $0.10 / MTok from 2026-10-07;
    # the sandbox bills the official $0.20. Reads are what drifts, by exactly 0.10 per million.
    summarize(gw, "claude-sonnet-5-5")
    second = summarize(gw, "claude-sonnet-5-5", NOTE + " Also: Tom joins.")
    reads = second.record.cache_read_input_tokens
    assert reads > 1000
    rows, _ = compare(gw, sandbox)
    row = rows["claude-sonnet-5-5"]
    assert row.drift_usd == Decimal(-reads) * Decimal("0.10") / 1_000_000
    assert row.status == "drift" and row.final  # the sandbox day ended long before the real now


def test_batch_results_are_billed_at_half_price_on_both_sides(gw, sandbox):
    params = {"model": "claude-haiku-4-5", "max_tokens": 200, "messages": [{"role": "user", "content": NOTE}]}
    batch = gw.create_batch([{"custom_id": "n1", "params": params}, {"custom_id": "n2", "params": params}],
                            user="dana", model="claude-haiku-4-5")
    sandbox.clock.advance(5)
    assert gw.retrieve_batch(batch.id).processing_status == "ended"
    for line in gw.batch_results(batch.id):
        gw.log_batch_result(line, batch_id=batch.id, user="dana", model="claude-haiku-4-5")
    rows, pages = compare(gw, sandbox)
    assert rows["claude-haiku-4-5"].status == "matches" and rows["claude-haiku-4-5"].theirs_usd > 0
    assert {i["service_tier"] for p in pages for b in p["data"] for i in b["results"]} == {"batch"}


def test_only_an_admin_key_may_read_the_report(gw, sandbox):
    with pytest.raises(AuthenticationFailed, match="ANTHROPIC_ADMIN_KEY"):
        gw.cost_report("sk-test-not-admin", starting_at=to_datetime(sandbox.clock.now()),
                       ending_at=to_datetime(sandbox.clock.now()) + timedelta(days=1))
    sandbox.ledger.admin_keys.add("custom-admin-key")
    assert gw.cost_report("custom-admin-key", starting_at=to_datetime(sandbox.clock.now()),
                          ending_at=to_datetime(sandbox.clock.now()) + timedelta(days=1))[0]["data"] is not None
    sandbox.reset()
    assert not sandbox.ledger.admin_keys


def test_the_report_pages_when_there_are_more_days_than_the_limit(sandbox, sandbox_client):
    import httpx2

    headers = {"x-api-key": ADMIN_KEY, "anthropic-version": "2023-06-01"}
    url = sandbox.base_url + "/v1/organizations/cost_report"
    first = httpx2.get(url, params={"starting_at": "2026-11-01T00:00:00Z", "ending_at": "2026-11-11T00:00:00Z",
                                    "limit": "7"}, headers=headers).json()
    assert len(first["data"]) == 7 and first["has_more"] and first["next_page"]
    rest = httpx2.get(url, params={"starting_at": "2026-11-01T00:00:00Z", "ending_at": "2026-11-11T00:00:00Z",
                                   "limit": "7", "page": first["next_page"]}, headers=headers).json()
    assert [b["starting_at"][:10] for b in rest["data"]] == ["2026-11-08", "2026-11-09", "2026-11-10"]
    assert not rest["has_more"] and rest["next_page"] is None
    bad = httpx2.get(url, params={"ending_at": "2026-11-11T00:00:00Z"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
