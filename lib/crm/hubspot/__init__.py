"""HubSpot as the system of record, through the official `hubspot-api-client` (no HTTP by hand).

    client      connect(token, base_url) -> HubSpot: paced calls, the client's retries, our errors
    mirror      read_all / read_changed / read_records / sync: plain Records for the local mirror
    writes      update_records, create_contact (+ company), associate, update_deal_stage, create_note,
                archive (undo)
    catalogue   pipelines / pipeline / suggest_stage_mapping, properties, check_writable
    conflicts   current_values (with timestamps) and conflicts against what a review showed
    fields      Scribe's built-in fields <-> HubSpot's standard properties (both ways)
    models      the plain dataclasses all of the above return
    errors      HubSpotError and its kinds (subclasses of lib.core.errors.ScribeError)

Imports nothing from lib/ but lib.core.errors, so it can move under lib/crm/ unchanged.
"""

from lib.crm.hubspot.client import DEFAULT_BASE_URL, HubSpot, HubSpotRetry, RealClock, connect
from lib.crm.hubspot.models import (
    Conflict,
    CreateResult,
    Pipeline,
    PropertyDef,
    PropertyValue,
    Record,
    Stage,
    SyncCursor,
    SyncResult,
)

__all__ = ["DEFAULT_BASE_URL", "Conflict", "CreateResult", "HubSpot", "HubSpotRetry", "Pipeline",
           "PropertyDef", "PropertyValue", "RealClock", "Record", "Stage", "SyncCursor", "SyncResult",
           "connect"]
