"""The one door to HubSpot: the official `hubspot-api-client`, configured once, errors made ours.

`connect(access_token, base_url)` gives a `HubSpot`: it hands out the client's API objects (built
once each, so each keeps its connection pool), paces calls under HubSpot's documented limits, and
turns every failure into a `lib.crm.hubspot.errors` error. Retries are the client's own: urllib3's
`Retry`, which the client accepts as `retry=`, extended to read HubSpot's `X-HubSpot-RateLimit-*`
headers and to stop at once when the daily limit is spent (a retry would only burn more of it).

The access token lives only inside the client's configuration (it sends it as a bearer header);
`HubSpot` does not keep it, its repr shows the host only, and error text is built from HubSpot's
JSON error body, with the token scrubbed should a proxy ever echo it.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import hubspot
import hubspot.crm.associations.v4.exceptions as _assoc_exc
import hubspot.crm.companies.exceptions as _companies_exc
import hubspot.crm.contacts.exceptions as _contacts_exc
import hubspot.crm.deals.exceptions as _deals_exc
import hubspot.crm.objects.notes.exceptions as _notes_exc
import hubspot.crm.pipelines.exceptions as _pipelines_exc
import hubspot.crm.properties.exceptions as _properties_exc
import urllib3
from urllib3.util.retry import Retry

from lib.crm.hubspot.errors import (
    HubSpotAuthFailed,
    HubSpotConflict,
    HubSpotDailyLimit,
    HubSpotError,
    HubSpotInvalidValue,
    HubSpotMissingScopes,
    HubSpotNotFound,
    HubSpotRateLimited,
    HubSpotUnavailable,
    HubSpotUnknownProperty,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.hubapi.com"
# HubSpot's documented limits for private apps (usage-guidelines page): 100 requests / 10 s on
# Free and Starter, 190 on Professional and Enterprise; the CRM search endpoints have their own,
# lower limit of 5 requests / s per account. Scribe paces to the lowest tier unless told otherwise.
BURST_PER_10S = 100
SEARCH_PER_S = 5

API_EXCEPTIONS: tuple[type[Exception], ...] = tuple(
    m.ApiException for m in (_contacts_exc, _companies_exc, _deals_exc, _notes_exc, _assoc_exc,
                             _pipelines_exc, _properties_exc)
)

# The API objects Scribe uses, by (area, name): area is a path under `client.crm`.
_AREAS = {
    "contacts": ("contacts",), "companies": ("companies",), "deals": ("deals",),
    "notes": ("objects", "notes"), "associations": ("associations", "v4"),
    "pipelines": ("pipelines",), "properties": ("properties",),
}


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class RealClock:
    """Wall-clock time; tests and the benchmark pass a virtual clock instead."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class HubSpotRetry(Retry):
    """urllib3's Retry for HubSpot: 429 is retried for every method (HubSpot did not process the
    request), 5xx and read errors are not (a create might have happened); the wait honours
    `Retry-After`, else HubSpot's rate-limit window, with exponential backoff; the daily limit is
    not retried. `clock` does the sleeping, so a virtual clock makes backoff instant in tests."""

    def __init__(self, *args: Any, clock: Clock | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.clock = clock or RealClock()

    @classmethod
    def for_hubspot(cls, retries: int, clock: Clock | None = None) -> HubSpotRetry:
        return cls(total=retries, connect=2, read=0, redirect=0, other=0, status=retries,
                   allowed_methods=None, status_forcelist=(429,), backoff_factor=1.0,
                   backoff_max=10.0, raise_on_status=False, respect_retry_after_header=True,
                   clock=clock)

    def new(self, **kw: Any) -> HubSpotRetry:
        retry = super().new(**kw)
        retry.clock = self.clock
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if response is not None and response.status == 429 and _daily_spent(response):
            # Spent for the day: return the 429 as it is (raise_on_status=False makes urllib3 do so).
            raise urllib3.exceptions.MaxRetryError(_pool, url, "HubSpot daily limit reached")
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: Any = None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if wait is None:
            attempts = max(1, len(self.history))
            wait = min(self.backoff_max, self.backoff_factor * 2 ** (attempts - 1))
            if response is not None:
                window = _header_float(response.headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
                if window:
                    wait = min(wait, window / 1000)
        log.info("HubSpot: waiting %.2f s before retry %d", wait, len(self.history))
        self.clock.sleep(wait)


def _daily_spent(response: Any) -> bool:
    """A 429 for the daily limit: the header says 0 left, or (search endpoints and OAuth apps get no
    such header) the body's policyName is DAILY. The client preloads bodies, so reading it here
    leaves it in place for the error that follows."""
    if response.headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
        return True
    try:
        return _json_body(response.data).get("policyName") == "DAILY"
    except (AttributeError, ValueError, urllib3.exceptions.HTTPError):
        return False


def _header_float(headers: Any, name: str) -> float | None:
    try:
        return float(headers.get(name))
    except (TypeError, ValueError):
        return None


class Pacer:
    """A rolling-window limit on calls this process sends: at most `limit` per `window` seconds.

    The window is kept 2 % longer than HubSpot's: HubSpot stamps a request when it arrives, a
    little after it was sent, so an exact window would sometimes be one request over."""

    def __init__(self, limit: int | None, window: float, clock: Clock):
        self.limit, self.window, self.clock = limit, window * 1.02, clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.limit:
            return
        with self._lock:
            now = self.clock.monotonic()
            while self._sent and now - self._sent[0] >= self.window:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                self.clock.sleep(self.window - (now - self._sent[0]))
                now = self.clock.monotonic()
                self._sent.popleft()
            self._sent.append(now)


class HubSpot:
    """A configured client: `api(area, name)` gives the client's API object, `call` runs one."""

    def __init__(self, client: hubspot.Client, base_url: str, *, burst_per_10s: int | None,
                 search_per_s: int | None, clock: Clock, timeout_s: float = 30.0):
        self._client = client
        self.timeout_s = timeout_s
        self.base_url = base_url
        self.clock = clock
        self._apis: dict[tuple[str, str], Any] = {}
        self._burst = Pacer(burst_per_10s, 10.0, clock)
        self._search = Pacer(search_per_s, 1.0, clock)
        self.calls = 0  # calls made through `call` (the client's own retries come on top)

    def __repr__(self) -> str:
        return f"HubSpot(base_url={self.base_url!r})"

    def api(self, area: str, name: str) -> Any:
        """The client's API object, e.g. api("contacts", "batch_api"); one per process and name."""
        key = (area, name)
        if key not in self._apis:
            node: Any = self._client.crm
            for part in _AREAS[area]:
                node = getattr(node, part)
            self._apis[key] = getattr(node, name)
        return self._apis[key]

    def model(self, area: str, name: str, **kwargs: Any) -> Any:
        """One of the client's request models, e.g. model("contacts", "SimplePublicObjectInput", ...)."""
        module = importlib.import_module("hubspot.crm." + ".".join(_AREAS[area]))
        return getattr(module, name)(**kwargs)

    def call(self, area: str, name: str, method: str, *args: Any, search: bool = False, **kwargs: Any) -> Any:
        """Run api(area, name).method(*args, **kwargs), paced; raises only HubSpotError."""
        fn: Callable[..., Any] = getattr(self.api(area, name), method)
        if search:
            self._search.wait()
        self._burst.wait()
        self.calls += 1
        kwargs.setdefault("_request_timeout", self.timeout_s)
        try:
            return fn(*args, **kwargs)
        except API_EXCEPTIONS as exc:
            raise self.translate(exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise HubSpotUnavailable(f"HubSpot could not be reached at {self.base_url}: "
                                     f"{self._scrub(type(exc).__name__)}.") from None

    def _scrub(self, text: str) -> str:
        token = self._client.access_token
        return text.replace(token, "[token]") if token else text

    def translate(self, exc: Any) -> HubSpotError:
        """HubSpot's error (status + JSON body) as the matching domain error."""
        status = int(getattr(exc, "status", 0) or 0)
        body = _json_body(getattr(exc, "body", None))
        raw = self._scrub(str(body.get("message") or getattr(exc, "reason", "") or "no message"))
        category = body.get("category")
        kw: dict[str, Any] = {"status": status, "category": category, "request_id": body.get("correlationId")}
        if status == 401:
            return HubSpotAuthFailed(f"HubSpot rejected the access token ({category or 'unauthorized'}): {raw}", **kw)
        if status == 403:
            scopes = _scopes(body)
            if category == "MISSING_SCOPES" or scopes:
                return HubSpotMissingScopes(
                    f"The HubSpot private app lacks a scope for this call: {', '.join(scopes) or raw}", scopes=scopes, **kw)
            return HubSpotError(f"HubSpot refused the call (403): {raw}", **kw)
        if status == 404:
            return HubSpotNotFound(f"HubSpot has no such record (it may have been archived): {raw}", **kw)
        if status == 409:
            match = re.search(r"Existing ID:\s*(\d+)", raw)
            return HubSpotConflict(f"HubSpot reports a conflict: {raw}",
                                   existing_id=match.group(1) if match else None, **kw)
        if status == 429:
            if body.get("policyName") == "DAILY":
                return HubSpotDailyLimit(f"HubSpot's daily API limit is reached: {raw}", **kw)
            return HubSpotRateLimited(f"HubSpot is rate-limiting Scribe ({body.get('policyName') or 'burst'}): {raw}", **kw)
        if status == 400:
            unknown = _unknown_properties(body)
            if unknown:
                return HubSpotUnknownProperty(f"HubSpot has no property {', '.join(unknown)}.", properties=unknown, **kw)
            return HubSpotInvalidValue(f"HubSpot refused the request: {raw}", **kw)
        if status == 0 or status >= 500:
            return HubSpotUnavailable(f"HubSpot failed to answer ({status or 'no response'}): {raw}", **kw)
        return HubSpotError(f"HubSpot refused the call ({status}): {raw}", **kw)


def _json_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {"message": str(body)[:300]}
    return value if isinstance(value, dict) else {}


def _scopes(body: dict[str, Any]) -> list[str]:
    found: list[str] = []
    contexts = [body.get("context") or {}] + [e.get("context") or {} for e in body.get("errors") or []]
    for context in contexts:
        for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
            found += [s for s in context.get(key) or [] if s not in found]
    return found


def _unknown_properties(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for error in body.get("errors") or []:
        if error.get("code") == "PROPERTY_DOESNT_EXIST":
            names += (error.get("context") or {}).get("propertyName") or []
    if "PROPERTY_DOESNT_EXIST" in str(body.get("message", "")):
        names += re.findall(r'"name"\s*:\s*"([^"]+)"', str(body["message"]).replace('\\"', '"'))
    return list(dict.fromkeys(names))


def connect(access_token: str, base_url: str = DEFAULT_BASE_URL, *, retries: int = 6,
            burst_per_10s: int | None = BURST_PER_10S, search_per_s: int | None = SEARCH_PER_S,
            clock: Clock | None = None, timeout_s: float = 30.0) -> HubSpot:
    """A HubSpot client for this token and base URL (HUBSPOT_ACCESS_TOKEN / HUBSPOT_BASE_URL).

    `burst_per_10s` / `search_per_s` pace calls under the portal's limits (None: no pacing; the
    429 backoff still applies); `clock` sleeps for both (a virtual clock in tests)."""
    if not access_token or not access_token.strip():
        raise HubSpotAuthFailed("No HubSpot access token is set.")
    clock = clock or RealClock()
    client = hubspot.Client.create(
        access_token=access_token.strip(), host=base_url.rstrip("/"),
        retry=HubSpotRetry.for_hubspot(retries, clock),
    )
    return HubSpot(client, base_url.rstrip("/"), burst_per_10s=burst_per_10s, search_per_s=search_per_s,
                   clock=clock, timeout_s=timeout_s)
