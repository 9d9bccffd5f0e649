"""SandboxConfig: every knob of the simulator, typed and validated (pydantic)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

# The virtual clock starts here so that timestamps, batch times and "the sim clock's date" are the same
# on every run. A Friday morning, UTC.
VIRTUAL_EPOCH = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)

RATE_FIELDS = frozenset({"rpm", "itpm", "otpm", "burst_s", "count_tokens_rpm"})


class SandboxConfig(BaseModel):
    """Configuration of one Simulator; change it live with `Simulator.configure(**fields)`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    seed: int = 0
    """Seeds every reply, id and fault draw; two simulators with the same seed answer identically."""

    # Rate limits, per API key, as token buckets (capacity = limit * burst_s / 60, refill = limit / 60 per s).
    rpm: int = Field(4000, ge=1)
    itpm: int = Field(2_000_000, ge=1)
    otpm: int = Field(400_000, ge=1)
    burst_s: float = Field(60.0, gt=0)
    count_tokens_rpm: int = Field(600, ge=1)
    """count_tokens has its own (small) requests bucket, as on the real API."""

    # Timing. None = the model's default profile (see catalogue.TIMING).
    ttft_ms: float | None = Field(None, ge=0)
    tokens_per_s: float | None = Field(None, gt=0)
    jitter: float = Field(0.0, ge=0, le=0.5)
    """Seeded relative jitter on TTFT (0.1 = +-10%); 0 keeps timing exact."""

    # Faults, drawn per request from a seeded RNG.
    fail_rate: float = Field(0.0, ge=0, le=1)
    overload_rate: float = Field(0.0, ge=0, le=1)
    midstream_error_rate: float = Field(0.0, ge=0, le=1)
    disconnect_rate: float = Field(0.0, ge=0, le=1)
    spend_limit_rate: float = Field(0.0, ge=0, le=1)
    rate_limit_rate: float = Field(0.0, ge=0, le=1)
    """Share of requests refused with a 429 rate_limit_error (retry-after: 1) whatever the buckets hold."""
    spend_limit_reached: bool = False
    """While true every Messages request gets the spend-limit 429 (no retry-after)."""

    virtual_clock: bool = False
    batch_delay_s: float = Field(2.0, ge=0)
    cache_min_tokens: dict[str, int] = Field(default_factory=dict)
    """Model id -> minimum cacheable prefix in tokens; overrides catalogue.CACHE_MIN_TOKENS."""

    max_request_bytes: int = Field(32_000_000, ge=1)
    max_batch_bytes: int = Field(256_000_000, ge=1)
    max_batch_requests: int = Field(100_000, ge=1)
    journal_limit: int = Field(10_000, ge=1)
    journal_bodies: bool = False
    """Keep each request's JSON body in the journal (off by default: bodies can be large)."""
