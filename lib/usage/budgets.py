"""Spend budgets: daily and monthly, for the team, one user or one feature; checked before every call.

Team budgets come from the settings (SCRIBE_BUDGET_DAILY_USD, SCRIBE_BUDGET_MONTHLY_USD) unless the
Usage page stored its own; user and feature budgets are set on the Usage page and stored here, in
the ``budgets`` table. Days and months are UTC.

The gateway calls a `BudgetGuard` before each call (its ``budget_check`` hook). Spend counts the
known cost of the calls logged on the backend the guard checks for: the real API's budgets count
real spend only, and a sandbox gateway's budgets count (simulated) sandbox spend, which is what the
tests use. For every budget that applies to the call:

- from 75 % on, the call goes ahead with a warning naming the budget, its spend and its limit;
- from 100 % on, the budget's policy (its own, else SCRIBE_BUDGET_POLICY) decides:
  ``block`` refuses the call (BudgetExceeded); ``batch`` refuses interactive calls and points to
  the Bulk page's Batch mode, while batch work (feature ``batch``) goes on at half price;
  ``step_down`` sends the call to a cheaper model, one step down the ladder Opus → Sonnet → Haiku
  from 100 %, two steps from 125 %, and refuses it from 200 % (stepping down slows spending, it
  does not make it free). When several budgets are over, the strictest policy wins
  (block, then batch, then step_down).

The check is one small query (over the daily roll-up) and its answer is kept for `ttl_s` seconds,
so a burst of calls costs one query. If the spend cannot be read, the call goes ahead with a
warning: a broken budget check must not stop the team's work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from lib.core.db import DB_ERRORS, Database
from lib.core.errors import BudgetExceeded
from lib.core.models import LADDER, model_table
from lib.core.settings import FEATURES, Settings, load_settings
from lib.usage import pricing
from lib.usage.pricing import format_usd as usd

SCOPES = ("team", "user", "feature")
PERIODS = ("day", "month")
POLICIES = ("block", "step_down", "batch")
WARN_AT = Decimal("0.75")
STEP_TWO_AT = Decimal("1.25")
HARD_STOP_AT = Decimal(2)
_STRICTNESS = {"block": 0, "batch": 1, "step_down": 2}


@dataclass(frozen=True)
class Budget:
    """A spend cap for one period: the team's, one user's or one feature's."""

    scope: str
    subject: str
    period: str
    limit_usd: Decimal
    policy: str | None = None  # None: the SCRIBE_BUDGET_POLICY setting
    source: str = "page"  # page (stored here) | settings

    @property
    def label(self) -> str:
        when = {"day": "daily", "month": "monthly"}[self.period]
        if self.scope == "team":
            return f"The team's {when} budget"
        return f"The {when} budget of {self.scope} {self.subject}"

    def applies_to(self, feature: str, user: str) -> bool:
        return (self.scope == "team" or (self.scope == "user" and self.subject == user)
                or (self.scope == "feature" and self.subject == feature))


@dataclass(frozen=True)
class BudgetStatus:
    """A budget with what has been spent against it this period."""

    budget: Budget
    spend: Decimal
    policy: str

    @property
    def share(self) -> Decimal:
        """Spend / limit (a limit of 0 is used up from the start)."""
        if self.budget.limit_usd <= 0:
            return Decimal(1) if self.spend <= 0 else Decimal(self.spend) / Decimal("0.000001")
        return self.spend / self.budget.limit_usd

    @property
    def state(self) -> str:
        """ok, warn (from 75 %) or over (from 100 %)."""
        if self.share >= 1:
            return "over"
        return "warn" if self.share >= WARN_AT else "ok"

    def describe(self) -> str:
        return f"{self.budget.label} is at {self.share:.0%}: {usd(self.spend)} of {usd(self.budget.limit_usd)}"


@dataclass
class Verdict:
    """What the budget check decided for one call: the model to use and what to tell the user."""

    model: str
    warnings: list[str] = field(default_factory=list)


