"""Writes a rep accepted: property updates, contact (and company) creation, deal stage, notes, undo.

Each function is safe to repeat: creates look up first (contacts by email through `idProperty`,
which is read-after-write consistent, unlike search), a 409 on a duplicate email yields the
existing id, associations are PUTs (idempotent), and archiving what is already gone is a no-op.
Callers keep the ids a change set created (`CreateResult`) so a retry passes them back in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from lib.crm.hubspot.client import HubSpot
from lib.crm.hubspot.errors import HubSpotConflict, HubSpotNotFound, HubSpotPipelineMissing
from lib.crm.hubspot.mirror import inline_associations, to_record
from lib.crm.hubspot.models import ASSOCIATION_TYPE_IDS, DEFAULT_PROPERTIES, CreateResult, Pipeline, Record

BATCH = 100  # the batch endpoints' maximum inputs


def update_records(hs: HubSpot, kind: str, updates: Mapping[str, Mapping[str, Any]]) -> list[Record]:
    """Set properties on existing records: {id: {property: value}}, 100 per batch request.

    None clears a property (HubSpot's empty string). A batch either applies or raises: HubSpot
    validates the whole batch first (unknown property, invalid option -> nothing written)."""
    out: list[Record] = []
    items = [(str(i), {k: _wire(v) for k, v in props.items()}) for i, props in updates.items() if props]
    for start in range(0, len(items), BATCH):
        chunk = items[start:start + BATCH]
        body = hs.model(kind, "BatchInputSimplePublicObjectBatchInput",
                        inputs=[{"id": i, "properties": p} for i, p in chunk])
        response = hs.call(kind, "batch_api", "update", body)
        errors = getattr(response, "errors", None) or []
        if errors:
            missing = [i for e in errors for i in (e.context or {}).get("ids", [])]
            raise HubSpotNotFound(f"HubSpot could not update {kind} {', '.join(missing) or '(some ids)'}: "
                                  f"{errors[0].message}", status=207, category=errors[0].category)
        out += [to_record(kind, r, {}) for r in response.results]
    return out


def update_contacts(hs: HubSpot, updates: Mapping[str, Mapping[str, Any]]) -> list[Record]:
    """update_records for contacts."""
    return update_records(hs, "contacts", updates)


def find_contact_by_email(hs: HubSpot, email: str) -> Record | None:
    """The live contact with this email, or None (a GET by idProperty=email: consistent at once)."""
    try:
        item = hs.call("contacts", "basic_api", "get_by_id", email.strip().lower(), id_property="email",
                       properties=list(DEFAULT_PROPERTIES["contacts"]), associations=["companies"])
    except HubSpotNotFound:
        return None
    return to_record("contacts", item, inline_associations(item))


def find_company(hs: HubSpot, *, name: str | None = None, domain: str | None = None) -> Record | None:
    """A company by domain (preferred) or exact name, through search; None when there is none."""
    for prop, value in (("domain", domain), ("name", name)):
        if not value:
            continue
        request = hs.model("companies", "PublicObjectSearchRequest", filter_groups=[{
            "filters": [{"propertyName": prop, "operator": "EQ", "value": value.strip()}]}],
            properties=list(DEFAULT_PROPERTIES["companies"]), limit=1, after="0",
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
        page = hs.call("companies", "search_api", "do_search", request, search=True)
        if page.results:
            return to_record("companies", page.results[0], {})
    return None


def find_or_create_company(hs: HubSpot, name: str, domain: str | None = None,
                           known_id: str | None = None) -> CreateResult:
    """The company's id: `known_id` (what an earlier try of this change set created), else found by
    domain or name, else created."""
    if known_id:
        return CreateResult(id=known_id, created=False)
    found = find_company(hs, name=name, domain=domain)
    if found:
        return CreateResult(id=found.id, created=False)
    props = {"name": name} | ({"domain": domain} if domain else {})
    created = hs.call("companies", "basic_api", "create",
                      hs.model("companies", "SimplePublicObjectInputForCreate", properties=props, associations=[]))
    return CreateResult(id=str(created.id), created=True)


def create_contact(hs: HubSpot, properties: Mapping[str, Any], *, company_name: str | None = None,
                   company_domain: str | None = None, known_id: str | None = None,
                   known_company_id: str | None = None) -> CreateResult:
    """Create a contact (or find the one with its email) and associate it to its company, creating
    the company when needed. `known_*` are ids an earlier try of the same change set got back.

    An existing contact's properties are left as they are (its changes go through update_records,
    reviewed like any other); `created` says whether this call made it (undo archives only those)."""
    company = (find_or_create_company(hs, company_name, company_domain, known_company_id)
               if company_name or known_company_id else None)
    email = str(properties.get("email") or "").strip()
    existing_id = known_id
    if not existing_id and email:
        found = find_contact_by_email(hs, email)
        existing_id = found.id if found else None
    created = False
    if not existing_id:
        associations = ([_association("contacts", "companies", company.id)] if company else [])
        body = hs.model("contacts", "SimplePublicObjectInputForCreate",
                        properties={k: _wire(v) for k, v in properties.items() if v is not None},
                        associations=associations)
        try:
            existing_id, created = str(hs.call("contacts", "basic_api", "create", body).id), True
        except HubSpotConflict as exc:
            if not exc.existing_id:
                raise
            existing_id = exc.existing_id
    if company and not created:
        associate(hs, "contacts", existing_id, "companies", company.id)
    return CreateResult(id=existing_id, created=created, company_id=company.id if company else None,
                        company_created=bool(company and company.created))


def associate(hs: HubSpot, from_kind: str, from_id: str, to_kind: str, to_id: str) -> None:
    """The default (unlabeled) association between two records (associations v4; idempotent)."""
    hs.call("associations", "basic_api", "create_default", from_kind, str(from_id), to_kind, str(to_id))


def update_deal_stage(hs: HubSpot, deal_id: str, stage_id: str, pipeline: Pipeline) -> Record:
    """Move a deal to `stage_id` of `pipeline` (read it with catalogue.pipeline); refuses a stage the
    pipeline does not have, before writing anything."""
    if pipeline.stage(stage_id) is None:
        raise HubSpotPipelineMissing(
            f"The HubSpot pipeline {pipeline.label!r} has no stage {stage_id!r}; its stages are "
            f"{', '.join(s.id for s in pipeline.stages)}.")
    return update_records(hs, "deals", {str(deal_id): {"dealstage": stage_id, "pipeline": pipeline.id}})[0]


def create_note(hs: HubSpot, body: str, timestamp: datetime, *, contact_ids: Iterable[str] = (),
                company_ids: Iterable[str] = (), deal_ids: Iterable[str] = (), known_id: str | None = None) -> str:
    """A note engagement (hs_note_body, hs_timestamp) associated to the given records in the same
    request (associations v4 type ids); returns its id. `known_id`: the note an earlier try of this
    change set created; if it is still there, it is returned and nothing is created."""
    if known_id:
        try:
            return str(hs.call("notes", "basic_api", "get_by_id", str(known_id), properties=["hs_timestamp"]).id)
        except HubSpotNotFound:
            pass
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    associations = ([_association("notes", "contacts", i) for i in contact_ids]
                    + [_association("notes", "companies", i) for i in company_ids]
                    + [_association("notes", "deals", i) for i in deal_ids])
    note = hs.call("notes", "basic_api", "create", hs.model(
        "notes", "SimplePublicObjectInputForCreate",
        properties={"hs_note_body": body, "hs_timestamp": timestamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")},
        associations=associations))
    return str(note.id)


def archive(hs: HubSpot, kind: str, record_id: str) -> bool:
    """Archive a record a change set created (undo). False when it was already gone."""
    try:
        hs.call(kind, "basic_api", "archive", str(record_id))
    except HubSpotNotFound:
        return False
    return True


def _association(from_kind: str, to_kind: str, to_id: str) -> dict[str, Any]:
    return {"to": {"id": str(to_id)}, "types": [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": ASSOCIATION_TYPE_IDS[(from_kind, to_kind)]}]}


def _wire(value: Any) -> str:
    """A value as HubSpot's properties take it: a string; None clears the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)

