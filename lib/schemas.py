"""Pydantic models of what Claude returns (extraction) and of what gets saved (change rows)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator


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


class Evidence(BaseModel):
    """The verbatim words of the note a field was read from."""

    field: FieldName
    quote: str = Field(description="Verbatim quote from the note, a few words to one sentence")


class ExtractedPerson(BaseModel):
    """One person the note mentions, with what the note says about them and their deal."""

    name: str = Field(description="Full name as written in the note")
    email: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None
    deal_stage: DealStage | None = Field(None, description="Only with clear evidence in the note")
    next_step: str | None = Field(None, description="The next concrete action, a few words")
    next_step_date: date | None = Field(None, description="ISO date; relative dates resolved against the note's date")
    amount: float | None = Field(None, description="Deal value as a number in the note's currency")
    confidence: float = Field(description="0 to 1: how plainly the note states these facts")
    evidence: list[Evidence] = Field(default_factory=list, description="One quote per field filled")

    @field_validator("confidence")
    @classmethod
    def _confidence_in_range(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("confidence must be between 0 and 1")
        return value

    def quote_for(self, field: str) -> str | None:
        return next((e.quote for e in self.evidence if e.field.value == field), None)


class Extraction(BaseModel):
    """Everyone a note mentions. Sent to Claude as the structured-output schema."""

    people: list[ExtractedPerson]


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