class BudgetStore:
    """The budgets set on the Usage page (the ``budgets`` table)."""

    def __init__(self, db: Database):
        self.db = db

    def list(self) -> list[Budget]:
        rows = self.db.cursor().execute(
            "SELECT scope, subject, period, limit_usd, policy FROM budgets ORDER BY scope, subject, period"
        ).fetchall()
        return [Budget(scope, subject, period, Decimal(limit), policy) for scope, subject, period, limit, policy in rows]

    def set(self, scope: str, subject: str, period: str, limit_usd: Decimal | str | int, *,
            policy: str | None = None, user: str | None = None) -> Budget:
        """Create or replace one budget; raises ValueError for a scope, period, policy or limit that is wrong."""
        budget = validate(scope, subject, period, limit_usd, policy)
        self.db.cursor().execute(
            """INSERT INTO budgets VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (scope, subject, period) DO UPDATE SET limit_usd = EXCLUDED.limit_usd,
                   policy = EXCLUDED.policy, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
            [budget.scope, budget.subject, budget.period, budget.limit_usd, budget.policy,
             datetime.now(UTC).replace(tzinfo=None), user])
        return budget

    def delete(self, scope: str, subject: str, period: str) -> None:
        self.db.cursor().execute("DELETE FROM budgets WHERE scope = ? AND subject = ? AND period = ?",
                                 [scope, subject if scope != "team" else "", period])


def validate(scope: str, subject: str, period: str, limit_usd: Decimal | str | int,
             policy: str | None = None) -> Budget:
    """A Budget from raw values, or ValueError saying what is wrong."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if policy is not None and policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
    subject = "" if scope == "team" else (subject or "").strip()
    if scope != "team" and not subject:
        raise ValueError(f"a {scope} budget needs the {scope}'s name")
    if scope == "feature" and subject not in FEATURES:
        raise ValueError(f"there is no feature {subject!r}; features: {', '.join(FEATURES)}")
    limit = Decimal(str(limit_usd))
    if not limit.is_finite() or limit < 0:
        raise ValueError("the limit must be a positive number of dollars")
    return Budget(scope, subject, period, limit, policy)


def effective_budgets(stored: list[Budget], settings: Settings) -> list[Budget]:
    """The stored budgets, plus the team budgets from the settings that the page did not override."""
    out = list(stored)
    for period, limit in (("day", settings.scribe_budget_daily_usd), ("month", settings.scribe_budget_monthly_usd)):
        if limit is not None and not any(b.scope == "team" and b.period == period for b in stored):
            out.append(Budget("team", "", period, Decimal(limit), None, source="settings"))
    return out


def policy_of(budget: Budget, settings: Settings) -> str:
    """The budget's own policy, else the setting's; an unknown setting counts as block (the safe one)."""
    policy = budget.policy or settings.scribe_budget_policy.strip().lower()
    return policy if policy in POLICIES else "block"


# -- stepping down --------------------------------------------------------------------------------


def line_of(model: str) -> str | None:
    """The model's line on the ladder (fable, opus, sonnet, haiku), or None if it is not on it."""
    return model_table().line(model)


def ladder_models(settings: Settings, prices: pricing.PriceTable) -> dict[str, str]:
    """The model each line steps down to: one the settings already use for a feature, else the newest
    model of the line whose price is verified, else the newest with a price."""
    configured = [settings.model_for(f) for f in ("summarize", "extract", "follow_up", "assistant")]
    out: dict[str, str] = {}
    for line in LADDER:
        mine = [m for m in configured if line_of(m) == line and prices.price_for(m) is not None]
        if mine:
            out[line] = mine[0]
            continue
        rows = [(prices.price_for(m, date.min), m) for m in prices.known_models()
                if prices.resolve(m) == m and line_of(m) == line]
        rows = [(row, m) for row, m in rows if row is not None]
        if rows:
            newest = max(rows, key=lambda r: (bool(prices.is_verified(r[1])), r[0].valid_from))
            out[line] = newest[1]
    return out


def step_down(model: str, steps: int, targets: dict[str, str], prices: pricing.PriceTable) -> str:
    """`model`, `steps` lines down the ladder, only ever to a model with a lower input price."""
    line = line_of(model)
    if line is None or steps <= 0:
        return model
    current = prices.price_for(model)
    below = LADDER[LADDER.index(line) + 1:]
    # `steps` lines down first (or the last line); then further down; then the lines in between
    for target_line in below[steps - 1:] + below[:steps - 1][::-1]:
        target = targets.get(target_line)
        price = prices.price_for(target) if target else None
        if price is not None and (current is None or price.input < current.input):
            return target
    return model


# -- the guard the gateway calls ------------------------------------------------------------------


class BudgetGuard:
    """The gateway's budget check for one backend: ``guard(feature, user, model) -> Verdict``."""

    def __init__(self, db: Database, *, backend: str, settings: Callable[[], Settings] = load_settings,
                 prices: pricing.PriceTable | None = None, ttl_s: float = 1.0,
                 now: Callable[[], datetime] | None = None):
        self.db = db
        self.backend = backend
        self.settings = settings
        self.prices = prices or pricing.load_prices()
        self.ttl_s = ttl_s
        self.now = now or (lambda: datetime.now(UTC))
        self.store = BudgetStore(db)
        self._queries = None
        self._cache: tuple[float, list[BudgetStatus], Settings] | None = None
        self._lock = threading.Lock()

    @property
    def queries(self):  # noqa: ANN201 - UsageQueries; made on first use: no budget, no pandas (the bulk CLI)
        if self._queries is None:
            from lib.usage.queries import UsageQueries

            self._queries = UsageQueries(self.db, prices=self.prices)
        return self._queries

    def invalidate(self) -> None:
        """Forget the cached spend (after a budget changes, or in tests)."""
        with self._lock:
            self._cache = None

    def statuses(self) -> list[BudgetStatus]:
        """Every budget in force with this period's spend on this backend (cached for ttl_s)."""
        return self._snapshot()[0]

    def _snapshot(self) -> tuple[list[BudgetStatus], Settings]:
        with self._lock:
            if self._cache is not None and time.monotonic() - self._cache[0] < self.ttl_s:
                return self._cache[1], self._cache[2]
        settings = self.settings()
        budgets = effective_budgets(self.store.list(), settings)
        statuses: list[BudgetStatus] = []
        if budgets:
            spend = self.queries.period_spend(self.backend, now=self.now())
            found = {(r.scope, r.subject): (r.day, r.month) for r in spend.itertuples(index=False)}
            for b in budgets:
                day, month = found.get((b.scope, b.subject), (Decimal(0), Decimal(0)))
                statuses.append(BudgetStatus(b, day if b.period == "day" else month, policy_of(b, settings)))
        with self._lock:
            self._cache = (time.monotonic(), statuses, settings)
        return statuses, settings

    def __call__(self, feature: str, user: str, model: str) -> Verdict:
        """Let the call go (maybe on a cheaper model, maybe with warnings) or raise BudgetExceeded."""
        try:
            statuses, settings = self._snapshot()
        except DB_ERRORS as exc:
            return Verdict(model, [f"Budgets could not be checked ({type(exc).__name__}); the call went ahead."])
        applicable = [s for s in statuses if s.budget.applies_to(feature, user)]
        warnings = [f"{s.describe()} (warning at 75%)." for s in applicable if s.state == "warn"]
        over = [s for s in applicable if s.state == "over"]
        if not over:
            return Verdict(model, warnings)
        worst = max(over, key=lambda s: s.share)
        policy = min((s.policy for s in over), key=_STRICTNESS.__getitem__)
        if policy == "block":
            raise BudgetExceeded(f"{worst.describe()}, so Scribe blocks new calls {_until(worst.budget)}.")
        if policy == "batch":
            if feature == "batch":
                warnings.append(f"{worst.describe()}; batch work goes on through the Batch API at half price.")
                return Verdict(model, warnings)
            raise BudgetExceeded(
                f"{worst.describe()}, so interactive calls are paused {_until(worst.budget)}.",
                "Send this work through the Bulk enrich page in Batch mode (half price), or ask the budget's "
                "owner to raise it on the Usage page.")
        return self._step_down(worst, model, warnings, settings)

    def _step_down(self, worst: BudgetStatus, model: str, warnings: list[str], settings: Settings) -> Verdict:
        if worst.share >= HARD_STOP_AT:
            raise BudgetExceeded(f"{worst.describe()}: past twice the budget even stepped-down calls stop, "
                                 f"{_until(worst.budget)}.")
        steps = 2 if worst.share >= STEP_TWO_AT else 1
        target = step_down(model, steps, ladder_models(settings, self.prices), self.prices)
        if target == model:
            warnings.append(f"{worst.describe()}; {model} has no cheaper step, so it was used.")
        else:
            warnings.append(f"{worst.describe()}: this call used {target} instead of {model} (policy step_down).")
        return Verdict(target, warnings)


def _until(budget: Budget) -> str:
    return "until the next UTC day" if budget.period == "day" else "until the next UTC month"


