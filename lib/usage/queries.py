"""The Usage page's queries over the usage log: every aggregate is computed in SQL (DuckDB or Postgres).

`lib/usage/log.py` writes the log; this module reads it (the two hold all the usage-log SQL).
Nothing here loads the big log into pandas: each query returns a small, already aggregated frame
or a few numbers. Money comes back as Decimal from DuckDB's DECIMAL sums.

Definitions used everywhere (and on the page):

- A *request* is one HTTP attempt (one row); retries are requests too.
- *Errors* are attempts whose status is neither ``ok`` nor ``aborted`` (a Stop click is not an
  error); the *429 rate* counts status ``429`` only.
- *Prompt tokens* = uncached input + cache writes (5m + 1h) + cache reads (Anthropic's
  ``input_tokens`` excludes cache tokens). Cache writes not covered by the 5m/1h split count as
  5m writes, as in `lib.usage.pricing`.
- *Cache-hit rate* = Σ cache reads / Σ prompt tokens (token-weighted, a ratio of sums). When no
  token was read from or written to the cache the rate is "caching not used", not 0 %.
- *Cache savings* = what the cached tokens (reads and writes) would have cost as plain input,
  minus what they cost: the read discount net of the write premium. It is negative when the
  writes were never read back enough to pay for themselves.
- *Used share* of a rate limit = 1 - remaining / limit, per dimension (requests, input tokens,
  output tokens), from the ``anthropic-ratelimit-*`` headers of each attempt.

Savings and the what-if scenarios are priced from *price groups*: the log summed per model, UTC
day, service tier, speed, region and long-context tier (computed per row in SQL), so that each
group has one set of rates in `lib.usage.pricing` and the sum over groups equals the sum over rows.

Speed on a big log: every query is written once, over a *source* with the same columns either way:
the raw rows (for hourly views and ranges that do not start and end at midnight) or the
``usage_daily`` roll-up (day x backend x model x feature x user x status x tier x speed x region x
long-context tier), which `refresh()` brings up to date incrementally (rows with an id above its
watermark; writes hold `usage_log.write_lock`, so ids become visible in order) before each report.
Outcomes (accepted CRM fields, saved contacts) come from the usage side's own ``usage_outcomes``
table, which the work that produced them reports to (lib.usage.outcomes); latency/TTFT as 40-bins-per-decade histograms per day, model and feature (``usage_latency_daily``;
a user filter reads the rows). Percentiles are exact (quantile_cont) up to EXACT_PERCENTILE_ROWS
successful attempts, and read from the histogram beyond (within 3 %, marked approximate).
A unit test checks that the roll-ups give exactly the raw rows' answers.

The SQL is written once for both databases: explicit GROUP BY positions (no GROUP BY ALL), an alias
on every subquery, float division spelled out, CASE instead of boolean casts. `arg_max(value, ts)` is
DuckDB's built-in, and an aggregate of the same name on Postgres (the usage migrations create it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from lib.core.db import DB_ERRORS, Database
from lib.usage import pricing
from lib.usage.log import write_lock
from lib.usage.pricing import format_usd  # noqa: F401 - re-exported: the pages format money from here

BUCKETS = ("hour", "day", "week")
TOKEN_KINDS = ("uncached_input", "cache_write_5m", "cache_write_1h", "cache_read", "output")
DIMENSIONS = ("requests", "input_tokens", "output_tokens")
OUTCOMES = {
    "crm_field": "accepted CRM field",
    "contact": "saved contact",
    "email": "drafted email",
}
# Features whose spend produces each outcome (cost per outcome = their spend / the outcomes).
OUTCOME_FEATURES = {"crm_field": ("extract", "batch"), "contact": ("extract", "batch"), "email": ("follow_up",)}
FINE_BINS_PER_DECADE = 40  # latency histogram bins per power of ten of milliseconds (percentiles)
SHOWN_BINS_PER_DECADE = 10  # the histogram as charted
EXACT_PERCENTILE_ROWS = 200_000  # up to this many successful attempts, percentiles are exact
_ZERO = Decimal(0)

_KEYS = ("backend", "model", "feature", '"user"', "status", "service_tier", "speed", "inference_geo", "lc_tier")
# Each measure of a source, and how partial aggregates of it combine (rows, roll-up rows, or both).
_MEASURES = {
    "requests": "sum(requests)::BIGINT",
    "retries": "sum(retries)::BIGINT",
    "unpriced": "sum(unpriced)::BIGINT",
    "cost_usd": "coalesce(sum(cost_usd), 0)::DECIMAL(38, 9)",
    **{kind: f"coalesce(sum({kind}), 0)::BIGINT" for kind in TOKEN_KINDS},
    "max_prompt": "coalesce(max(max_prompt), 0)::BIGINT",
    **{f"peak_{dim}": f"max(peak_{dim})" for dim in DIMENSIONS},
    **{f"last_{dim}_ts": f"max(last_{dim}_ts)" for dim in DIMENSIONS},
    **{f"last_{dim}": f"arg_max(last_{dim}, last_{dim}_ts)" for dim in DIMENSIONS},
}
_AGGREGATES = ",\n".join(f"{expr} AS {name}" for name, expr in _MEASURES.items())
_USED = {  # used share of each rate-limit dimension, NULL where the headers were missing
    dim: f"CASE WHEN rl_{dim}_limit > 0 THEN 1 - CAST(rl_{dim}_remaining AS DOUBLE PRECISION) / rl_{dim}_limit END"
    for dim in DIMENSIONS
}
# One raw row in the source's columns. Writes outside the 5m/1h split count as 5m, as in lib.usage.pricing.
_RAW_COLUMNS = f"""
    ts AS t, backend, model, feature, "user", status,
    coalesce(service_tier, '') AS service_tier, coalesce(speed, '') AS speed,
    coalesce(inference_geo, '') AS inference_geo,
    1::BIGINT AS requests, CASE WHEN attempt > 0 THEN 1 ELSE 0 END::BIGINT AS retries,
    CASE WHEN cost_usd IS NULL THEN 1 ELSE 0 END::BIGINT AS unpriced,
    coalesce(cost_usd, 0)::DECIMAL(38, 9) AS cost_usd,
    input_tokens AS uncached_input,
    cache_write_5m_tokens
        + greatest(cache_creation_input_tokens - cache_write_5m_tokens - cache_write_1h_tokens, 0) AS cache_write_5m,
    cache_write_1h_tokens AS cache_write_1h, cache_read_input_tokens AS cache_read, output_tokens AS output,
    input_tokens + greatest(cache_creation_input_tokens, cache_write_5m_tokens + cache_write_1h_tokens)
        + cache_read_input_tokens AS max_prompt,
    {", ".join(f"{expr} AS peak_{dim}" for dim, expr in _USED.items())},
    {", ".join(f"CASE WHEN rl_{dim}_limit > 0 THEN ts END AS last_{dim}_ts" for dim in DIMENSIONS)},
    {", ".join(f"{expr} AS last_{dim}" for dim, expr in _USED.items())}
