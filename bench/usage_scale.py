"""The Usage page on a big log: fill a DuckDB file with N realistic rows, time the page's queries
(all together) and its AppTest render, and compare with the same aggregations done in pandas.

    python bench/usage_scale.py                     # 1M and 10M rows
    python bench/usage_scale.py --rows 200000       # quicker
    python bench/usage_scale.py --keep /tmp/usage   # keep the DuckDB files (reused when present)

Rows are generated inside DuckDB from range() (one vectorised INSERT ... SELECT), over the 30 UTC
days the page shows by default (today included), in time order as the app appends them: five models, five features, 40 users, ~3 % errors and
429s, prompt caching on most calls, rate-limit headers, and outcome rows (accepted fields) for a tenth of the
extractions. Every number printed is measured in this run; the targets (queries <= 1 s at 10M rows
on 2 cores, page <= 3 s) are printed next to them, never assumed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.services import POSTGRES_PREFIXES  # noqa: E402
from lib.services import open_database as _open_database  # noqa: E402
from lib.usage.log import COLUMNS  # noqa: E402
from lib.usage.queries import UsageFilter, UsageQueries, what_if  # noqa: E402

DAYS = 30
# (model, input $/MTok, cache read $/MTok, output $/MTok): the rates of data/models.toml in force
# over the generated month, so the generated cost_usd is what the gateway would have logged.
PRICES = [("claude-sonnet-4-6", 3, 0.30, 15), ("claude-haiku-4-5", 1, 0.10, 5), ("claude-opus-4-8", 5, 0.50, 25),
          ("claude-sonnet-5-5", 2, 0.10, 10), ("claude-opus-5-5", 4, 0.20, 20)]

FILL_SQL = """
INSERT INTO usage_log (id, ts, call_id, backend, request_id, model, feature, "user", status, error_type, attempt,
    input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, service_tier, stop_reason, latency_ms, ttft_ms, rl_requests_limit, rl_requests_remaining,
    rl_input_tokens_limit, rl_input_tokens_remaining, rl_output_tokens_limit, rl_output_tokens_remaining,
    retry_after_s, cost_usd, outcome_kind)
WITH prices(model, p_in, p_read, p_out) AS (VALUES {prices}),
base AS (
    SELECT i, hash(i, 1) % 1000 AS hm, hash(i, 2) % 1000 AS hf, hash(i, 3) % 40 AS hu, hash(i, 4) % 10000 AS hs,
           hash(i, 5) % 1000 AS hc, (hash(i, 6) % 100000) / 100000.0 AS r1,
           (hash(i, 7) % 100000) / 100000.0 AS r2, (hash(i, 8) % 100000) / 100000.0 AS r3
    FROM range(?) t(i)),
shaped AS (
    SELECT i, r1, r2, r3, hc,
           ?::TIMESTAMP + to_microseconds((i * ?)::BIGINT) AS ts,
           CASE WHEN hm < 450 THEN 'claude-sonnet-4-6' WHEN hm < 650 THEN 'claude-haiku-4-5'
                WHEN hm < 800 THEN 'claude-opus-4-8' WHEN hm < 950 THEN 'claude-sonnet-5-5'
                ELSE 'claude-opus-5-5' END AS model,
           CASE WHEN hf < 300 THEN 'summarize' WHEN hf < 600 THEN 'extract' WHEN hf < 780 THEN 'follow_up'
                WHEN hf < 950 THEN 'assistant' ELSE 'batch' END AS feature,
           'rep' || lpad(hu::VARCHAR, 2, '0') AS usr,
           CASE WHEN hs < 150 THEN '429' WHEN hs < 200 THEN '529' WHEN hs < 220 THEN '500'
                WHEN hs < 270 THEN 'aborted' ELSE 'ok' END AS status
    FROM base),
