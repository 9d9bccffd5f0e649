"""With an admin key, the org's configured limits (Rate Limits API) reach the gateway and seed the bulk limiter."""

from __future__ import annotations

from lib.bulk.limiter import Cost, RateLimiter, limits_from_configured
from lib.claude.gateway import Gateway
from lib.usage.log import UsageLog

ADMIN = "sk-ant-admin-test"


def test_the_gateway_reads_the_configured_limits_and_logs_nothing(sandbox, db):
    sandbox.configure(rpm=50, itpm=30_000, otpm=8_000)
    gateway = Gateway(UsageLog(db), api_key="sk-sandbox-test", base_url=sandbox.base_url, backend="sandbox")
    groups = gateway.configured_rate_limits(ADMIN, model="claude-sonnet-4-6")
    (group,) = groups
    assert limits_from_configured(group.limits) == {"requests": 50, "input_tokens": 30_000, "output_tokens": 8_000}
    assert "claude-sonnet-4-6" in group.models
    assert UsageLog(db).recent().empty  # free, not a call to account for


def test_a_seeded_limiter_admits_without_a_probe_and_within_its_burst():
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert limiter.seed({"requests": 60, "input_tokens": 60_000, "output_tokens": 6_000})
    granted = [limiter.try_acquire(Cost(requests=1, input_tokens=100, output_tokens=100))[0] for _ in range(12)]
    admitted = [g for g in granted if g is not None]
    assert len(admitted) == 10 and not any(g.probe for g in admitted)  # 10 s of 60/min, no probe first
    assert not limiter.seed({"requests": 1, "input_tokens": 1, "output_tokens": 1})  # seeded once only
