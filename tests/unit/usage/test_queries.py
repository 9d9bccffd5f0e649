"""The Usage page's numbers on small logs, against values worked out by hand (the arithmetic is in the comments)."""

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from lib.crm.records import Change
from lib.services import open_database
from lib.usage import log as usage_log
from lib.usage import queries as uq
from lib.usage.log import UsageLog, UsageRecord
from lib.usage.outcomes import CallOutcome, OutcomeLog
from lib.usage.queries import HitRate, UsageFilter, UsageQueries, choose_bucket
from lib.work.saving import outcomes_of

DAY = date(2026, 11, 20)
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ALL = UsageFilter.for_days(DAY - timedelta(days=5), DAY + timedelta(days=5), backend="anthropic")


def rec(**over) -> UsageRecord:
    base = dict(ts=T0, call_id="c", backend="anthropic", model="claude-sonnet-4-6", feature="summarize", user="dana",
                status="ok")
    return UsageRecord(**(base | over))


# The fixed log. Prices ($/MTok): Sonnet 4.6 in 3, 5m write 3.75, read 0.30, out 15; Haiku 4.5 in 1, 1h write 2,
# read 0.10, out 5.
FIXED = [
    # A: 1000 in, 2000 5m-write, 500 out: 3*1000 + 3.75*2000 + 15*500 = 3000 + 7500 + 7500 = 18000 -> $0.018
    rec(call_id="a", input_tokens=1000, cache_creation_input_tokens=2000, cache_write_5m_tokens=2000,
        output_tokens=500, cost_usd=Decimal("0.018"), latency_ms=1000.0, ttft_ms=200.0,
        rl_requests_limit=100, rl_requests_remaining=90, rl_input_tokens_limit=1000, rl_input_tokens_remaining=500,
        rl_output_tokens_limit=400, rl_output_tokens_remaining=300),
    # B: 1000 in, 2000 read, 500 out: 3000 + 0.3*2000 + 7500 = 11100 -> $0.0111
    rec(call_id="b", ts=T0 + timedelta(minutes=5), input_tokens=1000, cache_read_input_tokens=2000,
        output_tokens=500, cost_usd=Decimal("0.0111"), latency_ms=3000.0, ttft_ms=400.0,
        rl_requests_limit=100, rl_requests_remaining=20, rl_input_tokens_limit=1000, rl_input_tokens_remaining=900,
        rl_output_tokens_limit=400, rl_output_tokens_remaining=100),
    # C: Haiku, 4000 in, 1000 1h-write, 3000 read, 200 out: 4000 + 2*1000 + 0.1*3000 + 5*200 = 7300 -> $0.0073
    rec(call_id="c", ts=T0 + timedelta(minutes=10), model="claude-haiku-4-5", feature="extract", user="lee",
        input_tokens=4000, cache_creation_input_tokens=1000, cache_write_1h_tokens=1000, cache_read_input_tokens=3000,
        output_tokens=200, cost_usd=Decimal("0.0073"), latency_ms=2000.0),
    # D: a 429, retried: no tokens, $0
    rec(call_id="b", ts=T0 + timedelta(minutes=4), status="429", error_type="rate_limit_error", cost_usd=Decimal(0)),
    # E: a model without a price: tokens kept, cost unknown (NULL), never $0
    rec(call_id="e", ts=T0 + timedelta(minutes=20), model="claude-nope-1", input_tokens=100, output_tokens=10,
        cost_usd=None, latency_ms=500.0, attempt=1),
    # F: sandbox row, never mixed into real spend
    rec(call_id="f", backend="sandbox", input_tokens=50_000, output_tokens=5000, cost_usd=Decimal("1.5")),
]


@pytest.fixture
def db(database):
    """This test's database: each test runs on DuckDB and on Postgres."""
    return database


def fill(db, records):
    """Write the records in one transaction (as fast as the app's one-by-one writes are correct)."""
    with db.transaction() as cur:
        for r in records:
            cur.execute(usage_log._INSERT, usage_log._row_values(r))
    return UsageQueries(db)


@pytest.fixture
def fixed(db):
    return fill(db, FIXED)