tok AS (
    SELECT *, status IN ('ok', 'aborted') AS billed,
           CASE WHEN status IN ('ok', 'aborted') THEN 200 + floor(r1 * r1 * 4000)::BIGINT ELSE 0 END AS t_in,
           CASE WHEN status IN ('ok', 'aborted') AND hc < 600 THEN 3000 + floor(r2 * 15000)::BIGINT ELSE 0 END AS t_read,
           CASE WHEN status IN ('ok', 'aborted') AND hc >= 600 AND hc < 700
                THEN 2000 + floor(r2 * 6000)::BIGINT ELSE 0 END AS t_w5,
           CASE WHEN status IN ('ok', 'aborted') AND hc >= 700 AND hc < 720
                THEN 2000 + floor(r2 * 6000)::BIGINT ELSE 0 END AS t_w1,
           CASE WHEN status IN ('ok', 'aborted') THEN 50 + floor(r3 * 1500)::BIGINT ELSE 0 END AS t_out
    FROM shaped)
SELECT i + 1, ts, 'c' || i::VARCHAR, 'anthropic', 'req_' || i::VARCHAR, tok.model, feature, usr, status,
       CASE status WHEN '429' THEN 'rate_limit_error' WHEN '529' THEN 'overloaded_error'
                   WHEN '500' THEN 'api_error' END,
       CASE WHEN status = 'ok' AND hc % 7 = 0 THEN 1 ELSE 0 END,
       t_in, t_out, t_read, t_w5 + t_w1, t_w5, t_w1,
       CASE WHEN feature = 'batch' THEN 'batch' ELSE 'standard' END,
       CASE WHEN status = 'ok' THEN 'end_turn' END,
       CASE WHEN feature <> 'batch' THEN 250 + exp(r1 * 4) * 300 END,
       CASE WHEN feature IN ('summarize', 'follow_up', 'assistant') AND status = 'ok' THEN 150 + r2 * r2 * 2500 END,
       4000, 4000 - hash(i, 9) % 3000, 2000000, 2000000 - hash(i, 10) % 1600000, 400000, 400000 - hash(i, 11) % 300000,
       CASE WHEN status = '429' THEN 2.0 END,
       CASE WHEN billed THEN round((p_in * t_in + p_in * 1.25 * t_w5 + p_in * 2 * t_w1 + p_read * t_read + p_out * t_out)
                                   / 1000000 * CASE WHEN feature = 'batch' THEN 0.5 ELSE 1 END, 9)
            ELSE 0 END,
       CASE WHEN feature = 'follow_up' AND status = 'ok' THEN 'follow_up' END
