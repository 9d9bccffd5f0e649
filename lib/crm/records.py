"""The CRM's vocabulary: deal stages, field names, and the rows a person accepted for saving."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class DealStage(StrEnum):
    """The pipeline's stages, in order."""

    lead = "lead"
    qualified = "qualified"
    demo = "demo"
    proposal = "proposal"
    negotiation = "negotiation"
    closed_won = "closed_won"
    closed_lost = "closed_lost"


STAGES = [s.value for s in DealStage]


class FieldName(StrEnum):
    name = "name"
    email = "email"
    company = "company"
    title = "title"
    phone = "phone"
    deal_stage = "deal_stage"
    next_step = "next_step"
    next_step_date = "next_step_date"
    amount = "amount"


CONTACT_FIELDS = ("name", "email", "company", "title", "phone")
DEAL_FIELDS = ("deal_stage", "next_step", "next_step_date", "amount")
ALL_FIELDS = CONTACT_FIELDS + DEAL_FIELDS


class ProposedRow(BaseModel):
    """One accepted row of the review grid: where it goes, which values to write, and their source."""

    contact_id: int | None = Field(None, description="Existing contact; None creates one")
    values: dict[str, Any] = Field(default_factory=dict, description="Field -> new value; absent = unchanged")
    evidence: dict[str, str] = Field(default_factory=dict)
    unlock: bool = Field(False, description="Allow AI values over fields a person edited by hand")
    typed: dict[str, Any] = Field(default_factory=dict,
                                  description="Field -> the AI's proposal, where the value saved is one the rep typed")
    seen: dict[str, Any] = Field(default_factory=dict,
                                 description="Field -> the CRM value the rep saw; saved only if still current")
    confidence: float | None = None
    note: str | None = Field(None, description="The note the row came from; logged as an interaction")
    note_date: date | None = None
    call_id: str | None = Field(None, description="The Claude call that proposed the values")
    request_id: str | None = None


class SaveRequest(BaseModel):
    """A review the rep accepted: saved in one transaction, at most once per review_key."""

    review_key: str
    user: str
    rows: list[ProposedRow]
    built_at: datetime | None = Field(None, description="When the review read the CRM's current values (UTC)")


# -- what a CRM store returns: plain values, whatever the store (built-in, HubSpot, Postgres) ----------


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    email: str | None = None
    company: str | None = None
    company_id: int | None = None
    title: str | None = None
    phone: str | None = None
    owner: str | None = None
    archived: bool = False


@dataclass(frozen=True)
class Deal:
    id: int
    name: str
    stage: str
    contact_id: int | None = None
    company_id: int | None = None
    company: str | None = None
    amount: Decimal | None = None
    next_step: str | None = None
    next_step_date: date | None = None
    owner: str | None = None
    archived: bool = False


@dataclass(frozen=True)
class Interaction:
    id: int
    ts: datetime
    kind: str
    summary: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class StageTotal:
    """Deals in one pipeline stage and their summed amount."""

    stage: str
    deals: int
    amount: Decimal


@dataclass(frozen=True)
class Change:
    """One field_history row: a field of a record changed, by whom, on what evidence, in which change set."""

    id: int
    change_set_id: str
    ts: datetime
    entity: str
    entity_id: int
    field: str
    old_value: str | None
    new_value: str | None
    actor: str
    approved_by: str | None = None
    call_id: str | None = None
    request_id: str | None = None
    evidence: str | None = None
    reverts_history_id: int | None = None


@dataclass(frozen=True)
class TimelineEntry:
    """A contact's timeline: a field change (`what` = "change") or an interaction, newest first."""

    ts: datetime
    what: str
    entity: str
    actor: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    approved_by: str | None = None
    evidence: str | None = None
    change_set_id: str | None = None
    history_id: int | None = None
    call_id: str | None = None
    kind: str | None = None
    summary: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Conflict:
    """A field the save left alone: the CRM's value changed after the rep saw it. The rep chooses."""

    contact_id: int
    field: str
    seen: str | None
    current: str | None
    proposed: str | None


@dataclass
class SaveResult:
    """What a save, an import, an undo or a revert did."""

    change_set_id: str
    already_saved: bool = False
    changes: int = 0
    created_contacts: list[int] = dataclass_field(default_factory=list)
    updated_contacts: list[int] = dataclass_field(default_factory=list)
    skipped: list[str] = dataclass_field(default_factory=list)
    notices: list[str] = dataclass_field(default_factory=list)
    conflicts: list[Conflict] = dataclass_field(default_factory=list)