def test_headline_on_the_fixed_log(fixed):
    h = fixed.report(ALL).headline
    assert h.requests == 5 and h.retries == 1 and h.errors == 1 and h.rate_limited == 1
    assert h.error_rate == pytest.approx(1 / 5) and h.rate_limited_rate == pytest.approx(1 / 5)
    assert h.spend == Decimal("0.0364")  # 0.018 + 0.0111 + 0.0073; E is unknown, F is sandbox
    assert h.unpriced_rows == 1
    assert h.tokens == {"uncached_input": 6100, "cache_write_5m": 2000, "cache_write_1h": 1000, "cache_read": 5000,
                        "output": 1210}


def test_hit_rate_is_token_weighted(fixed):
    hit = fixed.report(ALL).headline.hit_rate
    # reads 2000 + 3000 = 5000; prompt = input 6100 + writes 3000 + reads 5000 = 14100
    assert hit.state == "used" and hit.rate == Decimal(5000) / Decimal(14100)
    assert hit.label == "35.5%"


def test_savings_are_net_of_the_write_premium(fixed):
    s = fixed.report(ALL).headline.savings
    # Sonnet: reads 2000 * (3 - 0.30) = 5400; 5m premium 2000 * (3.75 - 3) = 1500
    # Haiku:  reads 3000 * (1 - 0.10) = 2700; 1h premium 1000 * (2 - 1) = 1000
    assert s.read_discount == Decimal("0.0081")  # (5400 + 2700) / 1e6
    assert s.write_premium == Decimal("0.0025")  # (1500 + 1000) / 1e6
    assert s.amount == Decimal("0.0056")
    assert s.unpriced_rows == 1  # the unknown model's row


def test_caching_not_used_is_not_zero_percent(db):
    q = fill(db, [rec(input_tokens=500, output_tokens=50, cost_usd=Decimal("0.00225"))])
    hit = q.report(ALL).headline.hit_rate
    assert hit.state == "not_used" and hit.rate is None and hit.label == "caching not used"
    q = fill(db, [rec(call_id="w", input_tokens=10, cache_creation_input_tokens=2000, cache_write_5m_tokens=2000,
                      cost_usd=Decimal("0.00753"))])
    hit = q.report(ALL).headline.hit_rate
    assert hit.state == "used" and hit.rate == 0 and hit.label == "0.0%"  # written, never read: a real 0 %
    assert HitRate(0, 0, 0).label == "no data"


def test_an_empty_log_gives_zeros_and_empty_frames(db):
    report = UsageQueries(db).report(ALL)
    assert report.empty and report.headline.spend == 0 and report.headline.hit_rate.state == "no_data"
    assert report.headline.error_rate is None and report.headline.latency_p50 is None
    assert report.spend_by_model.empty and report.series.empty and report.latency.empty
    assert report.headline.savings.amount == 0
    assert set(report.outcomes["model"].isna()) == {True}  # only the all-models rows, with 0 outcomes
    assert (report.outcomes["outcomes"] == 0).all()


def test_sandbox_spend_is_kept_apart(fixed):
    sandbox = UsageFilter.for_days(DAY, DAY, backend="sandbox")
    assert fixed.report(sandbox).headline.spend == Decimal("1.5")
    assert fixed.default_backend() == "anthropic" and fixed.backends() == ["anthropic", "sandbox"]


def test_filters_by_model_feature_and_user(fixed):
    f = UsageFilter.for_days(DAY, DAY, backend="anthropic", users=("lee",))
    assert fixed.report(f).headline.spend == Decimal("0.0073")
    f = UsageFilter.for_days(DAY, DAY, backend="anthropic", models=("claude-sonnet-4-6",), features=("summarize",))
    assert fixed.report(f).headline.spend == Decimal("0.0291")  # 0.018 + 0.0111
    opts = fixed.options("anthropic")
    assert opts.users == ["dana", "lee"] and opts.first == DAY == opts.last


def test_percentiles_exact_and_from_the_histogram(fixed, monkeypatch):
    h = fixed.report(ALL).headline
    # successful latencies 500, 1000, 2000, 3000: p50 = 1500, p95 = 2000 + 0.85 * 1000 = 2850
    assert h.percentiles_exact and h.latency_p50 == 1500 and h.latency_p95 == pytest.approx(2850)
    assert h.ttft_p50 == 300 and h.ttft_p95 == pytest.approx(390)  # 200, 400