"""
_ROLLUP_COLUMNS = f"""
    day::TIMESTAMP AS t, {", ".join(_KEYS)}, {", ".join(_MEASURES)}
"""
_ARG_MAX = re.compile(r"\barg_max\((\w+), (\w+)\)")


def for_dialect(sql: str, dialect: str) -> str:
    """The SQL as `dialect` runs it fast. DuckDB: as written. Postgres: `arg_max(value, at)` (the value of
    the latest row, NULLs skipped) as the first of the values ordered by `at`, a built-in ordered aggregate;
    the migrations' SQL-language arg_max pays a function call per row, 1.2 s of the headline's 1.24 s on
    a 1M-row log's 50k roll-up rows (EXPLAIN ANALYZE), against 0.06 s. Only plain column names are rewritten."""
    if dialect == "duckdb":
        return sql
    return _ARG_MAX.sub(r"(array_agg(\1 ORDER BY \2 DESC) FILTER (WHERE \1 IS NOT NULL AND \2 IS NOT NULL))[1]",
                        sql)


_TOKEN_SUMS = ", ".join(f"coalesce(sum({k}), 0)::BIGINT AS {k}" for k in TOKEN_KINDS)
_ERRORS = "coalesce(sum(requests) FILTER (WHERE status NOT IN ('ok', 'aborted')), 0)::BIGINT"
_LIMITED = "coalesce(sum(requests) FILTER (WHERE status = '429'), 0)::BIGINT"


# -- the filter ------------------------------------------------------------------------------------


def choose_bucket(start: datetime, end: datetime) -> str:
    """Hourly buckets up to 2 days, daily up to 92 days, weekly beyond."""
    span = end - start
    if span <= timedelta(days=2):
        return "hour"
    if span <= timedelta(days=92):
        return "day"
    return "week"


@dataclass(frozen=True)
class UsageFilter:
    """Which rows the page looks at: [start, end) in UTC, and optional backend/model/feature/user sets."""

    start: datetime
    end: datetime
    backend: str | None = None
    models: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _naive_utc(self.start))
        object.__setattr__(self, "end", _naive_utc(self.end))
        for name in ("models", "features", "users"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))

    @classmethod
    def for_days(cls, first: date, last: date, **kw: Any) -> UsageFilter:
        """Whole UTC days from `first` to `last`, both included."""
        return cls(datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time()), **kw)

    @property
    def bucket(self) -> str:
        return choose_bucket(self.start, self.end)

    def key(self) -> tuple:
        """A plain, hashable value that identifies the filter (for caches)."""
        return (self.start.isoformat(), self.end.isoformat(), self.backend, self.models, self.features,
                self.users)

    @classmethod
    def from_key(cls, key: tuple) -> UsageFilter:
        start, end, backend, models, features, users = key
        return cls(datetime.fromisoformat(start), datetime.fromisoformat(end), backend, tuple(models),
                   tuple(features), tuple(users))

    @property
    def whole_days(self) -> bool:
        """True when the range starts and ends at midnight (UTC): the daily roll-up can answer it."""
        return self.start.time() == time() and self.end.time() == time()

    def where(self, *, dates: bool = True, alias: str = "", day_column: bool = False) -> tuple[str, list[Any]]:
        """The SQL condition and its parameters (column names are fixed; every value is a parameter).

        `day_column` filters a daily roll-up (its `day` column) instead of the log's `ts`.
        """
        p = f"{alias}." if alias else ""
        parts: list[str] = []
        params: list[Any] = []
        if dates and day_column:
            parts += [f"{p}day >= ?", f"{p}day < ?"]
            params += [self.start.date(), self.end.date()]
        elif dates:
            parts += [f"{p}ts >= ?", f"{p}ts < ?"]
            params += [self.start, self.end]
        if self.backend:
            parts.append(f"{p}backend = ?")
            params.append(self.backend)
        for column, values in (("model", self.models), ("feature", self.features), ('"user"', self.users)):
            if values:
                parts.append(f"{p}{column} IN ({', '.join('?' for _ in values)})")
                params += list(values)
        return " AND ".join(parts) or "TRUE", params


# -- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HitRate:
    """The token-weighted cache-hit rate, with "caching not used" kept apart from 0 %."""

    cache_read: int
    cache_write: int
    prompt: int

    @property
    def state(self) -> str:
        """no_data (no prompt tokens), not_used (nothing read or written), or used."""
        if self.prompt == 0:
            return "no_data"
        if self.cache_read == 0 and self.cache_write == 0:
            return "not_used"
        return "used"

    @property
    def rate(self) -> Decimal | None:
        """Σ cache reads / Σ prompt tokens, or None when caching was not used (or there is no data)."""
        if self.state != "used":
            return None
        return Decimal(self.cache_read) / Decimal(self.prompt)

    @property
    def label(self) -> str:
        if self.state == "no_data":
            return "no data"
        if self.state == "not_used":
            return "caching not used"
        return f"{self.rate * 100:.1f}%"


