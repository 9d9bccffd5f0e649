"""Is HubSpot still what the rep reviewed? Current values with their timestamps, and the conflicts.

A review records, per record and property, the value it showed as "current" and when it was built.
Before writing, the caller reads the current values (`current_values`, propertiesWithHistory: the
latest entry carries the time it was set) and `conflicts` lists every property whose value in
HubSpot is no longer the one the rep saw: those are not written; the rep sees both and chooses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from lib.crm.hubspot.client import HubSpot
from lib.crm.hubspot.mirror import utc
from lib.crm.hubspot.models import Conflict, PropertyValue

HISTORY_BATCH = 50  # HubSpot's batch read takes at most 50 ids when property history is asked for


def current_values(hs: HubSpot, kind: str, ids: Iterable[str],
                   properties: Iterable[str]) -> dict[str, dict[str, PropertyValue]]:
    """{id: {property: PropertyValue(value, timestamp, source)}} for live records; missing ids are
    left out (archived or unknown: the caller treats them as a conflict of their own)."""
    ids = list(dict.fromkeys(str(i) for i in ids))
    props = list(dict.fromkeys(properties))
    out: dict[str, dict[str, PropertyValue]] = {}
    for start in range(0, len(ids), HISTORY_BATCH):
        chunk = ids[start:start + HISTORY_BATCH]
        body = hs.model(kind, "BatchReadInputSimplePublicObjectId", inputs=[{"id": i} for i in chunk],
                        properties=props, properties_with_history=props)
        response = hs.call(kind, "batch_api", "read", body)
        for item in response.results:
            history = item.properties_with_history or {}
            values: dict[str, PropertyValue] = {}
            for prop in props:
                entries = history.get(prop) or []
                latest = max(entries, key=lambda e: e.timestamp) if entries else None
                value = (item.properties or {}).get(prop)
                values[prop] = PropertyValue(value=value if value != "" else None,
                                             timestamp=utc(latest.timestamp) if latest else None,
                                             source=latest.source_type if latest else None)
            out[str(item.id)] = values
    return out


def conflicts(kind: str, reviewed: Mapping[str, Mapping[str, str | None]],
              current: Mapping[str, Mapping[str, PropertyValue]], built_at: datetime | None = None) -> list[Conflict]:
    """Properties whose HubSpot value differs from what the review showed ({id: {prop: value}}).

    A record missing from `current` (archived since) is a conflict on every property. `built_at`
    is only used to say whether the change came after the review was built (`changed_at`)."""
    found: list[Conflict] = []
    for record_id, props in reviewed.items():
        now = current.get(str(record_id))
        for prop, seen in props.items():
            value = now.get(prop) if now is not None else None
            current_value = value.value if value else None
            if now is not None and _same(seen, current_value):
                continue
            found.append(Conflict(kind=kind, id=str(record_id), property=prop, review_value=seen,
                                  current_value=current_value, changed_at=value.timestamp if value else None))
    return found


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()
