"""The client-side limiter on its own: headers in, admissions out, against a hand-driven clock."""

from datetime import UTC, datetime

import pytest

from lib.bulk.limiter import Cost, NeverFits, RateLimiter, binding_dimension, read_headers, sustained_rate

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def headers(req=(60, 60, 0), inp=(100_000, 99_999, 0), out=(20_000, 19_999, 0), at=T0, **extra):
    """Rate-limit headers: (limit, remaining, seconds until reset) per bucket (remaining not rounded)."""
    out_h = {}
    for name, (limit, remaining, reset_in) in (("requests", req), ("input-tokens", inp), ("output-tokens", out)):
        reset = datetime.fromtimestamp(at + reset_in, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        out_h |= {f"anthropic-ratelimit-{name}-limit": str(limit),
                  f"anthropic-ratelimit-{name}-remaining": str(remaining),
                  f"anthropic-ratelimit-{name}-reset": reset}
    return out_h | extra


COST = Cost(input_tokens=1000, output_tokens=2000)


def learned(clock, **kw):
    """A limiter after its probe came back with `kw` headers."""
    limiter = RateLimiter(clock)
    grant, wait = limiter.try_acquire(COST)
    assert grant is not None and grant.probe and wait is None
    limiter.observe(grant, 200, headers(**kw))
    limiter.settle(grant, input_tokens=1000, output_tokens=2000)
    return limiter


def test_only_one_probe_until_the_headers_are_known():
    limiter = RateLimiter(Clock())
    first, _ = limiter.try_acquire(COST)
    assert first is not None and not limiter.known
    assert limiter.try_acquire(COST) == (None, None)  # wait for the probe's reply
    limiter.observe(first, 200, headers())
    assert limiter.known and limiter.limits() == {"requests": 60, "input_tokens": 100_000, "output_tokens": 20_000}


def test_admits_what_fits_then_says_how_long_to_wait():
    clock = Clock()
    limiter = learned(clock, req=(60, 3, 0))  # 3 requests left, refill 1 per second
    assert all(limiter.try_acquire(COST)[0] is not None for _ in range(3))
    grant, wait = limiter.try_acquire(COST)
    assert grant is None and wait == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.try_acquire(COST)[0] is not None


def test_output_is_reserved_at_max_tokens_and_the_unused_part_comes_back():
    clock = Clock()
    limiter = learned(clock, out=(20_000, 4001, 0))
    grant, _ = limiter.try_acquire(COST)
    assert limiter.try_acquire(COST)[0] is not None  # 4000 = two reservations
    assert limiter.try_acquire(COST)[0] is None
    limiter.settle(grant, input_tokens=1000, output_tokens=300)  # 1700 back
    assert limiter.snapshot()["buckets"]["output_tokens"]["level"] == pytest.approx(1701)


def test_a_429_gives_back_what_was_taken_and_pauses_everyone_for_retry_after():
    clock = Clock()
    limiter = learned(clock)
    grant, _ = limiter.try_acquire(COST)
    limiter.observe(grant, 429, headers(at=clock.now) | {"retry-after": "3"})
    assert limiter.rate_limited == 1
    refused, wait = limiter.try_acquire(COST)
    assert refused is None and wait == pytest.approx(3.0)
    clock.now += 3.0
    assert limiter.try_acquire(COST)[0] is not None


def test_other_users_of_the_key_lower_the_local_level():
    clock = Clock()
    limiter = learned(clock)
    grant, _ = limiter.try_acquire(COST)
    local = limiter.snapshot()["buckets"]["input_tokens"]["level"]
    # the server says far less is left than we think: someone else spent 50k
    limiter.observe(grant, 200, headers(inp=(100_000, 48_001, 0), at=clock.now))
    assert limiter.snapshot()["buckets"]["input_tokens"]["level"] < local - 40_000


def test_a_reading_never_raises_the_local_level():
    clock = Clock()
    limiter = learned(clock, req=(60, 10, 0))
    grant, _ = limiter.try_acquire(COST)
    limiter.observe(grant, 200, headers(req=(60, 50, 0), at=clock.now))
    assert limiter.snapshot()["buckets"]["requests"]["level"] <= 10


def test_capacity_is_learned_from_below_and_never_above_the_limit():
    clock = Clock()
    # 30 of 60 left, full again in 30 s: capacity 30 + (30 - 1) * 1/s = 59 at least
    limiter = learned(clock, req=(60, 30, 30))
    assert limiter.capacity("requests") == pytest.approx(59)
    far = learned(Clock(), req=(60, 30, 3600))  # a reset that cannot be right (clocks disagree)
    assert far.capacity("requests") == 31  # 30 left after the probe took 1


def test_a_request_bigger_than_a_bucket_can_never_fit():
    limiter = learned(Clock(), out=(40_000, 1333, 0))  # 1,333 left after the probe reserved 2,000
    with pytest.raises(NeverFits) as caught:
        limiter.try_acquire(Cost(input_tokens=10, output_tokens=4000))
    assert caught.value.dimension == "output_tokens"


def test_errors_after_admission_give_back_tokens_and_refusals_without_headers_everything():
    clock = Clock()
    limiter = learned(clock, req=(60, 5, 0))
    before = limiter.snapshot()["buckets"]
    grant, _ = limiter.try_acquire(COST)
    limiter.observe(grant, 529, headers(req=(60, 4, 0), at=clock.now))
    limiter.settle(grant)
    after = limiter.snapshot()["buckets"]
    assert after["output_tokens"]["level"] == pytest.approx(before["output_tokens"]["level"])
    assert after["input_tokens"]["level"] == pytest.approx(before["input_tokens"]["level"])
    assert after["requests"]["level"] == pytest.approx(4)  # the request still counted
    refused, _ = limiter.try_acquire(COST)
    limiter.observe(refused, 400, {})  # refused before admission: no headers, nothing taken
    assert limiter.snapshot()["buckets"]["requests"]["level"] == pytest.approx(4)


def test_no_rate_limit_headers_at_all_means_no_waiting_after_a_few_replies():
    limiter = RateLimiter(Clock())
    for _ in range(3):
        grant, _ = limiter.try_acquire(COST)
        limiter.observe(grant, 200, {})
        limiter.settle(grant)
    assert all(limiter.try_acquire(COST)[0] is not None for _ in range(10))


def test_rounded_token_readings_are_taken_at_their_worst():
    readings = read_headers(headers(inp=(100_000, 48_000, 0), out=(20_000, 1234, 0)))
    assert readings["input_tokens"].remaining == 47_500 and readings["output_tokens"].remaining == 1234


def test_the_binding_limit_and_the_rate_it_sustains():
    limits = {"requests": 600, "input_tokens": 200_000, "output_tokens": 40_000}
    assert binding_dimension(limits, 1000, 450) == "output_tokens"
    assert sustained_rate(limits, 1000, 450) == pytest.approx(40_000 / 60 / 450)
    assert binding_dimension(limits, 100, 10) == "requests"
