"""What the portal defines: deal pipelines and their stages, and the objects' properties.

The field catalogue offers the portal's properties to pick from; the stage mapping maps Scribe's
stages to a pipeline's stage ids (shown and editable; `suggest_stage_mapping` fills a first guess).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lib.crm.hubspot.client import HubSpot
from lib.crm.hubspot.errors import HubSpotNotFound, HubSpotPipelineMissing, HubSpotUnknownProperty
from lib.crm.hubspot.models import Pipeline, PropertyDef, Stage

# HubSpot's default sales pipeline stage ids, as every new portal has them.
DEFAULT_STAGE_GUESS = {
    "lead": "appointmentscheduled", "qualified": "qualifiedtobuy", "demo": "presentationscheduled",
    "proposal": "decisionmakerboughtin", "negotiation": "contractsent", "closed_won": "closedwon",
    "closed_lost": "closedlost",
}


def pipelines(hs: HubSpot, object_type: str = "deals") -> list[Pipeline]:
    """The portal's pipelines for `object_type`, stages in display order."""
    response = hs.call("pipelines", "pipelines_api", "get_all", object_type)
    return sorted((_pipeline(p) for p in response.results), key=lambda p: (p.display_order, p.label))


def pipeline(hs: HubSpot, pipeline_id: str, object_type: str = "deals") -> Pipeline:
    """One pipeline; HubSpotPipelineMissing (saying which ones exist) when the portal lacks it."""
    try:
        return _pipeline(hs.call("pipelines", "pipelines_api", "get_by_id", object_type, pipeline_id))
    except HubSpotNotFound:
        known = ", ".join(f"{p.id} ({p.label})" for p in pipelines(hs, object_type)) or "none"
        raise HubSpotPipelineMissing(
            f"The HubSpot portal has no {object_type} pipeline {pipeline_id!r}; it has: {known}.") from None


def suggest_stage_mapping(pipe: Pipeline, scribe_stages: Iterable[str]) -> dict[str, str | None]:
    """A first guess from Scribe's stages to the pipeline's stage ids: HubSpot's default ids, else a
    stage whose label matches; None where nothing fits (the rep picks)."""
    by_label = {_norm(s.label): s.id for s in pipe.stages}
    out: dict[str, str | None] = {}
    for stage in scribe_stages:
        guess = DEFAULT_STAGE_GUESS.get(stage)
        if guess and pipe.stage(guess):
            out[stage] = guess
        else:
            out[stage] = by_label.get(_norm(stage)) or next(
                (sid for label, sid in by_label.items() if _norm(stage) in label), None)
    return out


def properties(hs: HubSpot, object_type: str) -> list[PropertyDef]:
    """The portal's properties of `object_type` (contacts, deals, ...), archived ones left out."""
    response = hs.call("properties", "core_api", "get_all", object_type, archived=False)
    return [_property(object_type, p) for p in response.results]


def check_writable(hs: HubSpot, object_type: str, names: Iterable[str],
                   known: list[PropertyDef] | None = None) -> None:
    """Before a save writes anything: every property it will set exists and is writable, else
    HubSpotUnknownProperty naming all of them (`known`: a catalogue already read, to save a call)."""
    wanted = list(dict.fromkeys(names))
    defs = {p.name: p for p in (known if known is not None else properties(hs, object_type))}
    missing = [n for n in wanted if n not in defs]
    read_only = [n for n in wanted if n in defs and (defs[n].read_only or defs[n].calculated)]
    if missing:
        raise HubSpotUnknownProperty(f"HubSpot has no {object_type} property {', '.join(missing)}.",
                                     properties=missing, status=400, category="PROPERTY_DOESNT_EXIST")
    if read_only:
        raise HubSpotUnknownProperty(
            f"HubSpot's {object_type} property {', '.join(read_only)} is read-only.", properties=read_only,
            hint="Pick a writable property for this field in the field catalogue.", status=400,
            category="READ_ONLY_VALUE")


def _pipeline(p: Any) -> Pipeline:
    stages = tuple(sorted((Stage(id=s.id, label=s.label, display_order=s.display_order, metadata=dict(s.metadata or {}))
                           for s in p.stages if not s.archived), key=lambda s: s.display_order))
    return Pipeline(id=p.id, label=p.label, display_order=p.display_order, stages=stages)


def _property(object_type: str, p: Any) -> PropertyDef:
    meta = p.modification_metadata
    return PropertyDef(
        object_type=object_type, name=p.name, label=p.label, type=p.type, field_type=p.field_type,
        description=p.description or "", group=p.group_name or "",
        options=tuple((o.value, o.label) for o in (p.options or []) if not o.hidden),
        read_only=bool(meta and meta.read_only_value), hubspot_defined=bool(p.hubspot_defined),
        calculated=bool(p.calculated))


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())
