"""Token prices and the cost of a Claude API call (DESIGN.md, "Cost").

Prices live in ``data/models.toml``: one table per model, with dated rows. This module reads the
file once and turns an SDK ``Usage`` (or a dict with the same field names) into dollars:

    cost = P_in·input + P_5m·cache_write_5m + P_1h·cache_write_1h + P_read·cache_read + P_out·output

Anthropic's ``input_tokens`` excludes cache tokens, so the terms are added and nothing is
subtracted. Batch halves every term. Fast mode uses the fast rates. US-only inference multiplies
every term by the row's ``inference_geo_us``. The modifiers stack.

Money is Decimal from end to end. The file is parsed with ``parse_float=Decimal``, token counts
must be integers, and the arithmetic runs in a private 60-digit context, so no float ever enters
a sum. Amounts are rounded half-even to 1e-9 dollars, the scale of the usage log's
DECIMAL(18, 9) column. Each amount is then within half a nano-dollar of exact, and one token at
the cheapest rate in the table (about 5e-9 dollars) still shows. ``CostBreakdown`` rounds each
part separately and rounds ``total`` from the exact sum, so the parts can differ from the total
by a few nano-dollars.

The cost is None, never 0, when the price is not known. That happens for a model with no price,
and for a call whose modifiers have no known price: fast mode on a model without fast rates, or
a ``speed``, ``service_tier`` or ``inference_geo`` value this table does not know. The cost
covers tokens only: server-tool fees such as web search requests are not included.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    ValidationError,
    computed_field,
    model_validator,
)

from lib.core.models import TABLE_PATH, ModelTable

DEFAULT_PATH = TABLE_PATH  # one table of model facts and prices: data/models.toml
QUANTUM = Decimal("1e-9")
MTOK = Decimal(1_000_000)
KINDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")
STANDARD_CACHE_MULTIPLIERS = {
    "cache_write_5m": Decimal("1.25"),
    "cache_write_1h": Decimal(2),
    "cache_read": Decimal("0.1"),
}
BATCH_MULTIPLIER = Decimal("0.5")
_ONE = Decimal(1)
# Enough digits that nothing is rounded before the final quantize, whatever precision the caller's
# thread-local decimal context happens to have.
_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN)
_DATED_ID = re.compile(r"^(?P<base>.+)-\d{8}$")
# Usage values that carry no surcharge. Any other value must be priced by the table, or the cost is
# unknown: a new region or tier must not be billed silently at the standard rate. The Analytics
# API reports usage with no region as "not_available", so that value is standard here too.
_STANDARD_GEOS = frozenset({None, "", "global", "not_available"})
# Priority Tier is billed against a contract that is no longer sold. The list price is the best
# estimate for it.
_LIST_PRICE_TIERS = frozenset({None, "standard", "priority", "batch"})
_SPEEDS = frozenset({None, "standard", "fast"})


class PricingFileError(ValueError):
    """The price file is malformed; the message names the file and the model."""


def _no_float(value: object) -> object:
    # A float price is already wrong (0.1 is stored as 0.1000000000000000055...), so refuse it here.
    if isinstance(value, float):
        raise ValueError("prices must be exact (Decimal, int or str), not float")
    return value


Rate = Annotated[Decimal, BeforeValidator(_no_float), Field(ge=0)]


class Rates(BaseModel):
    """USD per million tokens for each kind of token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: Rate
    cache_write_5m: Rate
    cache_write_1h: Rate
    cache_read: Rate
    output: Rate

    def scaled(self, factor: Decimal) -> Rates:
        """These rates multiplied by `factor`, as plain Rates."""
        with localcontext(_CONTEXT):
            return Rates(**{kind: getattr(self, kind) * factor for kind in KINDS})


class FastRates(Rates):
    """Rates for ``speed = "fast"``, which carry their own source."""

    source: str
    verified: bool


class LongContextRates(Rates):
    """Rates for a whole request whose prompt is longer than `above` tokens."""

    above: int = Field(gt=0)


