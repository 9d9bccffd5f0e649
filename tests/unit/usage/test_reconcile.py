"""Reconciliation: cents to dollars, drift, days not final, and the cost-report call through the gateway."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx2
import pandas as pd
import pytest

from lib.claude.gateway import Gateway
from lib.core.errors import AuthenticationFailed
from lib.services import open_database
from lib.usage import reconcile
from lib.usage.log import UsageLog

D1, D2, D3 = date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)


def page(buckets, has_more=False, next_page=None):
    return {"data": [{"starting_at": f"{d.isoformat()}T00:00:00Z", "ending_at": "x", "results": items}
                     for d, items in buckets], "has_more": has_more, "next_page": next_page}


def item(model, cents, currency="USD"):
    return {"model": model, "amount": cents, "currency": currency, "cost_type": "tokens"}


def test_amounts_are_cents_as_decimal_strings():
    theirs = reconcile.parse_cost_report([page([(D1, [item("claude-sonnet-4-6", "123.45"),
                                                      item("claude-sonnet-4-6", "0.0042"),
                                                      item("claude-haiku-4-5-20251001", "50")])])])
    got = {(r.day, r.model): r.theirs_usd for r in theirs.itertuples()}
    # 123.45 + 0.0042 cents = $1.234542; the dated Haiku id is the price table's claude-haiku-4-5
    assert got == {(D1, "claude-sonnet-4-6"): Decimal("1.234542"), (D1, "claude-haiku-4-5"): Decimal("0.5")}


def test_a_report_in_another_currency_is_refused():
    with pytest.raises(ValueError, match="EUR"):
        reconcile.parse_cost_report([page([(D1, [item("claude-sonnet-4-6", "1", currency="EUR")])])])


def test_a_match_is_under_a_cent_and_under_a_tenth_of_a_percent():
    assert reconcile.matches(Decimal("0.009"), Decimal(100))  # 0.009 % of $100
    assert not reconcile.matches(Decimal("0.011"), Decimal(1000))  # over a cent
    assert not reconcile.matches(Decimal("0.00015"), Decimal("0.003"))  # 5 %
    assert reconcile.matches(Decimal("0.000000004"), Decimal("0.003"))  # rounding of nano-dollars
    assert reconcile.matches(Decimal("0.004"), Decimal(0)) and not reconcile.matches(Decimal("0.02"), Decimal(0))


def test_drift_math():
    assert reconcile.drift(Decimal("1.10"), Decimal("1.00")) == (Decimal("0.10"), Decimal("0.1"))
    assert reconcile.drift(Decimal("0.5"), Decimal(0)) == (Decimal("0.5"), None)


def test_a_day_is_final_a_full_day_after_it_ended():
    assert not reconcile.is_final(D2, datetime(2026, 11, 20, 23, 59, tzinfo=UTC))
    assert reconcile.is_final(D2, datetime(2026, 11, 21, 0, 0, tzinfo=UTC))  # ended 2026-11-20 00:00, +24 h


def test_reconcile_lines_up_days_and_models():
    ours = pd.DataFrame([(D1, "claude-sonnet-4-6", Decimal("2.00"), 0), (D1, "claude-haiku-4-5", Decimal("0.30"), 0),
                         (D2, "claude-sonnet-4-6", Decimal("1.004"), 0), (D3, "claude-sonnet-4-6", Decimal("1"), 2)],
                        columns=["day", "model", "cost_usd", "unpriced"])
    theirs = pd.DataFrame([(D1, "claude-sonnet-4-6", Decimal("2.00")), (D1, "claude-opus-4-8", Decimal("0.25")),
                           (D2, "claude-sonnet-4-6", Decimal("1.00")), (D3, "claude-sonnet-4-6", Decimal("0.5"))],
                          columns=["day", "model", "theirs_usd"])
    out = reconcile.reconcile(ours, theirs, now=datetime(2026, 11, 21, 12, tzinfo=UTC))
    rows = {(r.day, r.model): r for r in out.itertuples()}
    assert rows[(D1, "claude-sonnet-4-6")].status == "matches" and rows[(D1, "claude-sonnet-4-6")].drift_usd == 0
    haiku = rows[(D1, "claude-haiku-4-5")]  # ours only: 0.30 - 0 drifts, and no share of nothing
    assert haiku.drift_usd == Decimal("0.30") and haiku.drift_pct is None and haiku.status == "drift"
    opus = rows[(D1, "claude-opus-4-8")]  # theirs only
    assert opus.ours_usd == 0 and opus.drift_usd == Decimal("-0.25") and opus.drift_pct == -1
    assert rows[(D2, "claude-sonnet-4-6")].status == "drift"  # 0.4 cents: under a cent, but 0.4 % of $1.00
    late = rows[(D3, "claude-sonnet-4-6")]
    assert not late.final and late.status == "not final" and late.unpriced == 2
    s = reconcile.summarize(out)
    assert s.ours == Decimal("4.304") and s.theirs == Decimal("3.75") and s.drift == Decimal("0.554")
    assert s.drifting == 3 and s.pending == 1


# -- the call, through the gateway with a fake transport --------------------------------------------


def gateway(hermetic_env, handler):
    return Gateway(UsageLog(open_database(hermetic_env)), api_key="sk-regular-key", base_url="https://api.example",
                   backend="anthropic"), httpx2.MockTransport(handler)


def test_cost_report_pages_through_with_the_admin_key_only(hermetic_env):
    seen = []

    def handler(request):
        seen.append(request)
        query = parse_qs(urlsplit(str(request.url)).query)
        if "page" not in query:
            return httpx2.Response(200, json=page([(D1, [item("claude-sonnet-4-6", "100")])], True, "next-1"))
        return httpx2.Response(200, json=page([(D2, [item("claude-sonnet-4-6", "50")])]))

    gw, transport = gateway(hermetic_env, handler)
    pages = gw.cost_report("sk-ant-admin01-secret", starting_at=datetime(2026, 11, 18, tzinfo=UTC),
                           ending_at=datetime(2026, 11, 20, tzinfo=UTC), transport=transport)
    assert len(pages) == 2 and len(seen) == 2
    first = seen[0]
    assert first.url.path == "/v1/organizations/cost_report"
    query = parse_qs(urlsplit(str(first.url)).query)
    assert query == {"starting_at": ["2026-11-18T00:00:00Z"], "ending_at": ["2026-11-20T00:00:00Z"],
                     "bucket_width": ["1d"], "group_by[]": ["description"], "limit": ["31"]}
    assert parse_qs(urlsplit(str(seen[1].url)).query)["page"] == ["next-1"]
    assert first.headers["x-api-key"] == "sk-ant-admin01-secret" and "authorization" not in first.headers
    assert UsageLog(open_database(hermetic_env)).recent().empty  # not billed, not logged
    theirs = reconcile.parse_cost_report(pages)
    assert theirs["theirs_usd"].tolist() == [Decimal("1"), Decimal("0.5")]


def test_long_ranges_are_fetched_31_days_at_a_time(hermetic_env):
    starts = []

    def handler(request):
        starts.append(parse_qs(urlsplit(str(request.url)).query)["starting_at"][0])
        return httpx2.Response(200, json=page([]))

    gw, transport = gateway(hermetic_env, handler)
    gw.cost_report("sk-ant-admin01", starting_at=datetime(2026, 9, 1, tzinfo=UTC),
                   ending_at=datetime(2026, 11, 15, tzinfo=UTC), transport=transport)
    assert starts == ["2026-09-01T00:00:00Z", "2026-10-02T00:00:00Z", "2026-11-02T00:00:00Z"]


def test_a_refused_admin_key_says_which_setting_to_fix_and_never_shows_it(hermetic_env):
    def handler(request):
        return httpx2.Response(401, json={"type": "error", "error": {"type": "authentication_error",
                                                                      "message": "invalid x-api-key"}})

    gw, transport = gateway(hermetic_env, handler)
    with pytest.raises(AuthenticationFailed) as caught:
        gw.cost_report("sk-ant-admin01-topsecret", starting_at=datetime(2026, 11, 18, tzinfo=UTC),
                       ending_at=datetime(2026, 11, 19, tzinfo=UTC), transport=transport)
    text = str(caught.value)
    assert "ANTHROPIC_ADMIN_KEY" in text and "topsecret" not in text and "ANTHROPIC_API_KEY" not in text
    assert "topsecret" not in json.dumps(caught.value.__dict__, default=str)
