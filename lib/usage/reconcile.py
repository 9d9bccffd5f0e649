"""Reconciliation: Scribe's logged cost beside Anthropic's cost report, per UTC day and model.

The report comes from the Admin API (`Gateway.cost_report`, with ANTHROPIC_ADMIN_KEY); our side is
the usage log's known cost for the same backend (`UsageQueries.cost_by_day_and_model`). Drift is
ours minus theirs. Anthropic's numbers can lag by up to a day, so a day is *final* only once it
ended at least 24 hours ago; drift on a day that is not final is shown but not alarmed on. A day
and model *match* when the difference is under one cent and under 0.1 % of Anthropic's amount:
cents matter on a big bill, and a share matters on a small one (a wrong cache-read price is 5 %
of a $0.003 day long before it is a cent).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from lib.usage import pricing

FINAL_AFTER = timedelta(hours=24)
TOLERANCE_USD = Decimal("0.01")
TOLERANCE_SHARE = Decimal("0.001")
CENTS = Decimal(100)
COLUMNS = ["day", "model", "ours_usd", "theirs_usd", "drift_usd", "drift_pct", "final", "status", "unpriced"]


def parse_cost_report(pages: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Anthropic's cost per UTC day and model from the report's pages: day, model, theirs_usd (Decimal).

    Amounts are decimal strings in cents. Items without a model (server-tool fees, or a report not
    grouped by description) are kept under model "(not by model)".
    """
    totals: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for page in pages:
        for bucket in page.get("data", []):
            day = datetime.fromisoformat(bucket["starting_at"].replace("Z", "+00:00")).astimezone(UTC).date()
            for item in bucket.get("results", []):
                currency = item.get("currency", "USD")
                if currency != "USD":
                    raise ValueError(f"the cost report has an amount in {currency}, not USD")
                model = _model_key(item.get("model")) if item.get("model") else "(not by model)"
                totals[(day, model)] += Decimal(str(item["amount"])) / CENTS
    rows = [(d, m, amount) for (d, m), amount in sorted(totals.items())]
    return pd.DataFrame(rows, columns=["day", "model", "theirs_usd"])


def _model_key(model: str) -> str:
    """One name per model on both sides: dated ids and aliases become the price table's key."""
    return pricing.load_prices().resolve(model) or model


def is_final(day: date, now: datetime) -> bool:
    """Anthropic's numbers for `day` are final once the day ended at least 24 hours before `now`."""
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return moment >= end + FINAL_AFTER


def drift(ours: Decimal, theirs: Decimal) -> tuple[Decimal, Decimal | None]:
    """(ours - theirs, that as a share of theirs; None when theirs is 0)."""
    diff = ours - theirs
    return diff, (diff / theirs if theirs else None)


def matches(diff: Decimal, theirs: Decimal) -> bool:
    """Under a cent, and under 0.1 % of their amount (when they billed anything)."""
    return abs(diff) < TOLERANCE_USD and (not theirs or abs(diff) < TOLERANCE_SHARE * abs(theirs))


def reconcile(ours: pd.DataFrame, theirs: pd.DataFrame, *, now: datetime | None = None) -> pd.DataFrame:
    """One row per day and model found on either side, with the drift and whether the day is final.

    `ours`: day, model, cost_usd (Decimal) [, unpriced]; `theirs`: day, model, theirs_usd (Decimal).
    status is "matches" (see `matches`), "drift", or "not final" (drift on a day still settling).
    """
    now = now or datetime.now(UTC)
    mine: dict[tuple[date, str], list] = defaultdict(lambda: [Decimal(0), 0])
    for row in ours.itertuples(index=False):
        entry = mine[(_day(row.day), _model_key(row.model))]
        entry[0] += Decimal(row.cost_usd)
        entry[1] += int(getattr(row, "unpriced", 0) or 0)
    their = {(_day(r.day), r.model): Decimal(r.theirs_usd) for r in theirs.itertuples(index=False)}
    out = []
    for key in sorted(set(mine) | set(their)):
        o, unpriced = mine.get(key, [Decimal(0), 0])
        t = their.get(key, Decimal(0))
        diff, pct = drift(o, t)
        final = is_final(key[0], now)
        status = "matches" if matches(diff, t) else ("drift" if final else "not final")
        out.append([key[0], key[1], o, t, diff, pct, final, status, unpriced])
    return pd.DataFrame(out, columns=COLUMNS)


@dataclass(frozen=True)
class Summary:
    """Totals over the period, and the final days and models that drift."""

    ours: Decimal
    theirs: Decimal
    drifting: int  # final (day, model) rows off by a cent or more
    pending: int  # (day, model) rows on days that are not final yet

    @property
    def drift(self) -> Decimal:
        return self.ours - self.theirs


def summarize(frame: pd.DataFrame) -> Summary:
    ours = sum(frame["ours_usd"], Decimal(0))
    theirs = sum(frame["theirs_usd"], Decimal(0))
    return Summary(ours, theirs, int((frame["status"] == "drift").sum()), int((~frame["final"]).sum()))


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value