class ModelPrice(Rates):
    """One model's prices from `valid_from` on. The inherited Rates fields are the base rates."""

    model: str
    name: str
    valid_from: date
    fast: FastRates | None = None
    long_context: LongContextRates | None = None
    inference_geo_us: Rate = _ONE
    source: str
    verified: bool
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_cache_rates(cls, data: Any) -> Any:
        # The file states only deviations from the standard multipliers, so every consumer gets
        # complete rates from here. Fast and long-context rates keep the base row's own ratios:
        # Opus 5.5 also reads at 0.05x in fast mode, because modifiers stack.
        if not isinstance(data, Mapping):
            return data
        data = _with_cache_rates(dict(data), STANDARD_CACHE_MULTIPLIERS)
        ratios = _cache_ratios(data)
        for key in ("fast", "long_context"):
            if isinstance(data.get(key), Mapping):
                data[key] = _with_cache_rates(dict(data[key]), ratios)
        return data

    @model_validator(mode="after")
    def _fast_or_long_context(self) -> ModelPrice:
        # No model in §10 has both, and nobody publishes the price of a fast call above the tier.
        if self.fast is not None and self.long_context is not None:
            raise ValueError("a row cannot have both fast and long_context rates: their mix has no price")
        return self

    def rates_for(self, *, fast: bool, prompt_tokens: int) -> tuple[Rates, bool] | None:
        """The rates for one request and whether the long-context tier applied, or None if unknown."""
        if fast:
            return (self.fast, False) if self.fast is not None else None
        if self.long_context is not None and prompt_tokens > self.long_context.above:
            return self.long_context, True
        return self, False


class TokenCounts(BaseModel):
    """Billed tokens by kind. `input` excludes cache tokens, as in the API's usage."""

    model_config = ConfigDict(frozen=True, strict=True)

    input: NonNegativeInt = 0
    cache_write_5m: NonNegativeInt = 0
    cache_write_1h: NonNegativeInt = 0
    cache_read: NonNegativeInt = 0
    output: NonNegativeInt = 0

    @property
    def prompt(self) -> int:
        """The whole prompt: uncached input plus cache writes and reads (the long-context measure)."""
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read


class CostBreakdown(BaseModel):
    """What one call cost, by kind of token, in USD rounded to 1e-9 (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    model: str
    valid_from: date
    input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal
    total: Decimal
    tokens: TokenCounts
    rates: Rates  # per MTok as charged: after the batch and data-residency multipliers
    multiplier: Decimal  # batch x data residency, already in `rates`
    batch: bool
    fast: bool
    long_context: bool
    verified: bool  # every rate used comes from an official page
    source: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cache_savings(self) -> Decimal:
        """Cached prompt tokens priced as plain input minus their cost; negative if the write premium won."""
        cached = self.tokens.cache_write_5m + self.tokens.cache_write_1h + self.tokens.cache_read
        with localcontext(_CONTEXT):
            as_input = Decimal(cached) * self.rates.input
            spent = sum(
                (Decimal(getattr(self.tokens, kind)) * getattr(self.rates, kind)
                 for kind in ("cache_write_5m", "cache_write_1h", "cache_read")),
                Decimal(0),
            )
            return _round((as_input - spent) / MTOK)


class _Entry(BaseModel):
    """One ``[models.<id>]`` table as written in the file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    aliases: list[str] = []
    unknown: str | None = None
    prices: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}  # read by lib.core.models


