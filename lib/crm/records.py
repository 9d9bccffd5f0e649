"""The CRM's vocabulary: deal stages, field names, and the rows a person accepted for saving."""

from __future__ import annotations

from datetime import date
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