def test_percentiles_from_the_histogram_are_within_three_percent(db, monkeypatch):
    rnd = random.Random(3)
    q = fill(db, [rec(call_id=str(i), latency_ms=10 ** rnd.uniform(2, 4), ttft_ms=rnd.uniform(100, 900))
                  for i in range(1500)])
    exact = q.report(ALL).headline
    monkeypatch.setattr(uq, "EXACT_PERCENTILE_ROWS", 1000)  # 1500 rows: past the limit, read from the histogram
    approx = q.report(ALL).headline
    assert exact.percentiles_exact and not approx.percentiles_exact
    for name in ("latency_p50", "latency_p95", "ttft_p50", "ttft_p95"):
        assert getattr(approx, name) == pytest.approx(getattr(exact, name), rel=0.03), name


def test_headroom_is_one_minus_remaining_over_limit(fixed):
    report = fixed.report(UsageFilter.for_days(DAY, DAY, backend="anthropic"))
    assert report.bucket == "hour"
    # latest attempt with headers is B: requests 1 - 20/100 = 0.8, input 1 - 900/1000 = 0.1, output 1 - 100/400
    assert report.headline.headroom_now == {"requests": 0.8, "input_tokens": pytest.approx(0.1),
                                            "output_tokens": 0.75}
    peak = report.headroom.set_index("dimension")["peak"]
    # peaks over A and B: requests max(0.1, 0.8), input max(0.5, 0.1), output max(0.25, 0.75)
    assert peak["requests"] == 0.8 and peak["input_tokens"] == 0.5 and peak["output_tokens"] == 0.75


def test_choose_bucket():
    t = datetime(2026, 11, 1, tzinfo=UTC)
    assert choose_bucket(t, t + timedelta(days=2)) == "hour"
    assert choose_bucket(t, t + timedelta(days=2, seconds=1)) == "day"
    assert choose_bucket(t, t + timedelta(days=92)) == "day"
    assert choose_bucket(t, t + timedelta(days=93)) == "week"
    assert UsageFilter.for_days(date(2026, 1, 1), date(2026, 1, 1)).bucket == "hour"


def test_time_series_buckets(fixed):
    week = UsageFilter.for_days(DAY - timedelta(days=6), DAY, backend="anthropic")
    report = fixed.report(week)
    assert report.bucket == "day" and len(report.series) == 1
    assert report.series.iloc[0]["hit_rate"] == pytest.approx(5000 / 14100)
    spend = report.spend_by_model.set_index("model")["cost_usd"]
    assert spend["claude-sonnet-4-6"] == pytest.approx(0.0291) and spend["claude-haiku-4-5"] == pytest.approx(0.0073)
    kinds = report.tokens_by_kind.set_index("kind")["tokens"]
    assert kinds["cache_read"] == 5000 and kinds["cache_write_1h"] == 1000


def test_spend_by_feature_and_user(fixed):
    report = fixed.report(ALL)
    assert list(report.by_feature["feature"]) == ["summarize", "extract"]
    assert report.by_feature["cost_usd"].tolist() == pytest.approx([0.0291, 0.0073])
    assert report.by_user.set_index("user").loc["lee", "requests"] == 1


def test_repriced_groups_match_the_logged_costs(fixed):
    groups = fixed.report(ALL).groups
    result = uq.what_if(groups, "batch")
    assert result.baseline == Decimal("0.0364")  # the priced rows, repriced: the same as logged
    assert result.unpriced_rows == 1


def test_accepted_fields_and_saved_contacts_are_counted_from_a_change_sets_history():
    def change(entity, eid, fld, actor="ai", call="x1"):
        return Change(id=0, change_set_id="cs", ts=T0, entity=entity, entity_id=eid, field=fld, old_value=None,
                      new_value="v", actor=actor, call_id=call)

    history = [change("contact", 1, "*created*"), change("contact", 1, "email"), change("deal", 7, "*created*"),
               change("deal", 7, "stage"), change("company", 3, "*created*"), change("interaction", 9, "*created*"),
               change("contact", 2, "title", actor="human")]
    # fields: contact created + email, deal stage, company created = 4 (not the interaction, the bare
    # deal marker or the human edit); one contact saved
    assert outcomes_of(history) == [CallOutcome("x1", 4, 1)]