class PriceTable:
    """The parsed price file: model ids, their aliases, and dated price rows."""

    def __init__(self, rows: Mapping[str, Sequence[ModelPrice]], ids: Mapping[str, str],
                 unknown: Mapping[str, str]) -> None:
        self._rows = {model: tuple(sorted(found, key=lambda row: row.valid_from))
                      for model, found in rows.items()}
        self._ids = dict(ids)  # every accepted id -> the table's key
        self._unknown = dict(unknown)  # table key -> why no price is known

    @classmethod
    def from_toml(cls, path: Path) -> PriceTable:
        """Parse and validate `path`; raises PricingFileError with the offending model named."""
        raw = ModelTable.from_toml(path).raw
        rows: dict[str, list[ModelPrice]] = {}
        ids: dict[str, str] = {}
        unknown: dict[str, str] = {}
        for model, table in raw.get("models", {}).items():
            where = f"{path}: [models.{model}]"
            try:
                entry = _Entry.model_validate(table)
                found = [ModelPrice.model_validate(row | {"model": model, "name": entry.name})
                         for row in entry.prices]
            except ValidationError as exc:
                raise PricingFileError(f"{where}: {exc}") from exc
            if (entry.unknown is None) == (not found):
                raise PricingFileError(f"{where}: give either [[prices]] rows or `unknown`, not both")
            if len({row.valid_from for row in found}) != len(found):
                raise PricingFileError(f"{where}: two rows share a valid_from date")
            for name in (model, *entry.aliases):
                if name in ids:
                    raise PricingFileError(f"{where}: id {name!r} is already used by {ids[name]!r}")
                ids[name] = model
            if found:
                rows[model] = found
            else:
                unknown[model] = entry.unknown or ""
        return cls(rows, ids, unknown)

    def resolve(self, model: str) -> str | None:
        """The table's key for `model`: itself, an alias, or its base without a date suffix."""
        if model in self._ids:
            return self._ids[model]
        # "claude-x-y-20250101" is billed as "claude-x-y" when only the base is listed.
        dated = _DATED_ID.match(model)
        return self._ids.get(dated["base"]) if dated else None

    def price_for(self, model: str, at: datetime | date | None = None) -> ModelPrice | None:
        """The row in force for `model` on `at`'s UTC date (today if None), or None if there is no price."""
        key = self.resolve(model)
        rows = self._rows.get(key) if key else None
        if not rows:
            return None
        day = _utc_day(at)
        in_force = [row for row in rows if row.valid_from <= day]
        # A call dated before the first row (its release date as we recorded it) gets the first known
        # price: a model cannot be called before it exists, and a slightly late date must not blank out costs.
        return in_force[-1] if in_force else rows[0]

    def known_models(self) -> list[str]:
        """Every id that has a price: table keys and aliases, sorted."""
        return sorted(name for name, key in self._ids.items() if key in self._rows)

    def unknown_models(self) -> list[str]:
        """Every id deliberately listed without a price, sorted."""
        return sorted(name for name, key in self._ids.items() if key in self._unknown)

    def is_verified(self, model: str, at: datetime | date | None = None) -> bool | None:
        """Whether the base rates in force come from an official page; None if there is no price."""
        price = self.price_for(model, at)
        return price.verified if price else None

    def cost_breakdown(self, model: str, usage: Any, *, batch: bool = False,
                       at: datetime | date | None = None) -> CostBreakdown | None:
        """The cost of one call by kind of token, or None if any price it needs is unknown."""
        price = self.price_for(model, at)
        if price is None:
            return None
        tokens = _tokens(usage)
        speed, tier, geo = (_field(usage, name) for name in ("speed", "service_tier", "inference_geo"))
        if speed not in _SPEEDS or tier not in _LIST_PRICE_TIERS:
            return None
        if geo == "us":
            geo_multiplier = price.inference_geo_us  # 1 on models that predate the surcharge
        elif geo in _STANDARD_GEOS:
            geo_multiplier = _ONE
        else:
            return None
        fast = speed == "fast"
        applied = price.rates_for(fast=fast, prompt_tokens=tokens.prompt)
        if applied is None:
            return None
        rates, long_context = applied
        # The argument and the usage can both say batch; the discount still applies once.
        batch = batch or tier == "batch"
        with localcontext(_CONTEXT):
            multiplier = (BATCH_MULTIPLIER if batch else _ONE) * geo_multiplier
            charged = rates.scaled(multiplier)
            exact = {kind: Decimal(getattr(tokens, kind)) * getattr(charged, kind) / MTOK for kind in KINDS}
            total = sum(exact.values(), Decimal(0))
            parts = {kind: _round(amount) for kind, amount in exact.items()}
            total = _round(total)
        fast_rates = price.fast if fast else None
        return CostBreakdown(
            model=price.model, valid_from=price.valid_from, **parts, total=total, tokens=tokens,
            rates=charged, multiplier=multiplier, batch=batch, fast=fast, long_context=long_context,
            verified=price.verified and (fast_rates is None or fast_rates.verified),
            source=price.source if fast_rates is None else f"{price.source}; fast mode: {fast_rates.source}",
        )

    def cost_usd(self, model: str, usage: Any, *, batch: bool = False,
                 at: datetime | date | None = None) -> Decimal | None:
        """The USD cost of one call, rounded to 1e-9, or None (never 0) when a price is unknown."""
        breakdown = self.cost_breakdown(model, usage, batch=batch, at=at)
        return breakdown.total if breakdown is not None else None


@lru_cache(maxsize=8)
def load_prices(path: Path | str = DEFAULT_PATH) -> PriceTable:
    """The price table in `path`, parsed once per path (``load_prices.cache_clear()`` after editing it)."""
    return PriceTable.from_toml(Path(path))


def cost_usd(model: str, usage: Any, *, batch: bool = False,
             at: datetime | date | None = None) -> Decimal | None:
    """The USD cost of one call, rounded to 1e-9, or None (never 0) when a price is unknown."""
    return load_prices().cost_usd(model, usage, batch=batch, at=at)


