"""Rate limits: the client's pacing, its 429 backoff on HubSpot's headers, and the daily limit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lib.crm.hubspot import connect, mirror
from lib.crm.hubspot.errors import HubSpotDailyLimit, HubSpotRateLimited
from tests.hubspot.conftest import TOKEN
from tests.hubspot.server import Limits, VirtualClock


def seed(portal, n):
    return [portal.seed("contacts", {"email": f"r{i}@x.io"}) for i in range(n)]


def test_burst_429_is_retried_after_backoff(make_server):
    server = make_server(limits=Limits(burst_per_10s=5))
    ids = seed(server.portal, 3)
    hs = connect(TOKEN, server.base_url, clock=server.clock, burst_per_10s=None, search_per_s=None)
    for _ in range(12):
        assert hs.call("contacts", "basic_api", "get_by_id", ids[0]).id == ids[0]
    assert server.stats.rate_limited > 0          # HubSpot said 429 ...
    assert server.clock.slept >= 10               # ... the client waited out the rolling window ...
    assert hs.calls == 12                         # ... and every call succeeded through its retries


def test_retry_after_is_honoured_when_sent(make_server):
    server = make_server(limits=Limits(burst_per_10s=1, window_s=3, retry_after_s=3))
    ids = seed(server.portal, 1)
    hs = connect(TOKEN, server.base_url, clock=server.clock, burst_per_10s=None)
    for _ in range(3):
        hs.call("contacts", "basic_api", "get_by_id", ids[0])
    assert server.stats.rate_limited == 2 and server.clock.slept == 6  # exactly Retry-After, twice


def test_pacing_keeps_under_the_burst_limit(make_server):
    server = make_server(limits=Limits(burst_per_10s=100, search_per_s=5))
    seed(server.portal, 20)
    hs = connect(TOKEN, server.base_url, clock=server.clock)  # paced at 100 / 10 s and 5 searches / s
    for _ in range(250):
        hs.call("contacts", "basic_api", "get_page", limit=1)
    for _ in range(12):
        list(mirror.read_changed(hs, "contacts", server.clock.start - timedelta(days=1), with_associations=False))
    assert (server.stats.rate_limited, server.stats.search_limited) == (0, 0)
    assert server.clock.slept >= 20


def test_search_limit_429_is_retried(make_server):
    server = make_server(limits=Limits(search_per_s=2))
    seed(server.portal, 5)
    hs = connect(TOKEN, server.base_url, clock=server.clock, burst_per_10s=None, search_per_s=None)
    for _ in range(6):
        records = list(mirror.read_changed(hs, "contacts", server.clock.start - timedelta(days=1),
                                           with_associations=False))
        assert len(records) == 5
    assert server.stats.search_limited > 0


def test_retries_run_out_with_a_clear_error(make_server):
    server = make_server(limits=Limits(burst_per_10s=1))
    ids = seed(server.portal, 1)
    # the client sleeps on a clock of its own: HubSpot's window never moves, every retry is refused
    hs = connect(TOKEN, server.base_url, clock=VirtualClock(), retries=3, burst_per_10s=None)
    hs.call("contacts", "basic_api", "get_by_id", ids[0])
    with pytest.raises(HubSpotRateLimited) as err:
        hs.call("contacts", "basic_api", "get_by_id", ids[0])
    assert not isinstance(err.value, HubSpotDailyLimit)
    assert err.value.status == 429 and "TEN_SECONDLY_ROLLING" in str(err.value)
    assert server.stats.rate_limited == 4          # the first try and 3 retries


def test_daily_limit_is_not_retried_and_says_so(make_server):
    server = make_server(limits=Limits(daily=3, burst_per_10s=100))
    ids = seed(server.portal, 1)
    hs = connect(TOKEN, server.base_url, clock=server.clock)
    for _ in range(3):
        hs.call("contacts", "basic_api", "get_by_id", ids[0])
    with pytest.raises(HubSpotDailyLimit) as err:
        hs.call("contacts", "basic_api", "get_by_id", ids[0])
    assert server.stats.daily_limited == 1         # one 429: no retry burnt more of the budget
    assert "daily" in err.value.message.lower() and "resets at midnight" in str(err.value)
    assert "Nothing was lost" in str(err.value)
    server.clock.advance(86400)                    # the next day
    assert hs.call("contacts", "basic_api", "get_by_id", ids[0]).id == ids[0]


def test_daily_limit_on_search_is_not_retried_without_headers(make_server):
    """Search responses carry no X-HubSpot-RateLimit-* headers: the body's policyName decides."""
    server = make_server(limits=Limits(daily=1))
    seed(server.portal, 2)
    hs = connect(TOKEN, server.base_url, clock=server.clock)
    since = server.clock.start - timedelta(days=1)
    assert len(list(mirror.read_changed(hs, "contacts", since, with_associations=False))) == 2
    with pytest.raises(HubSpotDailyLimit):
        list(mirror.read_changed(hs, "contacts", since, with_associations=False))
    assert server.stats.daily_limited == 1 and server.clock.slept < 1


def test_the_server_sends_hubspots_rate_limit_headers(make_server):
    """The server's side of the contract (checked with plain urllib3, not the client)."""
    import urllib3

    server = make_server(limits=Limits(burst_per_10s=190, daily=650_000))
    seed(server.portal, 1)
    response = urllib3.PoolManager().request("GET", server.base_url + "/crm/v3/objects/contacts",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert response.headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert response.headers["X-HubSpot-RateLimit-Daily"] == "650000"
    assert response.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "649999"
