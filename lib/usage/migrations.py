"""The usage package's tables: its schema changes as named (name, sql) pairs, applied once each, in order.

The database module knows no table; the composition root (lib/services.py) hands these lists to it.
`POSTGRES` holds the Postgres form of each migration whose DuckDB SQL Postgres does not take."""

import re

USAGE_LOG = [
    (
        "usage_log_001_create",
        """
        CREATE SEQUENCE IF NOT EXISTS usage_log_id_seq;
        CREATE TABLE usage_log (
            id BIGINT PRIMARY KEY DEFAULT nextval('usage_log_id_seq'),
            ts TIMESTAMP NOT NULL,              -- UTC, when the attempt ended
            call_id VARCHAR NOT NULL,           -- groups the attempts (retries) of one logical call
            backend VARCHAR NOT NULL,           -- anthropic | sandbox
            request_id VARCHAR,
            model VARCHAR NOT NULL,
            feature VARCHAR NOT NULL,
            "user" VARCHAR NOT NULL,
            status VARCHAR NOT NULL,            -- ok | aborted | the HTTP status | connection_error | stream_error
            error_type VARCHAR,
            attempt INTEGER NOT NULL DEFAULT 0, -- the SDK's x-stainless-retry-count
            input_tokens BIGINT NOT NULL DEFAULT 0,
            output_tokens BIGINT NOT NULL DEFAULT 0,
            cache_read_input_tokens BIGINT NOT NULL DEFAULT 0,
            cache_creation_input_tokens BIGINT NOT NULL DEFAULT 0,
            cache_write_5m_tokens BIGINT NOT NULL DEFAULT 0,
            cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
            usage_estimated BOOLEAN NOT NULL DEFAULT FALSE,  -- output counted by us (stream cut short)
            service_tier VARCHAR,
            speed VARCHAR,
            inference_geo VARCHAR,
            stop_reason VARCHAR,
            latency_ms DOUBLE,
            ttft_ms DOUBLE,
            rl_requests_limit BIGINT,
            rl_requests_remaining BIGINT,
            rl_input_tokens_limit BIGINT,
            rl_input_tokens_remaining BIGINT,
            rl_output_tokens_limit BIGINT,
            rl_output_tokens_remaining BIGINT,
            retry_after_s DOUBLE,
            cost_usd DECIMAL(18, 9),            -- NULL when the model's price is unknown
            batch_id VARCHAR,
            outcome_kind VARCHAR,               -- e.g. crm_change_set, follow_up, interaction
            outcome_ref VARCHAR
        );
        """,
    ),
    (
        "usage_log_002_rollups",
        # Daily roll-ups that lib/usage/queries.py keeps up to date from the log (see its refresh()).
        # Empty strings stand for NULL in key columns (a primary key cannot hold NULL). Latency has no
        # user column: per user it would be nearly as big as the log, so user filters read the rows.
        """
        CREATE TABLE usage_daily (
            day DATE NOT NULL, backend VARCHAR NOT NULL, model VARCHAR NOT NULL, feature VARCHAR NOT NULL,
            "user" VARCHAR NOT NULL, status VARCHAR NOT NULL, service_tier VARCHAR NOT NULL,
            speed VARCHAR NOT NULL, inference_geo VARCHAR NOT NULL, lc_tier INTEGER NOT NULL,
            requests BIGINT NOT NULL, retries BIGINT NOT NULL, unpriced BIGINT NOT NULL,
            cost_usd DECIMAL(38, 9) NOT NULL,
            uncached_input BIGINT NOT NULL, cache_write_5m BIGINT NOT NULL, cache_write_1h BIGINT NOT NULL,
            cache_read BIGINT NOT NULL, output BIGINT NOT NULL, max_prompt BIGINT NOT NULL,
            peak_requests DOUBLE, peak_input_tokens DOUBLE, peak_output_tokens DOUBLE,
            last_requests_ts TIMESTAMP, last_input_tokens_ts TIMESTAMP, last_output_tokens_ts TIMESTAMP,
            last_requests DOUBLE, last_input_tokens DOUBLE, last_output_tokens DOUBLE,
            PRIMARY KEY (day, backend, model, feature, "user", status, service_tier, speed, inference_geo, lc_tier)
        );
        CREATE TABLE usage_latency_daily (
            day DATE NOT NULL, backend VARCHAR NOT NULL, model VARCHAR NOT NULL, feature VARCHAR NOT NULL,
            metric VARCHAR NOT NULL, bin INTEGER NOT NULL, calls BIGINT NOT NULL,  -- bin = floor(log10(ms) * 40)
            PRIMARY KEY (day, backend, model, feature, metric, bin)
        );
        CREATE TABLE usage_outcome_daily (
            day DATE NOT NULL, backend VARCHAR NOT NULL, model VARCHAR NOT NULL, feature VARCHAR NOT NULL,
            "user" VARCHAR NOT NULL, fields BIGINT NOT NULL, contacts BIGINT NOT NULL,
            PRIMARY KEY (day, backend, model, feature, "user")
        );
        CREATE TABLE usage_outcome_sets (change_set_id VARCHAR PRIMARY KEY);  -- already in usage_outcome_daily
        CREATE TABLE usage_rollup_state (
            name VARCHAR PRIMARY KEY, max_id BIGINT NOT NULL, note VARCHAR NOT NULL
        );
        """,
    ),
    (
        "usage_outcomes_001_own_table",
        """
        -- Outcomes are reported to the usage side (lib.usage.outcomes), no longer read from CRM tables.
        DROP TABLE IF EXISTS usage_outcome_daily;
        DROP TABLE IF EXISTS usage_outcome_sets;
        DELETE FROM usage_rollup_state WHERE name = 'usage_outcome_daily';
        CREATE SEQUENCE IF NOT EXISTS usage_outcome_id_seq START 1;
        CREATE TABLE usage_outcomes (
            id BIGINT PRIMARY KEY DEFAULT nextval('usage_outcome_id_seq'),
            ref VARCHAR NOT NULL,                -- what it is part of, e.g. the CRM change set
            call_id VARCHAR NOT NULL,            -- the Claude call that produced it
            ts TIMESTAMP NOT NULL, backend VARCHAR NOT NULL, model VARCHAR NOT NULL, feature VARCHAR NOT NULL,
            "user" VARCHAR NOT NULL,             -- copied from the call: it counts in the call's period
            fields BIGINT NOT NULL,              -- accepted CRM fields
            contacts BIGINT NOT NULL,            -- contacts created or updated
            undone BOOLEAN NOT NULL DEFAULT FALSE,
            UNIQUE (ref, call_id)
        );
        """,
    ),
    (
        "usage_log_003_scan_indexes",
        # DuckDB needs none: it skips row groups by their min/max and scans the columns it reads.
        "SELECT 1",
    ),
]


