"""Scribe's built-in fields <-> HubSpot's standard properties, both ways.

    name            firstname + lastname          company        the contact's company association
    email, phone    email, phone                  title          jobtitle
    deal_stage      dealstage (through the pipeline's stage mapping)
    amount          amount                        next_step      hs_next_step
    next_step_date  no standard property: the field catalogue names a custom one (`extra`)

Values go to HubSpot as strings (None clears); values come back as HubSpot sends them (strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.crm.hubspot.errors import HubSpotPipelineMissing
from lib.crm.hubspot.models import Record

CONTACT_PROPERTIES = {"email": "email", "phone": "phone", "title": "jobtitle"}
DEAL_PROPERTIES = {"amount": "amount", "next_step": "hs_next_step"}


def split_name(name: str | None) -> tuple[str, str]:
    """'Ann Lee' -> ('Ann', 'Lee'); 'Lee, Ann' -> ('Ann', 'Lee'); 'Cher' -> ('Cher', '')."""
    text = " ".join((name or "").split())
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    first, _, last = text.partition(" ")
    return first, last


def contact_properties(values: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """HubSpot contact properties for Scribe's contact values ({field: value}); `company` is not a
    property (see writes.create_contact / associate); `extra` maps catalogue fields to properties."""
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field == "name":
            out["firstname"], out["lastname"] = split_name(value)
        elif field in CONTACT_PROPERTIES:
            out[CONTACT_PROPERTIES[field]] = value
        elif extra and field in extra:
            out[extra[field]] = value
    return out


def contact_values(record: Record, company_names: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Scribe's contact fields from a mirrored HubSpot contact (company: its first associated one)."""
    name = " ".join(p for p in (record.get("firstname"), record.get("lastname")) if p) or None
    company = None
    if record.company_ids and company_names:
        company = company_names.get(record.company_ids[0])
    return {"name": name, "email": record.get("email"), "phone": record.get("phone"),
            "title": record.get("jobtitle"), "company": company or record.get("company")}


def deal_properties(values: Mapping[str, Any], stage_map: Mapping[str, str | None],
                    extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """HubSpot deal properties for Scribe's deal values; a stage with no mapped HubSpot stage is
    refused (HubSpotPipelineMissing) before anything is written."""
    out: dict[str, Any] = {}
    for field, value in values.items():
        if field == "deal_stage":
            stage = stage_map.get(str(value)) if value is not None else None
            if value is not None and not stage:
                raise HubSpotPipelineMissing(f"Scribe's stage {value!r} is not mapped to a stage of the HubSpot pipeline.")
            out["dealstage"] = stage
        elif field in DEAL_PROPERTIES:
            out[DEAL_PROPERTIES[field]] = value
        elif extra and field in extra:
            out[extra[field]] = value
    return out


def deal_values(record: Record, stage_map: Mapping[str, str | None]) -> dict[str, str | None]:
    """Scribe's deal fields from a mirrored HubSpot deal (stage: Scribe's stage mapped to it, else
    HubSpot's stage id as it is, so nothing is hidden)."""
    reverse = {hs_stage: scribe for scribe, hs_stage in stage_map.items() if hs_stage}
    stage = record.get("dealstage")
    return {"deal_stage": reverse.get(stage, stage) if stage else None, "amount": record.get("amount"),
            "next_step": record.get("hs_next_step")}