@dataclass(frozen=True)
class Savings:
    """Cache savings in dollars net of the write premium; `unpriced_rows` had no known price."""

    amount: Decimal
    read_discount: Decimal
    write_premium: Decimal
    unpriced_rows: int = 0


@dataclass
class Headline:
    """The page's headline numbers for one filter."""

    requests: int = 0
    retries: int = 0
    errors: int = 0
    rate_limited: int = 0
    spend: Decimal = _ZERO
    unpriced_rows: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    latency_p50: float | None = None
    latency_p95: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    percentiles_exact: bool = True
    spend_today: Decimal = _ZERO
    spend_month: Decimal = _ZERO
    headroom_now: dict[str, float | None] = field(default_factory=dict)
    savings: Savings | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def rate_limited_rate(self) -> float | None:
        return self.rate_limited / self.requests if self.requests else None

    @property
    def hit_rate(self) -> HitRate:
        t = self.tokens
        writes = t["cache_write_5m"] + t["cache_write_1h"]
        return HitRate(cache_read=t["cache_read"], cache_write=writes,
                       prompt=t["uncached_input"] + writes + t["cache_read"])


@dataclass
class UsageReport:
    """Everything the Usage page shows for one filter (small frames; safe to cache and pickle)."""

    filter: UsageFilter
    bucket: str
    headline: Headline
    spend_by_model: pd.DataFrame
    series: pd.DataFrame
    tokens_by_kind: pd.DataFrame
    headroom: pd.DataFrame
    latency: pd.DataFrame
    by_feature: pd.DataFrame
    by_user: pd.DataFrame
    outcomes: pd.DataFrame
    groups: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.headline.requests == 0


@dataclass(frozen=True)
class Options:
    """What the filters can offer for one backend."""

    models: list[str]
    features: list[str]
    users: list[str]
    first: date | None
    last: date | None


# -- the queries -----------------------------------------------------------------------------------


