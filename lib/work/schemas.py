"""Pydantic models of what Claude returns for a note (the structured-output schema of extraction)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator

from lib.crm.fields import FieldCatalogue
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


# -- the team's own fields (lib.crm.fields): the same models, widened by the catalogue ----------------

_PY_TYPES = {"text": str, "number": float, "date": date, "boolean": bool}


@lru_cache(maxsize=16)
def extraction_model(catalogue: FieldCatalogue) -> type[BaseModel]:
    """The structured-output model for the built-in fields plus the catalogue's (Extraction when empty).

    Built with pydantic's create_model: every catalogue field is optional (None when the note does not
    say), with the catalogue's description for Claude; an enumeration is a closed set of strings; the
    evidence's `field` names the catalogue's keys too. The SDK's transform keeps additionalProperties
    false on every object."""
    if not catalogue:
        return Extraction
    names = [f.value for f in FieldName] + catalogue.keys
    field_enum = StrEnum("CatalogueFieldName", {n: n for n in names})
    evidence = create_model("Evidence", __base__=Evidence, __doc__=Evidence.__doc__,
                            field=(field_enum, ...))
    extra: dict[str, Any] = {}
    for f in catalogue.fields:
        kind: Any = Literal[tuple(f.options)] if f.type == "enumeration" else _PY_TYPES[f.type]
        description = f"{f.label}: {f.description}".strip(": ") + " (only with clear evidence in the note)"
        extra[f.key] = (kind | None, Field(None, description=description))
    person = create_model("ExtractedPerson", __base__=ExtractedPerson, __doc__=ExtractedPerson.__doc__,
                          evidence=(list[evidence], Field(default_factory=list, description="One quote per field filled")),
                          **extra)
    return create_model("Extraction", __doc__=Extraction.__doc__, people=(list[person], ...))
