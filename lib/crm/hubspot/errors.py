"""HubSpot's failures as Scribe's domain errors; `lib.crm.hubspot.client` raises only these.

    ScribeError (lib.core.errors)
    └── HubSpotError                 a call to HubSpot failed; `.status` the HTTP status (0: no answer)
        ├── HubSpotAuthFailed            401: the access token is wrong, expired or revoked
        ├── HubSpotMissingScopes         403 MISSING_SCOPES: `.scopes` names what the private app lacks
        ├── HubSpotRateLimited           429 still, after the client's backoff (the 10-second burst)
        │   └── HubSpotDailyLimit        429 DAILY: the portal's daily request budget is spent
        ├── HubSpotNotFound              404: the record is unknown or archived
        ├── HubSpotUnknownProperty       400 PROPERTY_DOESNT_EXIST: `.properties` names them
        ├── HubSpotInvalidValue          400 other validation (an option that is not allowed, ...)
        ├── HubSpotPipelineMissing       the portal has no pipeline / stage Scribe was told to use
        ├── HubSpotConflict              409 that Scribe could not resolve by itself
        └── HubSpotUnavailable           network error, timeout or 5xx

Messages never contain the access token: they are built from HubSpot's JSON error body only
(`message`, `category`, `correlationId`), never from request headers.
"""

from __future__ import annotations

from lib.core.errors import ScribeError


class HubSpotError(ScribeError):
    """A call to HubSpot failed. `.status` is the HTTP status, `.category` HubSpot's error category."""

    default_hint = "Nothing was written for this step; check HubSpot's status and try again."

    def __init__(self, message: str, hint: str | None = None, *, status: int = 0,
                 category: str | None = None, request_id: str | None = None):
        super().__init__(message, hint, request_id=request_id)
        self.status = status
        self.category = category


class HubSpotAuthFailed(HubSpotError):
    default_hint = (
        "Check HUBSPOT_ACCESS_TOKEN (a private app's access token, Settings > Integrations > "
        "Private Apps), or remove it to use the built-in CRM."
    )


class HubSpotMissingScopes(HubSpotError):
    def __init__(self, message: str, hint: str | None = None, *, scopes: list[str] | None = None, **kw):
        self.scopes = list(scopes or [])
        if hint is None:
            named = ", ".join(self.scopes) or "the scope HubSpot names above"
            hint = f"Give the private app the scope(s) {named} in HubSpot (Private Apps > Scopes), then retry."
        super().__init__(message, hint, **kw)


class HubSpotRateLimited(HubSpotError):
    default_hint = "HubSpot's 10-second burst limit was hit repeatedly; wait a few seconds and retry."


class HubSpotDailyLimit(HubSpotRateLimited):
    default_hint = (
        "The HubSpot portal's daily API limit is used up (it resets at midnight in the portal's time "
        "zone). Nothing was lost: what was not written is still waiting in Scribe; retry tomorrow."
    )


class HubSpotNotFound(HubSpotError):
    default_hint = "The record is unknown or was archived in HubSpot; sync again to refresh the mirror."


class HubSpotUnknownProperty(HubSpotError):
    def __init__(self, message: str, hint: str | None = None, *, properties: list[str] | None = None, **kw):
        self.properties = list(properties or [])
        if hint is None:
            named = ", ".join(self.properties) or "the property"
            hint = (f"HubSpot has no property {named}: create it in HubSpot (Settings > Properties) or "
                    "fix the field catalogue's target.")
        super().__init__(message, hint, **kw)


class HubSpotInvalidValue(HubSpotError):
    default_hint = "HubSpot refused a value; check the field's type and allowed options in the catalogue."


class HubSpotPipelineMissing(HubSpotError):
    default_hint = (
        "Pick the portal's deal pipeline and map Scribe's stages to its stages in the HubSpot settings."
    )


class HubSpotConflict(HubSpotError):
    """409; `.existing_id` is the record HubSpot's message names (a contact with that email)."""

    default_hint = "HubSpot already holds a conflicting record; sync and review again."

    def __init__(self, message: str, hint: str | None = None, *, existing_id: str | None = None, **kw):
        super().__init__(message, hint, **kw)
        self.existing_id = existing_id


class HubSpotUnavailable(HubSpotError):
    default_hint = "Check the network connection or HUBSPOT_BASE_URL, then retry."