class UsageQueries:
    """Read-only aggregates over the usage log of one Database, computed in SQL.

    `refresh()` (called by `report()` and `period_spend()`) brings the daily roll-ups up to date;
    if it cannot (a read-only file, say), the queries read the raw rows instead: slower, same numbers.
    """

    def __init__(self, db: Database, *, prices: pricing.PriceTable | None = None):
        self.db = db
        self.prices = prices or pricing.load_prices()
        self.thresholds = long_context_thresholds(self.prices)
        self.rollup_ready = False

    def _cur(self) -> Any:
        return self.db.cursor()

    def _one(self, sql: str, params: list[Any]) -> tuple:
        return self._cur().execute(for_dialect(sql, self.db.dialect), params).fetchone()

    def _df(self, sql: str, params: list[Any]) -> pd.DataFrame:
        return self._cur().execute(for_dialect(sql, self.db.dialect), params).df()

    # -- the daily roll-ups ---------------------------------------------------------------------

    def refresh(self) -> bool:
        """Roll up the rows (and accepted CRM fields) added since the last refresh; True when done."""
        try:
            with write_lock(self.db), self.db.serialized("usage_log") as cur:
                self._refresh_daily(cur)
        except DB_ERRORS:
            self.rollup_ready = False  # e.g. a read-only file: the raw rows still answer
        else:
            self.rollup_ready = True
        return self.rollup_ready

    def _state(self, cur: Any, name: str) -> tuple[int, str] | None:
        row = cur.execute("SELECT max_id, note FROM usage_rollup_state WHERE name = ?", [name]).fetchone()
        return (int(row[0]), row[1]) if row else None

    def _set_state(self, cur: Any, name: str, max_id: int, note: str) -> None:
        cur.execute("""INSERT INTO usage_rollup_state VALUES (?, ?, ?)
                       ON CONFLICT (name) DO UPDATE SET max_id = EXCLUDED.max_id, note = EXCLUDED.note""",
                    [name, max_id, note])

    def _refresh_daily(self, cur: Any) -> None:
        note = "long-context thresholds: " + ",".join(str(t) for t in self.thresholds)
        state = self._state(cur, "usage_daily")
        if state is not None and state[1] != note:  # the price table's tiers changed: start again
            cur.execute("DELETE FROM usage_daily")
            cur.execute("DELETE FROM usage_latency_daily")
            state = None
        done = state[0] if state else 0
        top = int(cur.execute("SELECT coalesce(max(id), 0) FROM usage_log").fetchone()[0])
        if top <= done and state is not None:
            return
        if top > done:
            keys = ", ".join(_KEYS)
            merge = ", ".join(_merge(name) for name in _MEASURES)
            sql = f"""INSERT INTO usage_daily
                      SELECT CAST(t AS DATE) AS day, {keys}, {_AGGREGATES}
                      FROM ({self._raw_source("id > ? AND id <= ?")}) AS src GROUP BY {_positions(1 + len(_KEYS))}
                      ON CONFLICT (day, {keys}) DO UPDATE SET {merge}"""  # noqa: S608 - fixed SQL
            cur.execute(for_dialect(sql, self.db.dialect), [done, top])
            sql = f"""INSERT INTO usage_latency_daily
                      SELECT CAST(ts AS DATE) AS day, backend, model, feature, metric, bin, count(*) AS calls
                      FROM ({_latency_values("id > ? AND id <= ?")}) AS src GROUP BY 1, 2, 3, 4, 5, 6
                      ON CONFLICT (day, backend, model, feature, metric, bin)
                      DO UPDATE SET calls = usage_latency_daily.calls + EXCLUDED.calls"""  # noqa: S608 - fixed SQL
            cur.execute(sql, [done, top, done, top])
        self._set_state(cur, "usage_daily", max(top, done), note)

    def _raw_source(self, where: str) -> str:
        tier = " + ".join(f"(max_prompt > {int(t)})::INTEGER" for t in self.thresholds) or "0"
        return f"""SELECT *, ({tier})::INTEGER AS lc_tier
                   FROM (SELECT {_RAW_COLUMNS} FROM usage_log WHERE {where}) AS raw"""  # noqa: S608 - fixed SQL

    def _uses_rollup(self, f: UsageFilter) -> bool:
        return self.rollup_ready and f.whole_days and f.bucket != "hour"

    def source(self, f: UsageFilter, *, rollup: bool | None = None) -> tuple[str, list[Any]]:
        """SQL of the filter's rows (raw, or the daily roll-up) in the source columns, and its parameters."""
        if rollup if rollup is not None else self._uses_rollup(f):
            where, params = f.where(day_column=True)
            return f"SELECT {_ROLLUP_COLUMNS} FROM usage_daily WHERE {where}", params  # noqa: S608
        where, params = f.where()
        return self._raw_source(where), params

    # -- what is there -----------------------------------------------------------------------------

    def version(self) -> str:
        """Changes with every new usage row and every outcome recorded or taken back: a cache key.

        '0:0' for an empty log. (Outcome links set later on an existing row show within the page
        cache's TTL.)"""
        top, saved = self._one("""SELECT (SELECT coalesce(max(id), 0) FROM usage_log),
                                         (SELECT count(*) + coalesce(sum(CASE WHEN undone THEN 0
                                                                             ELSE fields + contacts END), 0)
                                          FROM usage_outcomes)""", [])
        return f"{top}:{saved}"

    def _small_table(self) -> str:
        return "usage_daily" if self.rollup_ready else "usage_log"

    def backends(self) -> list[str]:
        """The backends with rows, real API first."""
        sql = f"SELECT DISTINCT backend FROM {self._small_table()}"  # noqa: S608 - fixed table name
        found = [r[0] for r in self._cur().execute(sql).fetchall()]
        return sorted(found, key=lambda b: (b != "anthropic", b))

    def default_backend(self) -> str:
        """Real rows by default when there are any; else the sandbox."""
        found = self.backends()
        return found[0] if found else "sandbox"

    def options(self, backend: str | None) -> Options:
        """Models, features and users seen on a backend, and its first and last day."""
        day = "day" if self.rollup_ready else "CAST(ts AS DATE)"
        sql = f"""SELECT array_agg(DISTINCT model ORDER BY model), array_agg(DISTINCT feature ORDER BY feature),
                         array_agg(DISTINCT "user" ORDER BY "user"), min({day}), max({day})
                  FROM {self._small_table()} WHERE (? IS NULL OR backend = ?)"""  # noqa: S608 - fixed SQL
        models, features, users, first, last = self._one(sql, [backend, backend])
        return Options(list(models or []), list(features or []), list(users or []), first, last)

    # -- headline ----------------------------------------------------------------------------------

    def headline(self, f: UsageFilter, *, now: datetime | None = None) -> Headline:
        """Requests, errors, spend, tokens, latency and TTFT percentiles, today's and the month's spend."""
        src, params = self.source(f)
        sql = f"""
            SELECT coalesce(sum(requests), 0)::BIGINT, coalesce(sum(retries), 0)::BIGINT, {_ERRORS}, {_LIMITED},
                   coalesce(sum(cost_usd), 0), coalesce(sum(unpriced), 0)::BIGINT, {_TOKEN_SUMS},
                   {", ".join(f"arg_max(last_{dim}, last_{dim}_ts)" for dim in DIMENSIONS)}
            FROM ({src}) AS src"""  # noqa: S608 - fixed SQL; the filter's values are parameters
        row = self._one(sql, params)
        head = Headline(
            requests=row[0], retries=row[1], errors=row[2], rate_limited=row[3], spend=Decimal(row[4]),
            unpriced_rows=row[5], tokens=dict(zip(TOKEN_KINDS, (int(v) for v in row[6:11]), strict=True)),
            headroom_now=dict(zip(DIMENSIONS, row[11:14], strict=True)),
        )
        head.spend_today, head.spend_month = self.spend_today_and_month(f, now=now)
        return head

    def spend_today_and_month(self, f: UsageFilter, *, now: datetime | None = None) -> tuple[Decimal, Decimal]:
        """Known spend today and this month (UTC) for the filter's backend, models, features and users."""
        day, month = period_starts(now)
        month_filter = replace(f, start=month, end=day + timedelta(days=1))
        src, params = self.source(month_filter, rollup=self.rollup_ready)
        sql = f"""SELECT coalesce(sum(cost_usd) FILTER (WHERE t >= ?), 0), coalesce(sum(cost_usd), 0)
                  FROM ({src}) AS src"""  # noqa: S608 - fixed SQL
        today, this_month = self._one(sql, [day, *params])
        return Decimal(today), Decimal(this_month)

    # -- time series -------------------------------------------------------------------------------

    def spend_by_model(self, f: UsageFilter) -> pd.DataFrame:
        """Known spend per time bucket and model: bucket, model, cost_usd, requests."""
        src, params = self.source(f)
        sql = f"""SELECT date_trunc('{_bucket(f)}', t) AS bucket, model,
                         sum(cost_usd)::DOUBLE PRECISION AS cost_usd, sum(requests)::BIGINT AS requests
                  FROM ({src}) AS src GROUP BY 1, 2 ORDER BY bucket, model"""  # noqa: S608 - fixed SQL
        return self._df(sql, params)

    def series(self, f: UsageFilter) -> pd.DataFrame:
        """Per time bucket: requests, errors, 429s, tokens by kind, hit rate, rate-limit used shares.

        hit_rate is NULL in buckets where caching was not used; peak_<dim> is the largest used
        share seen in the bucket and last_<dim> the share of its latest attempt.
        """
        src, params = self.source(f)
        headroom = ", ".join(f"max(peak_{d}) AS peak_{d}, arg_max(last_{d}, last_{d}_ts) AS last_{d}"
                             for d in DIMENSIONS)
        sql = f"""
            WITH agg AS (
                SELECT date_trunc('{_bucket(f)}', t) AS bucket, sum(requests)::BIGINT AS requests,
                       {_ERRORS} AS errors, {_LIMITED} AS rate_limited, {_TOKEN_SUMS}, {headroom}
                FROM ({src}) AS src GROUP BY 1)
            SELECT *, CASE WHEN cache_read + cache_write_5m + cache_write_1h = 0 THEN NULL
                           ELSE CAST(cache_read AS DOUBLE PRECISION)
                                / (uncached_input + cache_write_5m + cache_write_1h + cache_read)
                      END AS hit_rate
            FROM agg ORDER BY bucket"""  # noqa: S608 - fixed SQL; the filter's values are parameters
        return self._df(sql, params)

    # -- distributions and breakdowns ----------------------------------------------------------

    def latency(self, f: UsageFilter) -> tuple[pd.DataFrame, dict[str, tuple[float | None, float | None]], bool]:
        """Latency and TTFT of successful attempts: (histogram as charted, {metric: (p50, p95)}, exact?).

        Percentiles are exact (quantile_cont) up to EXACT_PERCENTILE_ROWS attempts; beyond, they are
        read from the 40-bins-per-decade histogram (within 3 %), which costs no sort.
        """
        fine = self.latency_bins(f)
        counts = fine.groupby("metric")["calls"].sum() if not fine.empty else pd.Series(dtype="int64")
        exact = int(counts.max()) <= EXACT_PERCENTILE_ROWS if len(counts) else True
        pcts = self.exact_percentiles(f) if exact else {m: percentiles_from_bins(fine, m) for m in ("latency", "ttft")}
        return shown_histogram(fine), pcts, exact

    def latency_bins(self, f: UsageFilter) -> pd.DataFrame:
        """Fine log-scale histogram: metric (latency | ttft), bin (floor(log10(ms) * 40)), calls.

        Read from the daily latency roll-up, or from the rows for partial days and user filters.
        """
        if self.rollup_ready and f.whole_days and not f.users:
            where, params = f.where(day_column=True)
            sql = f"""SELECT metric, bin, sum(calls)::BIGINT AS calls FROM usage_latency_daily
                      WHERE {where} GROUP BY 1, 2 ORDER BY metric, bin"""  # noqa: S608 - fixed SQL
            return self._df(sql, params)
        where, params = f.where()
        sql = f"""SELECT metric, bin, count(*) AS calls FROM ({_latency_values(where)}) AS src
                  GROUP BY 1, 2 ORDER BY metric, bin"""  # noqa: S608 - fixed SQL
        return self._df(sql, params + params)

    def exact_percentiles(self, f: UsageFilter) -> dict[str, tuple[float | None, float | None]]:
        where, params = f.where()
        sql = f"""SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY latency_ms)
                             FILTER (WHERE latency_ms > 0),
                         percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY ttft_ms)
                             FILTER (WHERE ttft_ms > 0)
                  FROM usage_log WHERE {where} AND status = 'ok'"""  # noqa: S608 - fixed SQL
        latency, ttft = self._one(sql, params)
        return {"latency": tuple(latency or (None, None)), "ttft": tuple(ttft or (None, None))}

    def breakdowns(self, f: UsageFilter) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Spend, requests and tokens by feature and by user (largest spend first), in one scan."""
        src, params = self.source(f)
        sql = f"""SELECT feature, "user", grouping(feature) AS by_user, sum(cost_usd)::DOUBLE PRECISION AS cost_usd,
                         sum(requests)::BIGINT AS requests,
                         sum(uncached_input + cache_write_5m + cache_write_1h + cache_read)::BIGINT AS prompt_tokens,
                         sum(output)::BIGINT AS output_tokens
                  FROM ({src}) AS src GROUP BY GROUPING SETS ((feature), ("user"))"""  # noqa: S608 - fixed SQL
        frame = self._df(sql, params)
        cols = ["cost_usd", "requests", "prompt_tokens", "output_tokens"]
        out = []
        for column, flag in (("feature", 0), ("user", 1)):
            part = frame[frame["by_user"] == flag][[column, *cols]]
            out.append(part.sort_values(["cost_usd", column], ascending=[False, True]).reset_index(drop=True))
        return out[0], out[1]

    def cost_per_outcome(self, f: UsageFilter) -> pd.DataFrame:
        """Spend per business outcome, per model and overall.

        Columns: outcome, model (None = all models), outcomes, spend_usd, cost_per_outcome. Accepted CRM
        fields and saved contacts are what the saves reported (lib.usage.outcomes), less what was undone
        since; a drafted email is a follow_up call whose outcome was recorded
        (UsageLog.set_outcome). The spend is that of the features producing the outcome (extract and
        batch for CRM work, follow_up for emails), rejected and failed attempts included: that is what
        the outcomes really cost. An outcome counts in the period (and for the model, feature and user)
        of the call that produced it.
        """
        src, params = self.source(f)
        where, raw_params = f.where()
        o_where, o_params = f.where()
        fields_sql = f"""SELECT model, sum(fields)::BIGINT AS fields, sum(contacts)::BIGINT AS contacts
                         FROM usage_outcomes WHERE {o_where} AND NOT undone GROUP BY model"""  # noqa: S608
        sql = f"""
            WITH spend AS (
                SELECT model, coalesce(sum(cost_usd) FILTER (WHERE feature IN ('extract', 'batch')), 0) AS crm_spend,
                       coalesce(sum(cost_usd) FILTER (WHERE feature = 'follow_up'), 0) AS email_spend
                FROM ({src}) AS src GROUP BY model),
            emails AS (
                SELECT model, count(*) AS emails FROM usage_log
                WHERE {where} AND outcome_kind = 'follow_up' AND status = 'ok' GROUP BY model),
            fields AS ({fields_sql})
            SELECT m.model, coalesce(s.crm_spend, 0), coalesce(s.email_spend, 0), coalesce(e.emails, 0),
                   coalesce(fl.fields, 0), coalesce(fl.contacts, 0)
            FROM (SELECT model FROM spend UNION SELECT model FROM emails UNION SELECT model FROM fields) m
            LEFT JOIN spend s ON s.model = m.model LEFT JOIN emails e ON e.model = m.model
            LEFT JOIN fields fl ON fl.model = m.model
            ORDER BY m.model"""  # noqa: S608 - fixed SQL; the filter's values are parameters
        rows = self._cur().execute(sql, params + raw_params + o_params).fetchall()
        return outcome_table(rows)

    # -- pricing groups: savings and what-if -------------------------------------------------

    def price_groups(self, f: UsageFilter) -> pd.DataFrame:
        """The filter's rows summed per model, UTC day, service tier, speed, region and long-context tier.

        Rows in one group share one set of rates, so pricing a group's token sums once gives the
        same dollars as pricing its rows one by one (up to the 1e-9 rounding of each row).
        """
        src, params = self.source(f)
        sql = f"""SELECT model, CAST(t AS DATE) AS day, service_tier, speed, inference_geo, lc_tier,
                         max(max_prompt)::BIGINT AS max_prompt, {_TOKEN_SUMS},
                         sum(cost_usd)::DOUBLE PRECISION AS logged_usd, sum(requests)::BIGINT AS requests,
                         sum(unpriced)::BIGINT AS unpriced
                  FROM ({src}) AS src GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY day, model"""  # noqa: S608 - fixed SQL
        frame = self._df(sql, params)
        for col in ("service_tier", "speed", "inference_geo"):  # '' stands for NULL in the roll-up
            frame[col] = frame[col].astype(object).where(frame[col] != "", None)
        return frame

    # -- rows for export ---------------------------------------------------------------------------

    def export_csv(self, f: UsageFilter) -> bytes:
        """The filtered rows, every column, oldest first, as UTF-8 CSV with a header (via Arrow, not pandas)."""
        where, params = f.where()
        sql = f"SELECT * FROM usage_log WHERE {where} ORDER BY id"  # noqa: S608 - fixed SQL
        cur = self._cur()
        if self.db.dialect == "duckdb":
            cur.complete()  # this thread's cursor may hold a half-read result (a fetchone elsewhere): the relation API refuses that
            table = cur.sql(sql, params=params).to_arrow_table()
        else:
            cur.execute(sql, params)
            rows = cur.fetchall()
            table = pa.table({d[0]: pa.array([r[i] for r in rows]) for i, d in enumerate(cur.description)})
        out = pa.BufferOutputStream()
        pa_csv.write_csv(table, out)
        return out.getvalue().to_pybytes()

    # -- budgets and reconciliation --------------------------------------------------------------

    def period_spend(self, backend: str, *, now: datetime | None = None) -> pd.DataFrame:
        """Known spend today and this month (UTC) on a backend, for the team, each user and each feature.

        Columns: scope (team | user | feature), subject ('' for the team), day, month (Decimal).
        """
        self.refresh()
        day, month = period_starts(now)
        f = UsageFilter(month, day + timedelta(days=1), backend=backend)
        src, params = self.source(f, rollup=self.rollup_ready)
        sql = f"""SELECT CASE WHEN grouping("user") = 0 THEN 'user' WHEN grouping(feature) = 0 THEN 'feature'
                              ELSE 'team' END AS scope,
                         coalesce("user", feature, '') AS subject,
                         coalesce(sum(cost_usd) FILTER (WHERE t >= ?), 0) AS day,
                         coalesce(sum(cost_usd), 0) AS month
                  FROM ({src}) AS src GROUP BY GROUPING SETS ((), ("user"), (feature))"""  # noqa: S608 - fixed SQL
        rows = self._cur().execute(sql, [day, *params]).fetchall()
        frame = pd.DataFrame([(s, n, Decimal(d), Decimal(m)) for s, n, d, m in rows],
                             columns=["scope", "subject", "day", "month"])
        return frame

    def cost_by_day_and_model(self, backend: str, first: date, last: date) -> pd.DataFrame:
        """Our known cost per UTC day and model (for reconciliation): day, model, cost_usd (Decimal), unpriced."""
        self.refresh()
        f = UsageFilter.for_days(first, last, backend=backend)
        src, params = self.source(f, rollup=self.rollup_ready)
        sql = f"""SELECT CAST(t AS DATE) AS day, model, sum(cost_usd) AS cost_usd, sum(unpriced)::BIGINT AS unpriced
                  FROM ({src}) AS src GROUP BY 1, 2 ORDER BY day, model"""  # noqa: S608 - fixed SQL
        rows = self._cur().execute(sql, params).fetchall()
        return pd.DataFrame([(d, m, Decimal(c), int(u)) for d, m, c, u in rows],
                            columns=["day", "model", "cost_usd", "unpriced"])

    # -- everything the page shows -----------------------------------------------------------------

    def report(self, f: UsageFilter, *, now: datetime | None = None) -> UsageReport:
        """All of the page's numbers for one filter (the roll-ups are refreshed first)."""
        self.refresh()
        head = self.headline(f, now=now)
        series = self.series(f)
        groups = self.price_groups(f)
        head.savings = cache_savings(groups, self.prices)
        histogram, pcts, exact = self.latency(f)
        (head.latency_p50, head.latency_p95), (head.ttft_p50, head.ttft_p95) = pcts["latency"], pcts["ttft"]
        head.percentiles_exact = exact
        by_feature, by_user = self.breakdowns(f)
        return UsageReport(
            filter=f, bucket=f.bucket, headline=head, spend_by_model=self.spend_by_model(f), series=series,
            tokens_by_kind=tokens_long(series), headroom=headroom_long(series), latency=histogram,
            by_feature=by_feature, by_user=by_user, outcomes=self.cost_per_outcome(f), groups=groups,
        )