def test_cost_per_outcome(db):
    q = fill(db, [rec(call_id="x1", feature="extract", cost_usd=Decimal("0.02")),
                  rec(call_id="x2", feature="extract", cost_usd=Decimal("0.01")),  # rejected: nothing saved
                  rec(call_id="f1", feature="follow_up", cost_usd=Decimal("0.004")),
                  rec(call_id="f2", feature="follow_up", cost_usd=Decimal("0.002"))])
    UsageLog(db).set_outcome("f1", "follow_up", "email-1")
    OutcomeLog(db).record("cs", [CallOutcome("x1", fields=4, contacts=1)])
    for f in (ALL, UsageFilter.for_days(DAY, DAY, backend="anthropic")):  # daily roll-up, then raw rows
        out = q.report(f).outcomes
        total = out[out["model"].isna()].set_index("outcome")
        # extraction spend 0.02 + 0.01 = 0.03 -> 0.0075 per field
        assert total.loc["accepted CRM field", "outcomes"] == 4
        assert total.loc["accepted CRM field", "cost_per_outcome"] == Decimal("0.0075")
        assert total.loc["saved contact", "outcomes"] == 1
        assert total.loc["saved contact", "cost_per_outcome"] == Decimal("0.03")
        # one drafted email recorded; follow-up spend 0.004 + 0.002
        assert total.loc["drafted email", "outcomes"] == 1
        assert total.loc["drafted email", "cost_per_outcome"] == Decimal("0.006")


def test_an_outcome_counts_once_and_not_after_an_undo(db):
    q = fill(db, [rec(call_id="x1", feature="extract", cost_usd=Decimal("0.02"))])
    outcomes = OutcomeLog(db)
    fields = lambda: q.report(ALL).outcomes.set_index(["outcome", "model"], drop=False)  # noqa: E731
    outcomes.record("later", [CallOutcome("x1", 2, 1)])
    assert fields().loc[("accepted CRM field", None), "outcomes"] == 2
    outcomes.record("earlier", [CallOutcome("x1", 3, 1)])
    assert fields().loc[("accepted CRM field", None), "outcomes"] == 5
    outcomes.record("earlier", [CallOutcome("x1", 3, 1)])  # reported again (a retried save)
    assert fields().loc[("accepted CRM field", None), "outcomes"] == 5  # and counted once
    outcomes.take_back("earlier")  # undone
    assert fields().loc[("accepted CRM field", None), "outcomes"] == 2
    outcomes.take_back_field("later", "x1")  # one field of it reverted
    assert fields().loc[("accepted CRM field", None), "outcomes"] == 1


def test_spend_today_and_this_month(db):
    now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    q = fill(db, [rec(call_id="1", ts=now - timedelta(hours=1), cost_usd=Decimal("1")),
                  rec(call_id="2", ts=now - timedelta(days=3), cost_usd=Decimal("2")),
                  rec(call_id="3", ts=datetime(2026, 10, 31, 23, tzinfo=UTC), cost_usd=Decimal("4")),
                  rec(call_id="4", ts=now - timedelta(hours=2), user="lee", feature="extract", cost_usd=Decimal("8"))])
    q.refresh()
    assert q.spend_today_and_month(ALL, now=now) == (Decimal(9), Decimal(11))
    spend = q.period_spend("anthropic", now=now).set_index(["scope", "subject"])
    assert spend.loc[("team", ""), "day"] == 9 and spend.loc[("team", ""), "month"] == 11
    assert spend.loc[("user", "lee"), "day"] == 8 and spend.loc[("feature", "summarize"), "month"] == 3


def test_export_is_the_filtered_rows(fixed):
    data = fixed.export_csv(UsageFilter.for_days(DAY, DAY, backend="anthropic", users=("lee",))).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == 1 and list(rows[0])[:3] == ["id", "ts", "call_id"]
    assert rows[0]["user"] == "lee" and rows[0]["cost_usd"] == "0.007300000" and rows[0]["call_id"] == "c"