def cost_breakdown(model: str, usage: Any, *, batch: bool = False,
                   at: datetime | date | None = None) -> CostBreakdown | None:
    """The cost of one call by kind of token, or None if any price it needs is unknown."""
    return load_prices().cost_breakdown(model, usage, batch=batch, at=at)


def price_for(model: str, at: datetime | date | None = None) -> ModelPrice | None:
    """The default table's row in force for `model` on `at`'s UTC date (today if None), or None."""
    return load_prices().price_for(model, at)


def known_models() -> list[str]:
    """Every model id in the default table that has a price, aliases included, sorted."""
    return load_prices().known_models()


def is_verified(model: str, at: datetime | date | None = None) -> bool | None:
    """Whether `model`'s base rates in force come from an official page; None if it has no price."""
    return load_prices().is_verified(model, at)


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(QUANTUM, rounding=ROUND_HALF_EVEN, context=_CONTEXT)


def _utc_day(at: datetime | date | None) -> date:
    """The UTC date of `at` (today if None). A naive datetime is read as UTC, as the usage log stores it."""
    if at is None:
        return datetime.now(UTC).date()
    if isinstance(at, datetime):
        return at.astimezone(UTC).date() if at.tzinfo is not None else at.date()
    return at


def _field(obj: Any, name: str) -> Any:
    """`obj.name` or `obj[name]`: usage arrives as an SDK model or as a plain dict."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, name: str) -> int:
    """A token count, where a missing value counts as 0. Non-integers are refused rather than rounded."""
    value = _field(obj, name)
    if value is None:
        return 0
    # bool is an int subclass, and a float count means precision was already lost upstream.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"usage {name} must be an integer token count, got {value!r}")
    if value < 0:
        raise ValueError(f"usage {name} must not be negative, got {value!r}")
    return int(value)


def _tokens(usage: Any) -> TokenCounts:
    """Billed tokens by kind from an SDK Usage or a dict with the same field names."""
    split = _field(usage, "cache_creation")
    write_5m = _count(split, "ephemeral_5m_input_tokens")
    write_1h = _count(split, "ephemeral_1h_input_tokens")
    # Writes that the split leaves out are priced as 5-minute writes, because 5 minutes is the API's
    # default TTL. This covers usage with no split at all and usage where only the total is filled.
    # When the split adds up to more than the total, the split wins: it is the more detailed of the two.
    write_5m += max(_count(usage, "cache_creation_input_tokens") - write_5m - write_1h, 0)
    return TokenCounts(
        input=_count(usage, "input_tokens"), cache_write_5m=write_5m, cache_write_1h=write_1h,
        cache_read=_count(usage, "cache_read_input_tokens"), output=_count(usage, "output_tokens"),
    )


def _decimal(value: Any) -> Decimal | None:
    """`value` as an exact Decimal, or None if missing or inexact (pydantic then reports the bad value)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _with_cache_rates(card: dict[str, Any], multipliers: Mapping[str, Decimal]) -> dict[str, Any]:
    """`card` with each missing cache rate set to its multiplier times the card's input rate."""
    input_rate = _decimal(card.get("input"))
    if input_rate is not None:
        with localcontext(_CONTEXT):
            for kind, multiplier in multipliers.items():
                if card.get(kind) is None:
                    card[kind] = input_rate * multiplier
    return card


def _cache_ratios(card: Mapping[str, Any]) -> dict[str, Decimal]:
    """Each cache rate of `card` as a multiple of its input rate (standard ones if input is 0 or invalid)."""
    input_rate = _decimal(card.get("input"))
    ratios = dict(STANDARD_CACHE_MULTIPLIERS)
    if input_rate:
        with localcontext(_CONTEXT):
            for kind in ratios:
                rate = _decimal(card.get(kind))
                if rate is not None:
                    ratios[kind] = rate / input_rate
    return ratios


def format_usd(amount: Decimal | float | int | None) -> str:
    """Dollars for people: cents from $1 up; below, up to four decimals (at least two): $0.50, $0.0364."""
    if amount is None:
        return "—"
    amount = Decimal(str(amount))
    sign, amount = ("−" if amount < 0 else ""), abs(amount)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount:,.2f}"
    if amount < Decimal("0.0001"):
        return f"{sign}<$0.0001"
    text = f"{amount:.4f}".rstrip("0")
    return f"{sign}${text}{'0' * (4 - len(text))}"