def _latency_values(where: str) -> str:
    """Successful attempts' latency and TTFT as (ts, backend, model, feature, metric, bin) rows."""
    def one(metric: str, column: str) -> str:
        return f"""SELECT ts, backend, model, feature, '{metric}' AS metric,
                          floor(log10(greatest({column}, 1)) * {FINE_BINS_PER_DECADE})::INTEGER AS bin
                   FROM usage_log WHERE {where} AND status = 'ok' AND {column} > 0"""  # noqa: S608 - fixed SQL
    return one("latency", "latency_ms") + " UNION ALL " + one("ttft", "ttft_ms")


def _positions(n: int) -> str:
    """GROUP BY 1, 2, …, n: the first n columns of the select list."""
    return ", ".join(str(i) for i in range(1, n + 1))


def _merge(name: str, table: str = "usage_daily") -> str:
    """How an ON CONFLICT update folds a new partial aggregate into the stored one (`table`'s row;
    Postgres wants the stored row's columns named with the table)."""
    old = f"{table}.{name}"
    if name.startswith("peak_") or name == "max_prompt":
        return f"{name} = greatest({old}, EXCLUDED.{name})"
    if name.startswith("last_") and name.endswith("_ts"):
        return f"{name} = greatest({old}, EXCLUDED.{name})"
    if name.startswith("last_"):  # the value of the latest attempt: keep whichever side is later
        return (f"{name} = CASE WHEN {old}_ts IS NULL OR EXCLUDED.{name}_ts > {old}_ts "
                f"THEN EXCLUDED.{name} ELSE {old} END")
    return f"{name} = {old} + EXCLUDED.{name}"