def test_export_after_a_half_read_result_on_the_same_thread(fixed):
    """The Usage page reads its filter options (a fetchone) and then exports on the same thread's cursor."""
    fixed.options("anthropic")
    data = fixed.export_csv(UsageFilter.for_days(DAY, DAY, backend="anthropic")).decode()
    assert len(list(csv.DictReader(io.StringIO(data)))) >= 1


# -- the daily roll-ups answer exactly what the raw rows answer ----------------------------------------


def random_log(n: int, seed: int) -> list[UsageRecord]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ok = rnd.random() > 0.1
        model = rnd.choice(["claude-sonnet-4-6", "claude-haiku-4-5", "claude-sonnet-4-5", "claude-haiku-5-5",
                            "claude-nope-1"])
        w5, w1 = rnd.choice([0, 0, 2500]), rnd.choice([0, 0, 0, 1200])
        big = rnd.random() < 0.1  # prompts over the long-context thresholds
        out.append(rec(
            call_id=f"r{i}", ts=T0 + timedelta(hours=rnd.randint(-100, 100), seconds=rnd.uniform(0, 3600)),
            backend=rnd.choice(["anthropic", "anthropic", "sandbox"]), model=model,
            feature=rnd.choice(["summarize", "extract", "batch"]), user=rnd.choice(["dana", "lee", "kim"]),
            status="ok" if ok else rnd.choice(["429", "529", "aborted"]), attempt=rnd.choice([0, 0, 1]),
            input_tokens=(rnd.randint(1, 5000) + (250_000 if big else 0)) if ok else 0,
            cache_creation_input_tokens=w5 + w1, cache_write_5m_tokens=w5, cache_write_1h_tokens=w1,
            cache_read_input_tokens=rnd.choice([0, 3000]), output_tokens=rnd.randint(0, 900),
            service_tier="batch" if rnd.random() < 0.2 else "standard",
            cost_usd=None if model == "claude-nope-1" else Decimal(rnd.randint(0, 10**7)) / 10**9,
            latency_ms=rnd.uniform(100, 9000), ttft_ms=rnd.choice([None, rnd.uniform(50, 3000)]),
            rl_requests_limit=rnd.choice([None, 50]), rl_requests_remaining=rnd.randint(0, 50),
            rl_input_tokens_limit=10_000, rl_input_tokens_remaining=rnd.randint(0, 10_000),
            rl_output_tokens_limit=2000, rl_output_tokens_remaining=rnd.randint(0, 2000)))
    return out


def both(q: UsageQueries, f: UsageFilter) -> tuple:
    """The report from the daily roll-ups, and the same report from the raw rows."""
    rolled = q.report(f)
    assert q._uses_rollup(f)
    raw_q = UsageQueries(q.db)
    raw_q.refresh = lambda: False  # never roll up: every query reads usage_log
    raw = raw_q.report(f)
    assert not raw_q._uses_rollup(f)
    return rolled, raw


def frames_equal(a: pd.DataFrame, b: pd.DataFrame, sort: list[str]) -> None:
    a = a.sort_values(sort).reset_index(drop=True)
    b = b.sort_values(sort).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("users", [(), ("lee",)])
def test_the_rollup_gives_the_raw_answer(db, users):
    q = fill(db, random_log(400, seed=7))
    f = UsageFilter.for_days(DAY - timedelta(days=4), DAY + timedelta(days=4), backend="anthropic", users=users)
    rolled, raw = both(q, f)
    hr, hw = rolled.headline, raw.headline
    for name in ("requests", "retries", "errors", "rate_limited", "spend", "unpriced_rows", "tokens", "spend_today",
                 "spend_month", "savings", "latency_p50", "latency_p95", "ttft_p95"):
        assert getattr(hr, name) == pytest.approx(getattr(hw, name)) if "latency" in name or "ttft" in name \
            else getattr(hr, name) == getattr(hw, name), name
    assert hr.headroom_now == hw.headroom_now
    frames_equal(rolled.series, raw.series, ["bucket"])
    frames_equal(rolled.spend_by_model, raw.spend_by_model, ["bucket", "model"])
    frames_equal(rolled.groups, raw.groups, ["day", "model", "service_tier", "lc_tier"])
    frames_equal(rolled.by_user, raw.by_user, ["user"])
    frames_equal(rolled.latency, raw.latency, ["metric", "lower_ms"])
    assert rolled.groups["lc_tier"].max() >= 1  # long prompts were there to classify


