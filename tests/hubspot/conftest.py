"""Fixtures: a fresh HubSpot test server per test, and the official client pointed at it.

The client shares the server's virtual clock: its pacing and 429 backoff "sleep" by advancing that
clock, so rate-limit tests are instant and nothing here depends on wall-clock time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lib.crm.hubspot import HubSpot, connect
from tests.hubspot.server import HubSpotTestServer, Limits, VirtualClock

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


@pytest.fixture(autouse=True)
def no_real_hubspot(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real HubSpot token or URL from the environment reaches a test."""
    for name in ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_server() -> Iterator:
    """make_server(**options) -> a started HubSpotTestServer; all are stopped after the test."""
    started: list[HubSpotTestServer] = []

    def make(**options) -> HubSpotTestServer:
        options.setdefault("token", TOKEN)
        server = HubSpotTestServer(**options).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def hubspot_server(make_server) -> HubSpotTestServer:
    """A HubSpot test server with no rate limits, every scope granted, and a response journal."""
    return make_server(journal=True)


@pytest.fixture
def hs(hubspot_server: HubSpotTestServer) -> HubSpot:
    """The official client, through lib.crm.hubspot, against the test server (paced on its clock)."""
    return connect(TOKEN, hubspot_server.base_url, clock=hubspot_server.clock)


__all__ = ["TOKEN", "Limits", "VirtualClock"]
