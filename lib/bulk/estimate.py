"""Before starting: what each mode would cost and how long it would take.

Input tokens come from count_tokens on a sample of the notes (free; each note's count is the fixed part
of the prompt plus tokens per character of the note, fitted on the sample), output from a typical
extraction's size. Live: the house guide is written to the cache once and read by every later call
(cache reads cost 0.1x and do not count toward the input-token rate limit). Batch: no cache hits
assumed, every token at half price. Live time is the longer of two bounds: what the rate limits the last
response reported allow (`Gateway.rate_limit_headers`), and how long the notes take `concurrency` at a
time at the latency recent extractions had (a guess of DEFAULT_LATENCY_S before any). Batch time is the
API's promise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from lib.bulk.input import NoteRow, extraction_request
from lib.bulk.limiter import binding_dimension, limits_from_headers, sustained_rate
from lib.claude import prompts
from lib.claude.gateway import Gateway, output_config_for
from lib.usage import pricing
from lib.work.schemas import Extraction

TYPICAL_OUTPUT_TOKENS = 450  # a 1-3 person extraction with evidence quotes is ~300-700 tokens
DEFAULT_LATENCY_S = 8.0  # ~450 output tokens at ~60 tokens/s plus time to first token, before any call shows it
SAMPLE_SIZE = 5
BATCH_TIME = "within 24 h, usually under 1 h"


@dataclass
class ModeEstimate:
    mode: str  # live | batch
    cost_usd: Decimal | None  # None: the model's price is unknown
    seconds: float | None  # None: not known before starting
    time_text: str


@dataclass
class Estimate:
    """Both modes for one set of notes and one model."""

    notes: int
    model: str
    input_tokens: int  # all notes, whole prompts
    cached_tokens: int  # the house guide, per call, when the model caches it
    output_tokens: int
    live: ModeEstimate
    batch: ModeEstimate
    limits: dict[str, int]
    binding: str | None
    sampled: int


def estimate(gateway: Gateway, rows: list[NoteRow], *, model: str, max_tokens: int = 4000,
             limits: dict[str, int] | None = None, sample_size: int = SAMPLE_SIZE, concurrency: int = 8,
             latency_s: float | None = None) -> Estimate:
    """Cost and time of live and batch for `rows` (count_tokens on up to `sample_size` of them).
    `latency_s`: how long one extraction takes (recent calls'); None = DEFAULT_LATENCY_S, said to be a guess."""
    if not rows:
        raise ValueError("no notes to estimate")
    sample = [rows[round(i * (len(rows) - 1) / max(1, min(sample_size, len(rows)) - 1))]
              for i in range(min(sample_size, len(rows)))]
    fixed = _count(gateway, model, NoteRow(row=0, note="."), max_tokens)
    per_char = sum((_count(gateway, model, r, max_tokens) - fixed) / max(1, len(r.text())) for r in sample) / len(sample)
    per_note = [fixed + per_char * len(r.text()) for r in rows]
    total_in = math.ceil(sum(per_note))
    guide = _guide_tokens(gateway, model)
    cached = guide if guide >= prompts.min_cacheable_tokens(model) else 0
    n, out = len(rows), TYPICAL_OUTPUT_TOKENS * len(rows)
    live_cost = pricing.cost_usd(model, {
        "input_tokens": total_in - cached * n, "output_tokens": out, "cache_read_input_tokens": cached * (n - 1),
        "cache_creation_input_tokens": cached, "cache_creation": {"ephemeral_5m_input_tokens": cached}})
    batch_cost = pricing.cost_usd(model, {"input_tokens": total_in, "output_tokens": out}, batch=True)
    limits = limits if limits is not None else limits_from_headers(gateway.rate_limit_headers())
    charge = total_in / n - cached  # what one call takes from the input-token bucket
    rate = sustained_rate(limits, charge, TYPICAL_OUTPUT_TOKENS) if limits else None
    by_limits = n / rate if rate else 0.0
    by_latency = math.ceil(n / concurrency) * (latency_s or DEFAULT_LATENCY_S)
    seconds = max(by_limits, by_latency)
    guessed = [] if latency_s else ["no extraction has shown its time yet"]
    guessed += [] if limits else ["the rate limits are not known until the first reply"]
    time_text = _duration(seconds) + (f" (a guess: {'; '.join(guessed)})" if guessed else "")
    return Estimate(
        notes=n, model=model, input_tokens=total_in, cached_tokens=cached, output_tokens=out,
        live=ModeEstimate("live", live_cost, seconds, time_text),
        batch=ModeEstimate("batch", batch_cost, None, BATCH_TIME),
        limits=dict(limits), binding=binding_dimension(limits, charge, TYPICAL_OUTPUT_TOKENS) if limits else None,
        sampled=len(sample))


def _count(gateway: Gateway, model: str, row: NoteRow, max_tokens: int) -> int:
    request = extraction_request(row.text(), row.note_date, model=model, max_tokens=max_tokens)
    return gateway.count_tokens(model=model, system=request["system"], messages=request["messages"],
                                output_config=output_config_for(Extraction))


def _guide_tokens(gateway: Gateway, model: str) -> int:
    """Tokens of the cached house guide (the prefix every extraction shares)."""
    probe = [{"role": "user", "content": "."}]
    with_guide = gateway.count_tokens(model=model, messages=probe,
                                      system=[{"type": "text", "text": prompts.HOUSE_GUIDE}])
    return with_guide - gateway.count_tokens(model=model, messages=probe)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
