"""What the sandbox billed, priced with its own table (read by the Admin API's cost report, admin.py).

The table is transcribed from Anthropic's pricing pages and deliberately independent of Scribe's
``lib/pricing`` and ``data/pricing.toml``: it plays the part of Anthropic's bill, so comparing
Scribe's log with it (reconciliation) tests something real.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .clock import to_datetime


@dataclass(frozen=True)
class Price:
    """USD per million tokens; writes cost 1.25x (5 min) and 2x (1 hour) the input rate."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None  # None: 0.1x input
    long_above: int | None = None  # a prompt above this many tokens pays the long rates on everything
    long_input: Decimal | None = None
    long_output: Decimal | None = None
    long_cache_read: Decimal | None = None

    def rates(self, long: bool) -> dict[str, Decimal]:
        inp, out, read = self.input, self.output, self.cache_read
        if long and self.long_above is not None:
            inp, out, read = self.long_input, self.long_output, self.long_cache_read
        assert inp is not None and out is not None
        return {
            "uncached_input_tokens": inp,
            "cache_creation.ephemeral_5m_input_tokens": inp * Decimal("1.25"),
            "cache_creation.ephemeral_1h_input_tokens": inp * 2,
            "cache_read_input_tokens": read if read is not None else inp / 10,
            "output_tokens": out,
        }


def _p(inp: str, out: str, read: str | None = None, **long: Any) -> Price:
    return Price(Decimal(inp), Decimal(out), Decimal(read) if read else None,
                 **{k: (Decimal(v) if isinstance(v, str) else v) for k, v in long.items()})


_OPUS_4 = _p("5", "25")
_SONNET_4 = _p("3", "15")
_SONNET_4_LONG = _p("3", "15", long_above=200_000, long_input="6", long_output="22.50", long_cache_read="0.60")
_HAIKU_4_5 = _p("1", "5")
# Anthropic's list prices (official pages), by model id in the sandbox's catalogue.
PRICES: dict[str, Price] = {
    "claude-fable-5-2": _p("8", "40", "0.20"),
    "claude-mythos-5-2": _p("8", "40", "0.20"),  # no published price: billed as Fable 5.2, the same model
    "claude-haiku-5-5": _p("0.10", "0.50", long_above=100_000, long_input="0.50", long_output="2.50",
                           long_cache_read="0.05"),
    "claude-sonnet-5-5": _p("2", "10", "0.20"),
    "claude-fable-5-1": _p("10", "50", "0.25"),
    "claude-mythos-5-1": _p("10", "50", "0.25"),
    "claude-opus-5-5": _p("4", "20", "0.20"),
    "claude-sonnet-5": _p("2", "10"),
    "claude-fable-5": _p("10", "50", "1.00"),
    "claude-mythos-5": _p("10", "50", "1.00"),
    "claude-mythos-preview": _p("10", "50", "1.00"),  # no published price: billed as Mythos 5
    "claude-opus-5": _OPUS_4,
    "claude-opus-4-8": _OPUS_4,
    "claude-opus-4-7": _OPUS_4,
    "claude-opus-4-6": _OPUS_4,
    "claude-opus-4-5": _OPUS_4,
    "claude-opus-4-5-20251101": _OPUS_4,
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4_LONG,
    "claude-sonnet-4-5-20250929": _SONNET_4_LONG,
    "claude-haiku-4-5": _HAIKU_4_5,
    "claude-haiku-4-5-20251001": _HAIKU_4_5,
}
TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "Cache Write Tokens (5m)",
    "cache_creation.ephemeral_1h_input_tokens": "Cache Write Tokens (1h)",
    "cache_read_input_tokens": "Cache Read Tokens",
    "output_tokens": "Output Tokens",
}


class Ledger:
    """What the sandbox billed: tokens per (day, model, service tier, context window, long tier, token type)."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[date, str, str, str, bool, str], int] = defaultdict(int)
        self._lock = threading.Lock()
        self.admin_keys: set[str] = set()

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self.admin_keys.clear()

    def record(self, now: float, model: str, usage: dict[str, Any], service_tier: str | None = None) -> None:
        """Bill one finished request (its final usage) at the sandbox clock's `now`."""
        creation = usage.get("cache_creation") or {}
        w5 = int(creation.get("ephemeral_5m_input_tokens") or 0)
        w1 = int(creation.get("ephemeral_1h_input_tokens") or 0)
        w5 += max(int(usage.get("cache_creation_input_tokens") or 0) - w5 - w1, 0)
        counts = {
            "uncached_input_tokens": int(usage.get("input_tokens") or 0),
            "cache_creation.ephemeral_5m_input_tokens": w5,
            "cache_creation.ephemeral_1h_input_tokens": w1,
            "cache_read_input_tokens": int(usage.get("cache_read_input_tokens") or 0),
            "output_tokens": int(usage.get("output_tokens") or 0),
        }
        prompt = counts["uncached_input_tokens"] + w5 + w1 + counts["cache_read_input_tokens"]
        price = PRICES.get(model)
        long = bool(price and price.long_above is not None and prompt > price.long_above)
        window = "0-200k" if prompt <= 200_000 else "200k-1M"
        tier = service_tier or usage.get("service_tier") or "standard"
        day = to_datetime(now).date()
        with self._lock:
            for token_type, n in counts.items():
                if n:
                    self._tokens[(day, model, tier, window, long, token_type)] += n

    def day_items(self, day: date) -> list[dict[str, Any]]:
        """The day's cost items (one per model, tier, window and token type), amounts in cents."""
        with self._lock:
            items = [(k, n) for k, n in self._tokens.items() if k[0] == day]
        out = []
        for (_, model, tier, window, long, token_type), n in sorted(items):
            price = PRICES.get(model)
            if price is None:  # a model the sandbox answers but has no price for: billed at nothing, said so
                cents, name = Decimal(0), model
            else:
                rate = price.rates(long)[token_type] * (Decimal("0.5") if tier == "batch" else 1)
                cents, name = Decimal(n) * rate / 10_000, model  # USD/MTok * tokens / 1e6 * 100 cents
            label = TOKEN_LABELS[token_type] + (" (long context)" if long else "")
            out.append({"model": name, "service_tier": tier, "context_window": window, "token_type": token_type,
                        "cost_type": "tokens", "description": f"{model} Usage - {label}",
                        "currency": "USD", "amount": format(cents, "f"), "workspace_id": None})
        return out
