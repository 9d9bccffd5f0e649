"""Plain values that come out of lib.crm.hubspot: no client model ever leaves the package."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

KINDS = ("companies", "contacts", "deals")

# The property holding "last modified" differs by object (contacts predate the hs_ prefix).
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate",
                     "deals": "hs_lastmodifieddate"}

# What the mirror reads by default: what matching, review and the built-in store's columns need.
DEFAULT_PROPERTIES = {
    "contacts": ("email", "firstname", "lastname", "phone", "jobtitle", "company", "hubspot_owner_id",
                 "lastmodifieddate"),
    "companies": ("name", "domain", "city", "industry", "hs_lastmodifieddate"),
    "deals": ("dealname", "dealstage", "pipeline", "amount", "closedate", "hs_next_step",
              "hubspot_owner_id", "hs_lastmodifieddate"),
}

# Which associations the mirror keeps, per object.
ASSOCIATED = {"contacts": ("companies",), "companies": (), "deals": ("contacts", "companies")}

# HubSpot-defined association type ids (associations v4), unlabeled ("default") direction.
ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("notes", "contacts"): 202, ("notes", "companies"): 190, ("notes", "deals"): 214,
}


@dataclass(frozen=True)
class Record:
    """One HubSpot object: its id, properties (strings, as HubSpot sends them) and associations."""

    kind: str                                   # contacts | companies | deals | notes
    id: str
    properties: dict[str, str | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    associations: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> ids

    def get(self, name: str) -> str | None:
        return self.properties.get(name)

    @property
    def company_ids(self) -> tuple[str, ...]:
        return self.associations.get("companies", ())

    @property
    def contact_ids(self) -> tuple[str, ...]:
        return self.associations.get("contacts", ())


@dataclass
class SyncCursor:
    """Where the last sync got to: per kind, the latest `lastmodifieddate` HubSpot reported."""

    since: dict[str, datetime] = field(default_factory=dict)

    def to_json(self) -> dict[str, str]:
        return {kind: ts.isoformat() for kind, ts in self.since.items()}

    @classmethod
    def from_json(cls, data: dict[str, str] | None) -> SyncCursor:
        return cls({kind: datetime.fromisoformat(ts) for kind, ts in (data or {}).items()})


@dataclass
class SyncResult:
    """What one sync read: the records by kind (upsert them into the mirror) and the next cursor."""

    records: dict[str, list[Record]]
    cursor: SyncCursor
    full: bool
    calls: int = 0

    def count(self) -> int:
        return sum(len(v) for v in self.records.values())


@dataclass(frozen=True)
class PropertyValue:
    """A property's current value and when it got it (from propertiesWithHistory)."""

    value: str | None
    timestamp: datetime | None
    source: str | None = None


@dataclass(frozen=True)
class Conflict:
    """A property HubSpot changed after the review was built: both values, for the rep to choose."""

    kind: str
    id: str
    property: str
    review_value: str | None
    current_value: str | None
    changed_at: datetime | None


@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    display_order: int
    metadata: dict[str, str] = field(default_factory=dict)  # e.g. isClosed, probability

    @property
    def is_closed(self) -> bool:
        return str(self.metadata.get("isClosed", "false")).lower() == "true"


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    display_order: int
    stages: tuple[Stage, ...]

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)


@dataclass(frozen=True)
class PropertyDef:
    """One field of the portal's catalogue (Properties API), for the team's own fields."""

    object_type: str
    name: str
    label: str
    type: str                     # string | number | date | datetime | enumeration | bool
    field_type: str               # text | textarea | number | date | select | radio | booleancheckbox ...
    description: str = ""
    group: str = ""
    options: tuple[tuple[str, str], ...] = ()  # (value, label)
    read_only: bool = False
    hubspot_defined: bool = False
    calculated: bool = False


@dataclass
class CreateResult:
    """What a create-or-find did: the ids, and whether this call created them (undo archives those)."""

    id: str
    created: bool
    company_id: str | None = None
    company_created: bool = False