def fresh_database(db, request, tmp_path):
    """Another empty database of the same kind as `db`."""
    if db.dialect == "duckdb":
        return open_database(tmp_path / "fresh.duckdb")
    return open_database(request.getfixturevalue("postgres_server").new_database(), local_path=tmp_path / "fresh")


def test_an_incremental_refresh_equals_a_fresh_build(db, request, tmp_path):
    rows = random_log(300, seed=11)
    q = fill(db, rows[:120])
    q.refresh()
    log = UsageLog(db)
    for r in rows[120:]:
        log.write(r)
    q.refresh()
    other = fresh_database(db, request, tmp_path)
    fresh = fill(other, rows)
    fresh.refresh()
    cols = "day, backend, model, feature, \"user\", status, service_tier, speed, inference_geo, lc_tier"
    get = lambda d: d.cursor().execute(f"SELECT * FROM usage_daily ORDER BY {cols}").df()  # noqa: E731
    pd.testing.assert_frame_equal(get(db), get(other))
    lat = lambda d: d.cursor().execute(  # noqa: E731
        "SELECT * FROM usage_latency_daily ORDER BY day, backend, model, feature, metric, bin").df()
    pd.testing.assert_frame_equal(lat(db), lat(other))


def test_a_refresh_with_nothing_new_writes_nothing(fixed):
    fixed.refresh()
    before = fixed.db.cursor().execute("SELECT * FROM usage_rollup_state ORDER BY name").fetchall()
    fixed.refresh()
    assert fixed.db.cursor().execute("SELECT * FROM usage_rollup_state ORDER BY name").fetchall() == before
    assert f"{dict((n, m) for n, m, _ in before)['usage_daily']}:0" == fixed.version()


def test_format_usd():
    assert [uq.format_usd(v) for v in ("1234.5", "1", "0.5", "0.0364", "0.009", "0", "-0.0056", "0.00004", None)] == [
        "$1,234.50", "$1.00", "$0.50", "$0.0364", "$0.009", "$0.00", "−$0.0056", "<$0.0001", "—"]


def test_the_latest_headroom_is_the_latest_attempt_with_headers(db):
    # Latest by time, not by id: x3 is written last but happened first; x2 is the latest attempt but has no
    # rate-limit headers, so it is skipped. x1's used share is 1 - 60/100 = 0.4 (x3's would be 0.9).
    q = fill(db, [rec(call_id="x1", ts=T0 + timedelta(hours=1), rl_requests_limit=100, rl_requests_remaining=60),
                  rec(call_id="x2", ts=T0 + timedelta(hours=2)),
                  rec(call_id="x3", ts=T0, rl_requests_limit=100, rl_requests_remaining=10)])
    part_day = UsageFilter(T0 - timedelta(hours=1), T0 + timedelta(hours=5), backend="anthropic")
    for f in (ALL, part_day):  # from the daily roll-up (refreshed by report), and from the raw rows
        report = q.report(f)
        assert q._uses_rollup(f) == (f is ALL)
        assert report.headline.headroom_now["requests"] == pytest.approx(0.4)
        assert report.series["last_requests"].dropna().iloc[-1] == pytest.approx(0.4)


def test_arg_max_is_spelled_for_postgres_as_a_built_in_ordered_aggregate():
    sql = "SELECT arg_max(last_requests, last_requests_ts) FROM src"
    assert uq.for_dialect(sql, "duckdb") == sql
    assert uq.for_dialect(sql, "postgres") == (
        "SELECT (array_agg(last_requests ORDER BY last_requests_ts DESC) "
        "FILTER (WHERE last_requests IS NOT NULL AND last_requests_ts IS NOT NULL))[1] FROM src")