FROM tok JOIN prices p ON p.model = tok.model
ORDER BY i
"""

HISTORY_SQL = """
INSERT INTO usage_outcomes (ref, call_id, ts, backend, model, feature, "user", fields, contacts)
SELECT 'cs' || u.id, u.call_id, u.ts, u.backend, u.model, u.feature, u."user", 3, 1
FROM usage_log u
WHERE u.feature = 'extract' AND u.status = 'ok' AND hash(u.id, 12) % 10 = 0
"""


def dialect_sql(sql: str, dialect: str) -> str:
    """The generator's SQL (written for DuckDB) in `dialect`: on Postgres, hash(x, k) becomes
    hashint8extended (non-negative), range(n) generate_series, to_microseconds an interval, and the
    uniform draws DOUBLE PRECISION (numeric arithmetic on 10M rows would be slow)."""
    if dialect == "duckdb":
        return sql
    sql = re.sub(r"hash\(([\w.]+), (\d+)\)", r"abs(hashint8extended(\1::BIGINT, \2))", sql)
    sql = sql.replace("FROM range(?) t(i)", "FROM generate_series(0, ? - 1) AS t(i)")
    sql = re.sub(r"to_microseconds\((\(i \* \?\)::BIGINT)\)", r"\1 * INTERVAL '1 microsecond'", sql)
    return sql.replace("/ 100000.0", "/ 100000.0::DOUBLE PRECISION")


def open_database(target: Path | str):
    """The database at `target` (a DuckDB file or a postgresql:// URL), migrated, on 2 threads where DuckDB."""
    db = _open_database(target, local_path=Path(tempfile.gettempdir()) / "usage_scale-side")
    if db.dialect == "duckdb":
        db.cursor().execute("SET threads = 2")
    return db


def is_postgres(target: Path | str) -> bool:
    return str(target).startswith(POSTGRES_PREFIXES)


def settle(db) -> None:
    """After a bulk load: DuckDB checkpoints; Postgres moves the id sequence past the rows and analyses."""
    cur = db.cursor()
    if db.dialect == "duckdb":
        cur.execute("CHECKPOINT")
        return
    cur.execute("SELECT setval('usage_log_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM usage_log), false)")
    cur.execute("SELECT setval('usage_outcome_id_seq', (SELECT coalesce(max(id), 0) + 1 FROM usage_outcomes), false)")
    for table in ("usage_log", "usage_outcomes", "usage_daily", "usage_latency_daily"):
        cur.execute(f"VACUUM ANALYZE {table}")


def fill(path: Path | str, rows: int) -> float:
    """Fill `path` (a DuckDB file, or a postgresql:// URL) with `rows` usage rows (and some outcomes);
    return the seconds it took."""
    t0 = time.perf_counter()
    db = open_database(path)
    end = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = datetime.combine(end.date() - timedelta(days=DAYS - 1), datetime.min.time())  # the page's default 30 days
    step_us = (end - start) / timedelta(microseconds=1) / rows
    prices = ", ".join(f"('{m}', {a}, {b}, {c})" for m, a, b, c in PRICES)
    cur = db.cursor()
    cur.execute(dialect_sql(FILL_SQL.format(prices=prices), db.dialect), [rows, start, step_us])
    cur.execute(dialect_sql(HISTORY_SQL, db.dialect))
    settle(db)
    db.close()
    return time.perf_counter() - t0


def catch_up(path: Path | str) -> float:
    """Seconds for the first roll-up of the whole log (once per file; later refreshes add new rows only)."""
    db = open_database(path)
    t0 = time.perf_counter()
    ok = UsageQueries(db).refresh()
    took = time.perf_counter() - t0
    settle(db)
    db.close()
    if not ok:
        raise RuntimeError("the roll-up refresh failed")
    return took


def page_filter(q: UsageQueries) -> UsageFilter:
    """The page's default view: the last 30 UTC days, today included, on the real backend (here: every row)."""
    today = datetime.now(UTC).date()
    return UsageFilter.for_days(today - timedelta(days=DAYS - 1), today, backend=q.default_backend())


def everything(q: UsageQueries, f: UsageFilter) -> None:
    """Every query the Usage page runs for its default view (the budgets table and a what-if included)."""
    q.refresh()
    q.version()
    q.options(f.backend)
    report = q.report(f)
    q.period_spend(f.backend)  # the budgets table
    what_if(report.groups, "model", model="claude-haiku-4-5", prices=q.prices)


def per_query(q: UsageQueries, f: UsageFilter) -> list[tuple[str, object]]:
    """The page's queries one by one, named (to see where the time goes)."""
    return [("version+options", lambda: (q.version(), q.options(f.backend))),
            ("headline", lambda: q.headline(f)), ("series", lambda: q.series(f)),
            ("spend_by_model", lambda: q.spend_by_model(f)), ("latency", lambda: q.latency(f)),
            ("breakdowns", lambda: q.breakdowns(f)), ("outcomes", lambda: q.cost_per_outcome(f)),
            ("price_groups", lambda: q.price_groups(f)), ("period_spend", lambda: q.period_spend(f.backend))]


# 1,000 new rows that copy the latest ones (in both dialects: a column list, not DuckDB's REPLACE)
_COPY_COLUMNS = [c for c in COLUMNS if c != "call_id"]
APPEND_SQL = (f"INSERT INTO usage_log (id, call_id, {', '.join(chr(34) + c + chr(34) for c in _COPY_COLUMNS)}) "
              f"SELECT id + 1000, call_id || 'x', {', '.join(chr(34) + c + chr(34) for c in _COPY_COLUMNS)} "
              "FROM usage_log WHERE id > ?")


def time_queries(path: Path | str, repeats: int) -> tuple[float, list[float], UsageFilter]:
    """Median seconds of everything the page asks the database (a cold first run is reported apart)."""
    db = open_database(path)
    q = UsageQueries(db)
    q.refresh()
    f = page_filter(q)

    t0 = time.perf_counter()
    everything(q, f)
    cold = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        everything(q, f)
        runs.append(time.perf_counter() - t0)
    db.close()
    return cold, runs, f


def time_each(path: Path | str, f: UsageFilter) -> dict[str, float]:
    """Seconds per query (one warm run each), to see where the time goes."""
    db = open_database(path)
    q = UsageQueries(db)
    out = {"refresh (nothing new)": 0.0}
    t0 = time.perf_counter()
    q.refresh()
    out["refresh (nothing new)"] = time.perf_counter() - t0
    for name, run in per_query(q, f):
        run()
        t0 = time.perf_counter()
        run()
        out[name] = time.perf_counter() - t0
    # steady state: 1,000 new rows arrive (copies of the latest ones), then the next page load rolls them up
    cur = db.cursor()
    top = cur.execute("SELECT max(id) FROM usage_log").fetchone()[0]
    cur.execute(APPEND_SQL, [top - 1000])
    t0 = time.perf_counter()
    q.refresh()
    out["refresh (1,000 new rows)"] = time.perf_counter() - t0
    db.close()
    return out


def pandas_same(path: Path, f: UsageFilter) -> tuple[float, float]:
    """(load seconds, aggregate seconds): the same aggregations in pandas on the filtered rows."""
    db = open_database(path)
    t0 = time.perf_counter()
    df = db.cursor().execute(
        """SELECT ts, model, feature, "user", status, attempt, input_tokens, output_tokens, cache_read_input_tokens,
                  cache_creation_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens, service_tier, speed,
                  inference_geo, latency_ms, ttft_ms, rl_requests_limit, rl_requests_remaining,
                  rl_input_tokens_limit, rl_input_tokens_remaining, rl_output_tokens_limit,
                  rl_output_tokens_remaining, cost_usd::DOUBLE AS cost_usd, call_id, outcome_kind
           FROM usage_log WHERE ts >= ? AND ts < ? AND backend = ?""", [f.start, f.end, f.backend]).df()
    hist = db.cursor().execute("SELECT call_id, model, fields, contacts FROM usage_outcomes WHERE NOT undone").df()
    load = time.perf_counter() - t0
    db.close()
    t0 = time.perf_counter()
    w5 = df.cache_write_5m_tokens + (df.cache_creation_input_tokens - df.cache_write_5m_tokens
                                     - df.cache_write_1h_tokens).clip(lower=0)
    df = df.assign(t_w5=w5, bucket=df.ts.dt.floor("D"), day=df.ts.dt.date,
                   prompt=df.input_tokens + w5 + df.cache_write_1h_tokens + df.cache_read_input_tokens,
                   err=~df.status.isin(["ok", "aborted"]), r429=df.status == "429")
    ok = df[df.status == "ok"]
    sums = ["input_tokens", "t_w5", "cache_write_1h_tokens", "cache_read_input_tokens", "output_tokens"]
    # headline
    df[sums + ["cost_usd"]].sum()
    (df.err.sum(), df.r429.sum(), (df.attempt > 0).sum(), df.cost_usd.isna().sum())
    ok.latency_ms.quantile([0.5, 0.95])
    ok.ttft_ms.quantile([0.5, 0.95])
    # series: tokens, hit rate, headroom
    for dim in ("requests", "input_tokens", "output_tokens"):
        df[f"used_{dim}"] = 1 - df[f"rl_{dim}_remaining"] / df[f"rl_{dim}_limit"]
    df.groupby("bucket").agg(**{k: (k, "sum") for k in sums}, err=("err", "sum"), r429=("r429", "sum"),
                             **{f"peak_{d}": (f"used_{d}", "max") for d in ("requests", "input_tokens",
                                                                            "output_tokens")})
    df.sort_values("ts").groupby("bucket").tail(1)
    # spend by model, by feature, by user
    df.groupby(["bucket", "model"]).cost_usd.sum()
    df.groupby("feature").agg(cost=("cost_usd", "sum"), n=("cost_usd", "size"))
    df.groupby("user").agg(cost=("cost_usd", "sum"), n=("cost_usd", "size"))
    # latency histograms
    import numpy as np
    np.floor(np.log10(ok.latency_ms.clip(lower=1)) * 10).value_counts()
    np.floor(np.log10(ok.ttft_ms.dropna().clip(lower=1)) * 10).value_counts()
    # price groups
    df.groupby(["model", "day", "service_tier", "speed", "inference_geo", df.prompt > 200_000],
               dropna=False)[sums + ["cost_usd"]].sum()
    # cost per outcome
    hist.groupby("model")[["fields", "contacts"]].sum()
    df[df.feature.isin(["extract", "batch", "follow_up"])].groupby(["model", "feature"]).cost_usd.sum()
    agg = time.perf_counter() - t0
    return load, agg


def time_page(path: Path, base_url: str) -> tuple[float, float, str]:
    """(cold, warm) seconds of an AppTest run of the Usage page (st.cache_data cleared before each), and the
    "Spend in range" it showed."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["SCRIBE_DB"] = str(path)
    os.environ["ANTHROPIC_BASE_URL"] = base_url
    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "main.py"), default_timeout=120)
    at.run()
    times = []
    for _ in range(2):
        st.cache_data.clear()
        at.switch_page("app_pages/usage.py")
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(f"the page failed: {at.exception}")
    shown = next(m.value for m in at.metric if m.label == "Spend in range")
    return times[0], times[1], shown


def log_sum(path: Path, f: UsageFilter) -> float:
    """The filter's known spend summed straight from the rows (a check on the page's number)."""
    db = open_database(path)
    where, params = f.where()
    total = db.cursor().execute(f"SELECT coalesce(sum(cost_usd), 0) FROM usage_log WHERE {where}", params).fetchone()[0]
    db.close()
    return float(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="directory for the DuckDB files (reused if present)")
    parser.add_argument("--no-page", action="store_true", help="skip the AppTest render")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="usage_scale_"))
    workdir.mkdir(parents=True, exist_ok=True)

    from lib.sandbox import SandboxConfig, Simulator

    sim = Simulator(SandboxConfig(virtual_clock=True))
    base_url = sim.start()
    print(f"usage_scale: {os.cpu_count()} CPU(s), DuckDB threads=2, files in {workdir}")
    for rows in args.rows:
        path = workdir / f"usage_{rows}.duckdb"
        if path.exists():
            print(f"\n== {rows:,} rows (reusing {path.name})")
        else:
            print(f"\n== {rows:,} rows: generating ...", flush=True)
            print(f"   generated in {fill(path, rows):.1f} s ({path.stat().st_size / 1e6:,.0f} MB)")
            print(f"   first roll-up of the whole log (once): {catch_up(path):.2f} s", flush=True)
        cold, runs, f = time_queries(path, args.repeats)
        warm = statistics.median(runs)
        print(f"   page queries, all together: cold {cold:.3f} s, warm median {warm:.3f} s "
              f"(min {min(runs):.3f}, max {max(runs):.3f}; target <= 1 s at 10M rows)")
        each = time_each(path, f)
        print("   per query (warm): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in each.items()))
        load, agg = pandas_same(path, f)
        print(f"   pandas: load {load:.2f} s + aggregate {agg:.2f} s; "
              f"ratio pandas aggregate / DuckDB = {agg / warm:.1f}x, (load + aggregate) / DuckDB = "
              f"{(load + agg) / warm:.1f}x")
        if not args.no_page:
            page_cold, page_warm, shown = time_page(path, base_url)
            print(f"   Usage page AppTest render (cache cleared): first {page_cold:.2f} s, second {page_warm:.2f} s "
                  f"(target <= 3 s); it showed spend {shown}, the log sums to ${log_sum(path, f):,.2f}")
    sim.stop()


if __name__ == "__main__":
    main()
