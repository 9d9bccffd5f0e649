"""Pydantic models of what Claude returns for a note (the structured-output schema of extraction)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator

from lib.crm.records import DealStage, FieldName


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