# -- reshaping small frames ---------------------------------------------------------------------------


def tokens_long(series: pd.DataFrame) -> pd.DataFrame:
    """Tokens by kind per bucket, long: bucket, kind, tokens (reshapes the small per-bucket frame)."""
    if series.empty:
        return pd.DataFrame(columns=["bucket", "kind", "tokens"])
    return series.melt(id_vars="bucket", value_vars=list(TOKEN_KINDS), var_name="kind", value_name="tokens")


def headroom_long(series: pd.DataFrame) -> pd.DataFrame:
    """Used share per bucket and dimension, long: bucket, dimension, peak, last (NULL rows dropped)."""
    parts = []
    for dim in DIMENSIONS:
        part = series[["bucket", f"peak_{dim}", f"last_{dim}"]].rename(
            columns={f"peak_{dim}": "peak", f"last_{dim}": "last"})
        parts.append(part.assign(dimension=dim))
    if not parts or series.empty:
        return pd.DataFrame(columns=["bucket", "dimension", "peak", "last"])
    frame = pd.concat(parts, ignore_index=True)[["bucket", "dimension", "peak", "last"]]
    return frame.dropna(subset=["peak"]).reset_index(drop=True)


def percentiles_from_bins(fine: pd.DataFrame, metric: str,
                          quantiles: tuple[float, ...] = (0.5, 0.95)) -> tuple[float | None, ...]:
    """Percentiles read from the fine log histogram, interpolated inside the bin (log scale)."""
    part = fine[fine["metric"] == metric].sort_values("bin")
    if part.empty:
        return tuple(None for _ in quantiles)
    bins, calls = part["bin"].tolist(), part["calls"].tolist()
    total, out = sum(calls), []
    for q in quantiles:
        target, seen = q * total, 0
        for b, n in zip(bins, calls, strict=True):
            if seen + n >= target:
                out.append(10 ** ((b + (target - seen) / n) / FINE_BINS_PER_DECADE))
                break
            seen += n
    return tuple(out)