BUDGETS = [
    (
        "budgets_001_create",
        """
        CREATE TABLE budgets (
            scope VARCHAR NOT NULL,          -- team | user | feature
            subject VARCHAR NOT NULL,        -- '' for the team, else the user name or the feature
            period VARCHAR NOT NULL,         -- day | month (UTC)
            limit_usd DECIMAL(18, 6) NOT NULL,
            policy VARCHAR,                  -- block | step_down | batch; NULL = SCRIBE_BUDGET_POLICY
            updated_at TIMESTAMP NOT NULL,
            updated_by VARCHAR,
            PRIMARY KEY (scope, subject, period)
        );
        """,
    ),
]


MIGRATIONS = USAGE_LOG + BUDGETS


def _postgres_types(sql: str) -> str:
    """DuckDB's DOUBLE is Postgres's DOUBLE PRECISION (every other type here is spelled alike)."""
    return re.sub(r"\bDOUBLE\b(?! PRECISION)", "DOUBLE PRECISION", sql)


# arg_max(value, at): the value of the row with the latest `at` (NULLs skipped), as DuckDB's built-in
# arg_max does. Kept for any query that names it, but lib/usage/queries.py spells it on Postgres as a
# built-in ordered aggregate instead (`for_dialect`): this SQL-language one costs some 8 us a row.
_PG_ARG_MAX = """
CREATE TYPE scribe_arg_max_state AS (arg DOUBLE PRECISION, at TIMESTAMP);
CREATE FUNCTION scribe_arg_max_step(s scribe_arg_max_state, arg DOUBLE PRECISION, at TIMESTAMP)
RETURNS scribe_arg_max_state LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN arg IS NULL OR at IS NULL THEN s
                WHEN s IS NULL OR at > (s).at THEN ROW(arg, at)::scribe_arg_max_state
                ELSE s END
$$;
CREATE FUNCTION scribe_arg_max_final(s scribe_arg_max_state) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (s).arg $$;
CREATE AGGREGATE arg_max(DOUBLE PRECISION, TIMESTAMP) (
    SFUNC = scribe_arg_max_step, STYPE = scribe_arg_max_state, FINALFUNC = scribe_arg_max_final
);
"""

# Postgres reads the raw log in two places a big log makes slow (bench/team_scale.py: the Usage page's
# drafted-email count scanned all 10M rows). Drafted emails: a partial index of the rows it counts, with
# the columns it reads (an index-only scan). Hourly views and part-day ranges: a BRIN index on ts, which
# grows in time order with the log (a few pages for millions of rows, next to nothing to maintain).
_PG_SCAN_INDEXES = """
CREATE INDEX IF NOT EXISTS usage_log_drafted_emails ON usage_log (ts, backend, model)
    WHERE outcome_kind = 'follow_up' AND status = 'ok';
CREATE INDEX IF NOT EXISTS usage_log_ts_brin ON usage_log USING brin (ts);
"""

_DUCKDB = dict(USAGE_LOG)
POSTGRES = {
    "usage_log_001_create": _postgres_types(_DUCKDB["usage_log_001_create"]),
    "usage_log_002_rollups": _postgres_types(_DUCKDB["usage_log_002_rollups"]) + _PG_ARG_MAX,
    "usage_log_003_scan_indexes": _PG_SCAN_INDEXES,
}
