"""Clear errors for what a person must fix, and the access token never shown anywhere."""

from __future__ import annotations

import logging

import pytest

from lib.core.errors import ScribeError
from lib.crm.hubspot import catalogue, connect, mirror, writes
from lib.crm.hubspot.errors import (
    HubSpotAuthFailed,
    HubSpotError,
    HubSpotInvalidValue,
    HubSpotMissingScopes,
    HubSpotNotFound,
    HubSpotUnavailable,
    HubSpotUnknownProperty,
)
from tests.hubspot.conftest import TOKEN
from tests.hubspot.server import Limits, VirtualClock


def test_wrong_token_is_401_with_what_to_fix(hubspot_server):
    hs = connect("pat-na1-wrong-token-9999", hubspot_server.base_url, clock=hubspot_server.clock)
    with pytest.raises(HubSpotAuthFailed) as err:
        list(mirror.read_all(hs, "contacts"))
    assert isinstance(err.value, ScribeError) and err.value.status == 401
    assert "INVALID_AUTHENTICATION" in str(err.value) and "HUBSPOT_ACCESS_TOKEN" in str(err.value)
    assert err.value.request_id  # HubSpot's correlationId, for support
    assert "wrong-token" not in str(err.value)


def test_expired_token_says_expired(hubspot_server):
    hs = connect("expired-pat-123", hubspot_server.base_url, clock=hubspot_server.clock)
    with pytest.raises(HubSpotAuthFailed) as err:
        catalogue.pipelines(hs)
    assert "EXPIRED_AUTHENTICATION" in str(err.value) and "expired" in str(err.value)


def test_no_token_is_refused_before_any_call():
    with pytest.raises(HubSpotAuthFailed):
        connect("  ", "http://127.0.0.1:9")


def test_missing_scope_is_named(make_server):
    server = make_server(granted_scopes={"crm.objects.contacts.read", "crm.objects.companies.read",
                                         "crm.objects.deals.read"})
    deal = server.portal.seed("deals", {"dealname": "D", "dealstage": "qualifiedtobuy"})
    hs = connect(TOKEN, server.base_url, clock=server.clock)
    assert len(list(mirror.read_all(hs, "deals"))) == 1
    with pytest.raises(HubSpotMissingScopes) as err:
        writes.update_records(hs, "deals", {deal: {"dealstage": "closedwon"}})
    assert err.value.scopes == ["crm.objects.deals.write"]
    assert "crm.objects.deals.write" in err.value.message and "Private Apps > Scopes" in str(err.value)
    with pytest.raises(HubSpotMissingScopes) as err:
        catalogue.properties(hs, "contacts")
    assert err.value.scopes == ["crm.schemas.contacts.read"]
    assert server.portal.objects["deals"][deal].properties["dealstage"] == "qualifiedtobuy"


def test_unknown_property_and_invalid_option(hubspot_server, hs):
    portal = hubspot_server.portal
    portal.add_property("deals", "meddicc_metrics_confirmed", "Metrics confirmed", "enumeration", "select",
                        options=[("yes", "Yes"), ("no", "No")])
    deal = portal.seed("deals", {"dealname": "D", "dealstage": "qualifiedtobuy"})
    with pytest.raises(HubSpotUnknownProperty) as err:
        writes.update_records(hs, "deals", {deal: {"meddicc_champ": "x", "dealname": "E"}})
    assert err.value.properties == ["meddicc_champ"] and err.value.status == 400
    with pytest.raises(HubSpotInvalidValue) as err:
        writes.update_records(hs, "deals", {deal: {"meddicc_metrics_confirmed": "maybe"}})
    assert "maybe was not one of the allowed options" in str(err.value)
    assert portal.objects["deals"][deal].properties["dealname"] == "D"   # nothing partial


def test_unknown_record_is_not_found(hs):
    with pytest.raises(HubSpotNotFound) as err:
        hs.call("contacts", "basic_api", "get_by_id", "424242")
    assert err.value.status == 404 and "archived" in str(err.value)


def test_unreachable_host_is_unavailable():
    clock = VirtualClock()  # the connect retries' backoff advances it instead of sleeping
    hs = connect(TOKEN, "http://127.0.0.1:9", timeout_s=2, clock=clock)
    with pytest.raises(HubSpotUnavailable) as err:
        catalogue.pipelines(hs)
    assert "127.0.0.1:9" in str(err.value) and "HUBSPOT_BASE_URL" in str(err.value)
    assert clock.slept > 0  # it did retry the connection before giving up


def test_the_token_never_appears_in_reprs_errors_or_logs(make_server, caplog):
    server = make_server(limits=Limits(burst_per_10s=2, daily=40), granted_scopes={"crm.objects.contacts.read"})
    server.portal.seed("contacts", {"email": "a@b.io"})
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    raised: set[str] = set()
    for token in (TOKEN, "pat-na1-bad-token-0123456789"):
        hs = connect(token, server.base_url, clock=server.clock, burst_per_10s=None)
        seen += [repr(hs), str(hs)]
        attempts = [lambda c: list(mirror.read_all(c, "contacts")),
                    lambda c: writes.update_contacts(c, {"1": {"email": "x@y.z"}}),
                    lambda c: catalogue.pipelines(c), lambda c: writes.create_note(c, "n", server.clock.now())]
        attempts += [lambda c: c.call("contacts", "basic_api", "get_by_id", "1001")] * 45
        for attempt in attempts:
            try:
                attempt(hs)
            except HubSpotError as exc:
                raised.add(type(exc).__name__)
                seen += [str(exc), repr(exc), exc.message, exc.hint, repr(exc.__dict__)]
    assert {"HubSpotAuthFailed", "HubSpotMissingScopes", "HubSpotDailyLimit"} <= raised
    text = "\n".join(seen) + caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    assert server.stats.daily_limited and server.stats.rate_limited
    for token in (TOKEN, "pat-na1-bad-token-0123456789"):
        assert token not in text
        assert token[8:24] not in text