def shown_histogram(fine: pd.DataFrame) -> pd.DataFrame:
    """The fine histogram merged into the charted bins: metric, lower_ms, upper_ms, calls."""
    if fine.empty:
        return pd.DataFrame(columns=["metric", "lower_ms", "upper_ms", "calls"])
    step = FINE_BINS_PER_DECADE // SHOWN_BINS_PER_DECADE
    shown = fine.assign(bin=fine["bin"] // step).groupby(["metric", "bin"], as_index=False)["calls"].sum()
    shown["lower_ms"] = 10 ** (shown["bin"] / SHOWN_BINS_PER_DECADE)
    shown["upper_ms"] = 10 ** ((shown["bin"] + 1) / SHOWN_BINS_PER_DECADE)
    return shown[["metric", "lower_ms", "upper_ms", "calls"]]


def outcome_table(rows: Iterable[tuple]) -> pd.DataFrame:
    """Cost per outcome per model and for all models, from (model, crm_spend, email_spend, emails,
    fields, contacts) rows. Cost per outcome is None where there is no outcome."""
    columns = ["outcome", "model", "outcomes", "spend_usd", "cost_per_outcome"]
    totals = {k: [0, _ZERO] for k in OUTCOMES}
    out = []
    for model, crm_spend, email_spend, emails, fields, contacts in rows:
        for kind, count, spend in (("crm_field", fields, crm_spend), ("contact", contacts, crm_spend),
                                   ("email", emails, email_spend)):
            spend = Decimal(spend)
            totals[kind][0] += int(count)
            totals[kind][1] += spend
            if count or spend:
                out.append([OUTCOMES[kind], model, int(count), spend, spend / count if count else None])
    for kind, (count, spend) in totals.items():
        out.append([OUTCOMES[kind], None, count, spend, spend / count if count else None])
    return pd.DataFrame(out, columns=columns)


# -- pricing the groups -----------------------------------------------------------------------------


def long_context_thresholds(prices: pricing.PriceTable) -> list[int]:
    """Every prompt size above which some model's long-context rates apply (first and latest rows)."""
    found = set()
    for model in prices.known_models():
        for at in (date.min, date.max):
            row = prices.price_for(model, at)
            if row is not None and row.long_context is not None:
                found.add(row.long_context.above)
    return sorted(found)


def _group_usage(g: Any, tokens: dict[str, int] | None = None) -> dict[str, Any]:
    """A usage dict for one price group, shaped like the API's (lib.usage.pricing reads it)."""
    t = tokens or {k: int(getattr(g, k)) for k in TOKEN_KINDS}
    return {
        "input_tokens": t["uncached_input"], "output_tokens": t["output"],
        "cache_read_input_tokens": t["cache_read"],
        "cache_creation_input_tokens": t["cache_write_5m"] + t["cache_write_1h"],
        "cache_creation": {"ephemeral_5m_input_tokens": t["cache_write_5m"],
                           "ephemeral_1h_input_tokens": t["cache_write_1h"]},
        "service_tier": g.service_tier, "speed": g.speed, "inference_geo": g.inference_geo,
    }


def group_rates(prices: pricing.PriceTable, model: str, g: Any, *, batch: bool = False) -> pricing.Rates | None:
    """The per-MTok rates charged for a group's rows on `model` (batch, region, fast and tier applied).

    The group's largest prompt stands for all its rows: they are all on the same side of every
    long-context threshold. None when a price the group needs is unknown.
    """
    probe = _group_usage(g, dict(dict.fromkeys(TOKEN_KINDS, 0), uncached_input=int(g.max_prompt)))
    breakdown = prices.cost_breakdown(model, probe, batch=batch, at=g.day)
    return breakdown.rates if breakdown is not None else None


def price_tokens(rates: pricing.Rates, tokens: dict[str, int]) -> Decimal:
    """Exact dollars for token counts at per-MTok rates (no rounding)."""
    kinds = {"uncached_input": "input", "cache_write_5m": "cache_write_5m", "cache_write_1h": "cache_write_1h",
             "cache_read": "cache_read", "output": "output"}
    total = sum((Decimal(tokens[k]) * getattr(rates, r) for k, r in kinds.items()), _ZERO)
    return total / pricing.MTOK


def cache_savings(groups: pd.DataFrame, prices: pricing.PriceTable) -> Savings:
    """Read discount minus write premium, over every priced group (unpriced rows are counted apart)."""
    discount = premium = _ZERO
    unpriced = 0
    for g in groups.itertuples(index=False):
        rates = group_rates(prices, g.model, g)
        if rates is None:
            unpriced += int(g.requests)
            continue
        discount += Decimal(int(g.cache_read)) * (rates.input - rates.cache_read)
        premium += (Decimal(int(g.cache_write_5m)) * (rates.cache_write_5m - rates.input)
                    + Decimal(int(g.cache_write_1h)) * (rates.cache_write_1h - rates.input))
    discount, premium = _usd(discount / pricing.MTOK), _usd(premium / pricing.MTOK)
    return Savings(amount=discount - premium, read_discount=discount, write_premium=premium, unpriced_rows=unpriced)


# -- what-if ---------------------------------------------------------------------------------------

SCENARIOS = {
    "model": "every call on another model",
    "batch": "every call through the Batch API (50% off)",
    "no_cache": "without prompt caching (cache reads and writes priced as plain input)",
    "more_cache": "a share of the uncached input read from the cache instead",
}


@dataclass(frozen=True)
class WhatIf:
    """One scenario's cost next to the same period repriced as it happened."""

    scenario: str
    description: str
    baseline: Decimal  # the logged tokens repriced with today's price table, as they happened
    cost: Decimal  # the same tokens under the scenario
    unpriced_rows: int  # rows left out of both because a price is unknown

    @property
    def delta(self) -> Decimal:
        return self.cost - self.baseline

    @property
    def change(self) -> Decimal | None:
        return self.delta / self.baseline if self.baseline else None


def what_if(groups: pd.DataFrame, scenario: str, *, prices: pricing.PriceTable | None = None,
            model: str | None = None, share: float = 0.5) -> WhatIf:
    """The period's cost under a scenario, computed from the logged tokens with lib.usage.pricing.

    - ``model``: every call priced at `model`'s rates (same tokens, tier, region, speed, day);
    - ``batch``: every call at the Batch API's 50 % discount;
    - ``no_cache``: cache writes and reads priced as plain input (what caching saved, seen the other way);
    - ``more_cache``: `share` of the uncached input priced as cache reads (the writes that would warm
      the cache are not counted: an upper bound on what more caching could save).

    Rows whose price is unknown under either pricing are left out of both numbers and counted.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    if scenario == "model" and not model:
        raise ValueError("the model scenario needs a model")
    prices = prices or pricing.load_prices()
    base_total = alt_total = _ZERO
    unpriced = 0
    for g in groups.itertuples(index=False):
        tokens = {k: int(getattr(g, k)) for k in TOKEN_KINDS}
        base = group_rates(prices, g.model, g)
        alt_rates = group_rates(prices, model if scenario == "model" else g.model, g, batch=scenario == "batch")
        if base is None or alt_rates is None:
            unpriced += int(g.requests)
            continue
        base_total += price_tokens(base, tokens)
        alt_total += price_tokens(alt_rates, _scenario_tokens(scenario, tokens, share))
    description = SCENARIOS[scenario] + (f": {model}" if scenario == "model" else "")
    if scenario == "more_cache":
        description = f"{share:.0%} of the uncached input read from the cache instead"
    return WhatIf(scenario, description, _usd(base_total), _usd(alt_total), unpriced)


def _scenario_tokens(scenario: str, tokens: dict[str, int], share: float) -> dict[str, int]:
    if scenario == "no_cache":
        moved = tokens["cache_write_5m"] + tokens["cache_write_1h"] + tokens["cache_read"]
        return {**tokens, "uncached_input": tokens["uncached_input"] + moved,
                "cache_write_5m": 0, "cache_write_1h": 0, "cache_read": 0}
    if scenario == "more_cache":
        moved = math.floor(tokens["uncached_input"] * share)
        return {**tokens, "uncached_input": tokens["uncached_input"] - moved,
                "cache_read": tokens["cache_read"] + moved}
    return tokens


# -- helpers ------------------------------------------------------------------------------------------




def period_starts(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Naive-UTC starts of today and of this month."""
    moment = _naive_utc(now or datetime.now(UTC))
    day = datetime.combine(moment.date(), time())
    return day, day.replace(day=1)


def _bucket(f: UsageFilter) -> str:
    bucket = f.bucket
    assert bucket in BUCKETS  # a fixed word placed in SQL, never user text
    return bucket


def _usd(amount: Decimal) -> Decimal:
    return amount.quantize(pricing.QUANTUM)


def _naive_utc(moment: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def with_backend(f: UsageFilter, backend: str | None) -> UsageFilter:
    """The same filter on another backend."""
    return replace(f, backend=backend)
