"""The test server's responses checked against HubSpot's public OpenAPI specifications.

tests/hubspot/specs/ holds trimmed copies (only the operations the server serves; see trim.py and
each file's `x-scribe-source`: HubSpot/HubSpot-public-api-spec-collection at a pinned commit). A
scenario drives every served operation, successes and errors, through the official client; every
journaled response must validate against its operation's response schema, and every kept
operation must have been answered successfully at least once, so the server cannot drift from
HubSpot's shapes nor serve an endpoint the specs do not describe.

The request bodies lib.crm.hubspot sends are checked too, against each operation's requestBody.

Documented relaxations of the specs, each HubSpot's real behaviour: a requested property that is
not set comes back as null (the spec types property values as string); error bodies carry
`status`, `errorType`, `policyName` and `subCategory` besides the declared fields; a search's
`sorts` items are objects {propertyName, direction}, as HubSpot's CRM search guide writes them
(the spec says strings). Objects are otherwise checked strictly: an undeclared field is an error.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from lib.crm.hubspot import catalogue, conflicts, connect, mirror, writes
from lib.crm.hubspot.errors import HubSpotError
from tests.hubspot.conftest import TOKEN
from tests.hubspot.server import Limits

SPECS = Path(__file__).resolve().parent / "specs"
ERROR_EXTRAS = {"status", "errorType", "policyName", "subCategory"}


def _strict(node, name=None):
    """OpenAPI 3.0 -> JSON Schema: `nullable`, strict objects, the null property values."""
    if isinstance(node, dict):
        node = {k: _strict(v, k) for k, v in node.items()}
        if node.get("nullable") and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if node.get("type") == "object" and "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _load():
    operations = []
    registry = Registry()
    for path in sorted(SPECS.glob("*.json")):
        spec = json.loads(path.read_text(encoding="utf-8"))
        schemas = spec["components"]["schemas"]
        for schema in schemas.values():  # property maps: string values, or null when unset
            props = schema.get("properties", {})
            if props.get("properties", {}).get("additionalProperties", {}).get("type") == "string":
                props["properties"]["additionalProperties"] = {"type": ["string", "null"]}
        if "PublicObjectSearchRequest" in schemas:
            schemas["PublicObjectSearchRequest"]["properties"]["sorts"]["items"] = {
                "type": "object", "required": ["propertyName"], "additionalProperties": False,
                "properties": {"propertyName": {"type": "string"},
                               "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]}}}
        if "Error" in schemas:
            for extra in ERROR_EXTRAS:
                schemas["Error"]["properties"].setdefault(extra, {"type": "string"})
        spec = _strict(spec)
        uri = f"urn:hubspot-spec:{path.stem}"
        registry = registry.with_resource(uri, Resource.from_contents(spec, default_specification=DRAFT7))
        for template, ops in spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, op in ops.items():
                if method != "parameters":
                    operations.append((method.upper(), pattern, template, uri, spec, op))
    return operations, registry


OPERATIONS, REGISTRY = _load()


def _operation(method: str, path: str):
    path = path.replace("/crm/v3/objects/deals", "/crm/v3/objects/0-3")
    matches = [o for o in OPERATIONS if o[0] == method and o[1].match(path)]
    # prefer the most specific template (fewest path parameters)
    return min(matches, key=lambda o: o[2].count("{")) if matches else None


def _generic(template: str) -> str:
    """The four object specs describe one API: compare their operations by shape."""
    template = re.sub(r"^/crm/v3/objects/[^/]+", "/crm/v3/objects/{objectType}", template)
    return re.sub(r"\{(contactId|companyId|dealId|noteId)\}", "{objectId}", template)


def _schema_pointer(op, uri, spec, status):
    responses = op["responses"]
    key = str(status) if str(status) in responses else "default"
    response = responses[key]
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        return response, f"{uri}#/components/schemas/Error"
    content = response.get("content") or {}
    media = content.get("application/json") or content.get("*/*")
    if not media:
        return response, None
    return response, media["schema"].get("$ref", "").replace("#", f"{uri}#", 1) or None


def run_scenario(server, hs):
    """Every operation the server serves, through the official client; errors included."""
    p = server.portal
    p.add_property("contacts", "meddicc_pain", "Identified pain", "string", "textarea")
    acme = p.seed("companies", {"name": "Acme", "domain": "acme.com"})
    ann = p.seed("contacts", {"email": "ann@acme.com", "firstname": "Ann"})
    p.link("contacts", ann, "companies", acme)
    deal = p.seed("deals", {"dealname": "Acme", "dealstage": "qualifiedtobuy", "amount": "100"})
    p.link("deals", deal, "contacts", ann)
    result = mirror.sync(hs)                                          # list pages with associations
    server.clock.advance(3600)
    p.touch("contacts", ann, {"jobtitle": "CTO"})
    mirror.sync(hs, result.cursor)                                    # search + v4 batch read (200, 207)
    mirror.read_records(hs, "contacts", [ann, "999"])                 # batch read 207
    conflicts.current_values(hs, "contacts", [ann], ["jobtitle"])     # propertiesWithHistory
    writes.update_contacts(hs, {ann: {"meddicc_pain": "Manual entry"}})
    created = writes.create_contact(hs, {"email": "bo@beta.io"}, company_name="Beta")
    writes.create_contact(hs, {"email": "bo@beta.io"}, company_name="Acme")   # GET by email, v4 default PUT
    pipe = catalogue.pipeline(hs, "default")
    catalogue.pipelines(hs)
    catalogue.properties(hs, "contacts")
    writes.update_deal_stage(hs, deal, "contractsent", pipe)
    note = writes.create_note(hs, "n", datetime(2026, 1, 2, tzinfo=UTC), contact_ids=[ann], deal_ids=[deal])
    writes.archive(hs, "notes", note)
    writes.archive(hs, "contacts", created.id)                        # DELETE 204, then 404
    writes.archive(hs, "contacts", created.id)
    m = hs.model
    # operations the library does not use today but the server serves
    hs.call("contacts", "basic_api", "update", ann, m("contacts", "SimplePublicObjectInput", properties={"phone": "1"}))
    hs.call("companies", "batch_api", "create", m("companies", "BatchInputSimplePublicObjectBatchInputForCreate",
                                                     inputs=[{"properties": {"name": "Gamma"}, "associations": []}]))
    hs.call("deals", "batch_api", "archive", m("deals", "BatchInputSimplePublicObjectId", inputs=[{"id": "555"}]))
    hs.call("notes", "basic_api", "get_page", limit=5)
    hs.call("associations", "basic_api", "get_page", "contacts", ann, "companies")
    hs.call("associations", "basic_api", "create", "deals", deal, "companies", acme,
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}])
    hs.call("associations", "basic_api", "archive", "deals", deal, "companies", acme)
    hs.call("associations", "batch_api", "create", "deals", "companies", m(
        "associations", "BatchInputPublicAssociationMultiPost", inputs=[{"from": {"id": deal}, "to": {"id": acme}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]))
    hs.call("associations", "batch_api", "create_default", "contacts", "companies", m(
        "associations", "BatchInputPublicDefaultAssociationMultiPost", inputs=[{"from": {"id": ann}, "to": {"id": acme}}]))
    hs.call("properties", "core_api", "get_by_name", "contacts", "email")
    for fail in (lambda: hs.call("contacts", "basic_api", "get_by_id", "31337"),                      # 404
                 lambda: catalogue.pipeline(hs, "nope"),                                              # 404
                 lambda: hs.call("properties", "core_api", "get_by_name", "deals", "nope"),            # 404
                 lambda: writes.update_contacts(hs, {ann: {"nope": "x"}}),                            # 400
                 lambda: hs.call("contacts", "basic_api", "create", m("contacts", "SimplePublicObjectInputForCreate",
                                 properties={"email": "ann@acme.com"}, associations=[])),              # 409
                 lambda: connect("pat-wrong", server.base_url).call("deals", "basic_api", "get_page")):  # 401
        with pytest.raises(HubSpotError):
            fail()


def test_responses_match_hubspots_openapi_specs(make_server):
    server = make_server(journal=True)
    hs = connect(TOKEN, server.base_url, clock=server.clock)
    run_scenario(server, hs)
    # 403 and 429 bodies too
    scoped = make_server(journal=True, granted_scopes=set(), limits=Limits(daily=1))
    for _ in range(2):
        with pytest.raises(HubSpotError):
            list(mirror.read_all(connect(TOKEN, scoped.base_url, clock=scoped.clock), "contacts"))
    scoped.granted_scopes = None
    list(mirror.read_all(connect(TOKEN, scoped.base_url, clock=scoped.clock), "contacts"))
    with pytest.raises(HubSpotError):  # the daily limit
        list(mirror.read_all(connect(TOKEN, scoped.base_url, clock=scoped.clock), "contacts"))

    journal = server.journal + scoped.journal
    statuses = {e["status"] for e in journal}
    assert {200, 201, 204, 207, 400, 401, 403, 404, 409, 429} <= statuses
    problems, answered, requests_checked = [], set(), 0
    for entry in journal:
        found = _operation(entry["method"], entry["path"])
        if found is None:
            problems.append(f"{entry['method']} {entry['path']}: no such operation in HubSpot's specs")
            continue
        method, _, template, uri, spec, op = found
        request_schema = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
        if request_schema and entry["request"] is not None:
            escaped = template.replace("~", "~0").replace("/", "~1")
            pointer = f"{uri}#/paths/{escaped}/{method.lower()}/requestBody/content/application~1json/schema"
            checker = Draft7Validator({"$ref": pointer}, registry=REGISTRY)
            requests_checked += 1
            for error in checker.iter_errors(entry["request"]):
                problems.append(f"request {method} {template} at {list(error.absolute_path)}: {error.message}")
        response, pointer = _schema_pointer(op, uri, spec, entry["status"])
        if entry["status"] < 300:
            answered.add((method, _generic(template)))
            if str(entry["status"]) not in op["responses"]:
                problems.append(f"{method} {template}: status {entry['status']} is not a documented success")
        if pointer is None:
            if entry["body"] is not None:
                problems.append(f"{method} {template} {entry['status']}: the spec says no body")
            continue
        validator = Draft7Validator({"$ref": pointer}, registry=REGISTRY)
        for error in validator.iter_errors(entry["body"]):
            problems.append(f"{method} {template} {entry['status']} at {list(error.absolute_path)}: {error.message}")
    assert not problems, "\n".join(problems[:30])
    assert requests_checked >= 15
    kept = {(o[0], _generic(o[2])) for o in OPERATIONS}
    assert kept - answered == set(), "operations in the trimmed specs never answered by the scenario"


def test_trimmed_specs_are_small_and_name_their_source():
    total = 0
    for path in SPECS.glob("*.json"):
        total += path.stat().st_size
        source = json.loads(path.read_text(encoding="utf-8"))["x-scribe-source"]
        assert source["repository"] == "HubSpot/HubSpot-public-api-spec-collection"
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert 0 < total < 2 * 1024 * 1024


def test_search_and_batch_shapes_keep_their_defaults(hubspot_server, hs):
    """A quick look at two shapes Scribe's code reads directly (kept human-readable)."""
    hubspot_server.portal.seed("contacts", {"email": "x@y.io"})
    list(mirror.read_changed(hs, "contacts", datetime(2020, 1, 1, tzinfo=UTC), with_associations=False))
    body = next(e["body"] for e in hubspot_server.journal if e["path"].endswith("/search"))
    assert set(body) == {"total", "results"} and body["results"][0]["properties"]["email"] == "x@y.io"

