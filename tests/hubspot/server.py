"""A local HubSpot-compatible test server: the CRM endpoints Scribe uses, stateful and in memory.

Starlette app + uvicorn in a thread on a free port (`HubSpotTestServer().start()`). It serves the
objects API (contacts, companies, deals, notes: list, get, create, update, archive, batch read /
update / create / archive, search), associations v4, pipelines and properties, with HubSpot's
behaviours that matter to Scribe: filters (EQ, NEQ, GT, GTE, LT, LTE, IN, HAS_PROPERTY) and `after`
paging capped at 10,000 results, propertiesWithHistory, idProperty=email, 409 on a duplicate email
("Existing ID: n"), 404 for archived or unknown ids, 400 PROPERTY_DOESNT_EXIST / INVALID_OPTION,
401 for a wrong token, 403 MISSING_SCOPES for scopes the private app was not granted, and 429
with the X-HubSpot-RateLimit-* headers under a rolling 10-second burst limit, the search
endpoints' per-second limit and a daily limit.

Time comes from a `VirtualClock`: frozen by default (tests advance it, or a client sleeping on
the same clock advances it), or running in real time with sleeps skipped (`realtime=True`, the
benchmark). Every response is journaled (method, path, status, JSON body) for the spec test.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "notes": "0-46"}
TYPE_NAMES = {v: k for k, v in TYPE_IDS.items()} | {"contact": "contacts", "company": "companies",
                                                   "deal": "deals", "note": "notes"}
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate",
            "notes": "hs_lastmodifieddate"}
CREATED = {"contacts": "createdate", "companies": "createdate", "deals": "createdate", "notes": "hs_createdate"}
DEFAULT_RETURNED = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
              "hs_object_id", "pipeline"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
# Unlabeled default association type per direction (HubSpot-defined, associations v4).
DEFAULT_ASSOC = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280, ("deals", "contacts"): 3,
    ("contacts", "deals"): 4, ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("notes", "contacts"): 202, ("contacts", "notes"): 201, ("notes", "companies"): 190,
    ("companies", "notes"): 189, ("notes", "deals"): 214, ("deals", "notes"): 213,
}
INVERSE = {t: DEFAULT_ASSOC[(b, a)] for (a, b), t in DEFAULT_ASSOC.items()}
ASSOC_NAME = {t: f"{a[:-1] if a != 'companies' else 'company'}_to_{b[:-1] if b != 'companies' else 'company'}"
              for (a, b), t in DEFAULT_ASSOC.items()}
SEARCH_CAP = 10_000

_TEXT = ("string", "text")
BASE_PROPERTIES = {
    "contacts": [("email", "Email", _TEXT), ("firstname", "First Name", _TEXT), ("lastname", "Last Name", _TEXT),
                 ("phone", "Phone Number", ("string", "phonenumber")), ("jobtitle", "Job Title", _TEXT),
                 ("company", "Company Name", _TEXT), ("hubspot_owner_id", "Contact owner", ("enumeration", "select")),
                 ("lastmodifieddate", "Last Modified Date", ("datetime", "date")),
                 ("createdate", "Create Date", ("datetime", "date")), ("hs_object_id", "Record ID", ("number", "number"))],
    "companies": [("name", "Company name", _TEXT), ("domain", "Company Domain Name", _TEXT), ("city", "City", _TEXT),
                  ("industry", "Industry", _TEXT), ("hs_lastmodifieddate", "Last Modified Date", ("datetime", "date")),
                  ("createdate", "Create Date", ("datetime", "date")), ("hs_object_id", "Record ID", ("number", "number"))],
    "deals": [("dealname", "Deal Name", _TEXT), ("dealstage", "Deal Stage", ("enumeration", "radio")),
              ("pipeline", "Pipeline", ("enumeration", "select")), ("amount", "Amount", ("number", "number")),
              ("closedate", "Close Date", ("datetime", "date")), ("hs_next_step", "Next step", ("string", "textarea")),
              ("hubspot_owner_id", "Deal owner", ("enumeration", "select")),
              ("hs_lastmodifieddate", "Last Modified Date", ("datetime", "date")),
              ("createdate", "Create Date", ("datetime", "date")), ("hs_object_id", "Record ID", ("number", "number"))],
    "notes": [("hs_note_body", "Note body", ("string", "html")), ("hs_timestamp", "Activity date", ("datetime", "date")),
              ("hs_createdate", "Create Date", ("datetime", "date")),
              ("hs_lastmodifieddate", "Last Modified Date", ("datetime", "date")),
              ("hs_object_id", "Record ID", ("number", "number"))],
}
READ_ONLY = {"lastmodifieddate", "hs_lastmodifieddate", "createdate", "hs_createdate", "hs_object_id"}
DEFAULT_STAGES = [("appointmentscheduled", "Appointment Scheduled", "0.2"), ("qualifiedtobuy", "Qualified To Buy", "0.4"),
                  ("presentationscheduled", "Presentation Scheduled", "0.6"),
                  ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
                  ("contractsent", "Contract Sent", "0.9"), ("closedwon", "Closed Won", "1.0"),
                  ("closedlost", "Closed Lost", "0.0")]


class VirtualClock:
    """Seconds since start: frozen unless advanced (default), or real time plus skipped sleeps."""

    def __init__(self, *, realtime: bool = False, start: datetime = EPOCH):
        self.realtime, self.start = realtime, start
        self._real0 = time.monotonic()
        self._offset = 0.0
        self.slept = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        real = time.monotonic() - self._real0 if self.realtime else 0.0
        return real + self._offset

    def sleep(self, seconds: float) -> None:
        """Advance virtual time instead of sleeping (the client's backoff and pacing call this)."""
        if seconds > 0:
            with self._lock:
                self._offset += seconds
                self.slept += seconds

    advance = sleep

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.monotonic())


@dataclass
class Limits:
    burst_per_10s: int | None = None   # private app: 100 (Free/Starter) or 190 (Pro/Enterprise)
    search_per_s: int | None = None    # CRM search endpoints: 5 per second
    daily: int | None = None           # 250,000 / 650,000 / 1,000,000
    window_s: float = 10.0
    retry_after_s: int | None = None   # also send Retry-After on a burst 429 (HubSpot does not promise it)


@dataclass
class Obj:
    id: str
    kind: str
    properties: dict[str, str]
    history: dict[str, list[tuple[str, str, str]]]  # prop -> [(value, timestamp, sourceType)], newest first
    created: str
    updated: str
    archived: bool = False
    archived_at: str | None = None


@dataclass
class Stats:
    requests: int = 0
    by_route: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    search_limited: int = 0
    daily_limited: int = 0


class ApiError(Exception):
    def __init__(self, status: int, message: str, category: str, *, errors: list | None = None,
                 context: dict | None = None, extra: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.category = status, message, category
        self.errors, self.context, self.extra = errors, context, extra or {}


class Portal:
    """The in-memory CRM: objects, associations, properties, pipelines."""

    def __init__(self, clock: VirtualClock):
        self.clock = clock
        self.objects: dict[str, dict[str, Obj]] = {k: {} for k in TYPE_IDS}
        self.assoc: dict[tuple[str, str, str], dict[str, set[int]]] = {}
        self.properties: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in TYPE_IDS}
        self.pipelines: dict[str, list[dict[str, Any]]] = {"deals": []}
        self._ids = itertools.count(1001)
        self._last_ms = 0
        self.lock = threading.RLock()
        for kind, props in BASE_PROPERTIES.items():
            for name, label, (ptype, ftype) in props:
                self.add_property(kind, name, label, ptype, ftype, hubspot_defined=True,
                                  read_only=name in READ_ONLY)
        self.add_pipeline("default", "Sales Pipeline", DEFAULT_STAGES)

    # -- set-up (tests call these directly) ------------------------------------------------------

    def add_property(self, kind: str, name: str, label: str, ptype: str = "string", field_type: str = "text",
                     *, options: list[tuple[str, str]] | None = None, description: str = "",
                     hubspot_defined: bool = False, read_only: bool = False, group: str | None = None) -> None:
        now = self._iso(self.clock.now())
        self.properties[kind][name] = {
            "name": name, "label": label, "type": ptype, "fieldType": field_type, "description": description,
            "groupName": group or f"{kind[:-1]}information", "displayOrder": -1, "calculated": False,
            "externalOptions": False, "hasUniqueValue": name == "email", "hidden": False,
            "hubspotDefined": hubspot_defined, "formField": not read_only, "archived": False,
            "createdAt": now, "updatedAt": now,
            "modificationMetadata": {"archivable": not hubspot_defined, "readOnlyDefinition": hubspot_defined,
                                     "readOnlyValue": read_only},
            "options": [{"label": lab, "value": val, "displayOrder": i, "hidden": False}
                        for i, (val, lab) in enumerate(options or [])],
        }

    def add_pipeline(self, pipeline_id: str, label: str, stages: list[tuple[str, str, str]]) -> None:
        now = self._iso(self.clock.now())
        self.pipelines["deals"] = [p for p in self.pipelines["deals"] if p["id"] != pipeline_id] + [{
            "id": pipeline_id, "label": label, "displayOrder": len(self.pipelines["deals"]), "archived": False,
            "createdAt": now, "updatedAt": now,
            "stages": [{"id": sid, "label": slabel, "displayOrder": i, "archived": False, "createdAt": now,
                        "updatedAt": now, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                        "metadata": {"isClosed": "true" if sid.startswith("closed") else "false",
                                     "probability": prob}}
                       for i, (sid, slabel, prob) in enumerate(stages)],
        }]

    def remove_pipeline(self, pipeline_id: str) -> None:
        self.pipelines["deals"] = [p for p in self.pipelines["deals"] if p["id"] != pipeline_id]

    def seed(self, kind: str, properties: dict[str, Any], *, at: datetime | None = None) -> str:
        """Create a record directly (no request counted); returns its id."""
        with self.lock:
            return self._create(kind, {k: str(v) for k, v in properties.items() if v is not None},
                                source="IMPORT", at=at).id

    def touch(self, kind: str, record_id: str, properties: dict[str, Any], source: str = "CRM_UI") -> None:
        """A change made in HubSpot by someone else (the UI): a new value with a new timestamp."""
        with self.lock:
            self._update(self.get(kind, record_id), {k: str(v) for k, v in properties.items()}, source)

    def link(self, kind: str, record_id: str, to_kind: str, to_id: str, type_id: int | None = None) -> None:
        with self.lock:
            self._associate(kind, record_id, to_kind, to_id, type_id or DEFAULT_ASSOC[(kind, to_kind)])

    def linked(self, kind: str, record_id: str, to_kind: str) -> list[str]:
        return sorted(self.assoc.get((kind, str(record_id), to_kind), {}), key=int)

    def live(self, kind: str) -> list[Obj]:
        return [o for o in self.objects[kind].values() if not o.archived]

    # -- core ------------------------------------------------------------------------------------

    def _stamp(self, at: datetime | None = None) -> str:
        ms = int((at or self.clock.now()).timestamp() * 1000)
        if at is None:
            ms = max(ms, self._last_ms + 1)
            self._last_ms = ms
        return self._iso(datetime.fromtimestamp(ms / 1000, tz=UTC))

    @staticmethod
    def _iso(ts: datetime) -> str:
        return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def get(self, kind: str, record_id: str, *, id_property: str | None = None) -> Obj:
        if id_property and id_property != "hs_object_id":
            wanted = str(record_id).strip().lower()
            for obj in self.live(kind):
                if obj.properties.get(id_property, "").strip().lower() == wanted:
                    return obj
        else:
            obj = self.objects[kind].get(str(record_id))
            if obj and not obj.archived:
                return obj
        raise ApiError(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND",
                       context={"id": [str(record_id)]})

    def check_properties(self, kind: str, props: dict[str, str], deal: Obj | None = None) -> None:
        problems = []
        for name, value in props.items():
            definition = self.properties[kind].get(name)
            if definition is None:
                problems.append({"isValid": False, "message": f'Property "{name}" does not exist',
                                 "error": "PROPERTY_DOESNT_EXIST", "name": name,
                                 "localizedErrorMessage": f'Property "{name}" does not exist'})
                continue
            if definition["modificationMetadata"]["readOnlyValue"]:
                problems.append({"isValid": False, "message": f'"{name}" is a read only property; its value cannot be set.',
                                 "error": "READ_ONLY_VALUE", "name": name})
                continue
            allowed = self._allowed(kind, name, props, deal)
            if allowed is not None and value != "" and value not in allowed:
                problems.append({"isValid": False, "error": "INVALID_OPTION", "name": name,
                                 "message": f"{value} was not one of the allowed options: {sorted(allowed)}"})
        if problems:
            code = problems[0]["error"]
            raise ApiError(400, "Property values were not valid: " + json.dumps(problems), "VALIDATION_ERROR",
                           errors=[{"message": p["message"], "code": p["error"], "context": {"propertyName": [p["name"]]}}
                                   for p in problems], extra={"subCategory": code})

    def _allowed(self, kind: str, name: str, props: dict[str, str], deal: Obj | None) -> set[str] | None:
        if kind == "deals" and name == "dealstage":
            pipeline_id = props.get("pipeline") or (deal.properties.get("pipeline") if deal else None) or "default"
            pipe = next((p for p in self.pipelines["deals"] if p["id"] == pipeline_id), None)
            return {s["id"] for s in pipe["stages"]} if pipe else set()
        if kind == "deals" and name == "pipeline":
            return {p["id"] for p in self.pipelines["deals"]}
        definition = self.properties[kind][name]
        if definition["type"] == "enumeration" and definition["options"]:
            return {o["value"] for o in definition["options"]}
        return None

    def _create(self, kind: str, props: dict[str, str], *, source: str = "INTEGRATION", at: datetime | None = None) -> Obj:
        if kind == "contacts" and props.get("email"):
            email = props["email"].strip().lower()
            props["email"] = email
            clash = next((o for o in self.live("contacts") if o.properties.get("email", "").lower() == email), None)
            if clash:
                raise ApiError(409, f"Contact already exists. Existing ID: {clash.id}", "CONFLICT")
        if kind == "deals":
            props.setdefault("pipeline", "default")
        stamp = self._stamp(at)
        obj = Obj(id=str(next(self._ids)), kind=kind, properties={}, history={}, created=stamp, updated=stamp)
        base = {CREATED[kind]: stamp, MODIFIED[kind]: stamp, "hs_object_id": obj.id}
        for name, value in (props | base).items():
            obj.properties[name] = value
            obj.history[name] = [(value, stamp, source if name not in base else "CALCULATED")]
        self.objects[kind][obj.id] = obj
        return obj

    def _update(self, obj: Obj, props: dict[str, str], source: str = "INTEGRATION") -> Obj:
        stamp = self._stamp()
        for name, value in props.items():
            if name == "email":
                value = value.strip().lower()
            if obj.properties.get(name) != value:
                obj.properties[name] = value
                obj.history.setdefault(name, []).insert(0, (value, stamp, source))
        obj.properties[MODIFIED[obj.kind]] = stamp
        obj.history.setdefault(MODIFIED[obj.kind], []).insert(0, (stamp, stamp, "CALCULATED"))
        obj.updated = stamp
        return obj

    def _archive(self, obj: Obj) -> None:
        obj.archived, obj.archived_at = True, self._stamp()

    def _associate(self, kind: str, oid: str, to_kind: str, to_id: str, type_id: int) -> None:
        self.get(kind, oid)
        self.get(to_kind, to_id)
        self.assoc.setdefault((kind, str(oid), to_kind), {}).setdefault(str(to_id), set()).add(type_id)
        self.assoc.setdefault((to_kind, str(to_id), kind), {}).setdefault(str(oid), set()).add(INVERSE.get(type_id, type_id))

    def _live_links(self, kind: str, oid: str, to_kind: str) -> list[tuple[str, set[int]]]:
        links = self.assoc.get((kind, str(oid), to_kind), {})
        return [(tid, types) for tid, types in sorted(links.items(), key=lambda kv: int(kv[0]))
                if tid in self.objects[to_kind] and not self.objects[to_kind][tid].archived]

    # -- shapes ----------------------------------------------------------------------------------

    def shape(self, obj: Obj, props: list[str] | None, history: list[str] | None = None,
              associations: list[str] | None = None) -> dict[str, Any]:
        names = list(DEFAULT_RETURNED[obj.kind]) + [p for p in props or [] if p not in DEFAULT_RETURNED[obj.kind]]
        out: dict[str, Any] = {
            "id": obj.id, "properties": {n: obj.properties.get(n) for n in names
                                         if n in obj.properties or n in self.properties[obj.kind]},
            "createdAt": obj.created, "updatedAt": obj.updated, "archived": obj.archived,
        }
        if obj.archived_at:
            out["archivedAt"] = obj.archived_at
        if history:
            out["propertiesWithHistory"] = {
                n: [{"value": v, "timestamp": ts, "sourceType": src} for v, ts, src in obj.history.get(n, [])]
                for n in history if n in self.properties[obj.kind]}
        if associations:
            assoc = {}
            for to_kind in associations:
                to_kind = TYPE_NAMES.get(to_kind, to_kind)
                links = self._live_links(obj.kind, obj.id, to_kind)
                if links:
                    assoc[to_kind] = {"results": [{"id": tid, "type": ASSOC_NAME.get(t, "unlabeled")}
                                                  for tid, types in links for t in sorted(types)]}
            if assoc:
                out["associations"] = assoc
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HubSpotTestServer:
    """The server: `start()` in a thread, `base_url`, `portal` (state), `stats`, `journal`."""

    def __init__(self, *, token: str = "pat-na1-test-0000", clock: VirtualClock | None = None,
                 limits: Limits | None = None, granted_scopes: set[str] | None = None, journal: bool = False):
        self.token = token
        self.clock = clock or VirtualClock()
        self.limits = limits or Limits()
        self.granted_scopes = granted_scopes  # None: every scope
        self.portal = Portal(self.clock)
        self.stats = Stats()
        self.hooks: dict[str, Any] = {}  # handler name -> fn(params, body), run before it (races)
        self.journal: list[dict[str, Any]] | None = [] if journal else None
        self._burst: deque[float] = deque()
        self._search: deque[float] = deque()
        self._day_count = 0
        self._day = 0
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(routes=self._routes())

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> HubSpotTestServer:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("HubSpot test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)

    def reset_limits(self) -> None:
        self._burst.clear()
        self._search.clear()
        self._day_count = 0

    # -- plumbing --------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        o = "/crm/v3/objects/{kind}"
        a = "/crm/v4/objects/{kind}/{oid}/associations"
        return [
            Route(o, self._handler(self.list_objects, "read"), methods=["GET"]),
            Route(o, self._handler(self.create_object, "write"), methods=["POST"]),
            Route(o + "/search", self._handler(self.search, "read", search=True), methods=["POST"]),
            Route(o + "/batch/read", self._handler(self.batch_read, "read"), methods=["POST"]),
            Route(o + "/batch/update", self._handler(self.batch_update, "write"), methods=["POST"]),
            Route(o + "/batch/create", self._handler(self.batch_create, "write"), methods=["POST"]),
            Route(o + "/batch/archive", self._handler(self.batch_archive, "write"), methods=["POST"]),
            Route(o + "/{oid}", self._handler(self.get_object, "read"), methods=["GET"]),
            Route(o + "/{oid}", self._handler(self.update_object, "write"), methods=["PATCH"]),
            Route(o + "/{oid}", self._handler(self.archive_object, "write"), methods=["DELETE"]),
            Route(a + "/default/{to_kind}/{to_id}", self._handler(self.assoc_default, "write"), methods=["PUT"]),
            Route(a + "/{to_kind}", self._handler(self.assoc_list, "read"), methods=["GET"]),
            Route(a + "/{to_kind}/{to_id}", self._handler(self.assoc_put, "write"), methods=["PUT"]),
            Route(a + "/{to_kind}/{to_id}", self._handler(self.assoc_delete, "write"), methods=["DELETE"]),
            Route("/crm/v4/associations/{kind}/{to_kind}/batch/read", self._handler(self.assoc_batch_read, "read"),
                  methods=["POST"]),
            Route("/crm/v4/associations/{kind}/{to_kind}/batch/create",
                  self._handler(self.assoc_batch_create, "write"), methods=["POST"]),
            Route("/crm/v4/associations/{kind}/{to_kind}/batch/associate/default",
                  self._handler(self.assoc_batch_default, "write"), methods=["POST"]),
            Route("/crm/v3/pipelines/{kind}", self._handler(self.list_pipelines, "pipelines"), methods=["GET"]),
            Route("/crm/v3/pipelines/{kind}/{pid}", self._handler(self.get_pipeline, "pipelines"), methods=["GET"]),
            Route("/crm/v3/properties/{kind}", self._handler(self.list_properties, "schemas"), methods=["GET"]),
            Route("/crm/v3/properties/{kind}/{name}", self._handler(self.get_property, "schemas"), methods=["GET"]),
        ]

    def _handler(self, fn, access: str, *, search: bool = False):
        async def endpoint(request: Request) -> Response:
            body = None
            if request.method in ("POST", "PATCH", "PUT"):
                raw = await request.body()
                body = json.loads(raw) if raw else None
            with self.portal.lock:
                response = self._dispatch(request, fn, access, search, body)
            if self.journal is not None:
                self.journal.append({"method": request.method, "path": request.url.path, "request": body,
                                     "status": response.status_code,
                                     "body": json.loads(response.body) if response.body else None})
            return response
        return endpoint

    def _dispatch(self, request: Request, fn, access: str, search: bool, body: Any) -> Response:
        self.stats.requests += 1
        route = f"{request.method} {fn.__name__}"
        self.stats.by_route[route] = self.stats.by_route.get(route, 0) + 1
        try:
            self._authenticate(request)
            kind = request.path_params.get("kind")
            if kind is not None:
                kind = TYPE_NAMES.get(kind, kind)
                if kind not in TYPE_IDS:
                    raise ApiError(400, f"Unable to infer object type from: {kind}", "VALIDATION_ERROR")
            self._authorize(kind, access, request.path_params.get("to_kind"))
            headers = self._rate_limit(search)
            params = dict(request.path_params) | {"kind": kind}
            hook = self.hooks.get(fn.__name__)
            if hook:
                hook(params, body)
            result = fn(request, params, body)
        except ApiError as exc:
            return self._error(exc)
        status, payload = result if isinstance(result, tuple) else (200, result)
        if payload is None:
            return Response(status_code=status, headers=headers)
        return JSONResponse(payload, status_code=status, headers=headers)

    def _error(self, exc: ApiError) -> JSONResponse:
        payload: dict[str, Any] = {"status": "error", "message": exc.message, "correlationId": str(uuid.uuid4()),
                                   "category": exc.category}
        if exc.errors:
            payload["errors"] = exc.errors
        if exc.context:
            payload["context"] = exc.context
        payload |= {k: v for k, v in exc.extra.items() if k != "_headers"}
        headers = exc.extra.get("_headers")
        return JSONResponse(payload, status_code=exc.status, headers=headers)

    def _authenticate(self, request: Request) -> None:
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.token}":
            category = "EXPIRED_AUTHENTICATION" if auth.startswith("Bearer expired-") else "INVALID_AUTHENTICATION"
            message = ("The OAuth token used to make this call expired." if category == "EXPIRED_AUTHENTICATION"
                       else "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")
            raise ApiError(401, message, category)

    def _authorize(self, kind: str | None, access: str, to_kind: str | None) -> None:
        if self.granted_scopes is None or kind is None:
            return
        if access == "pipelines":
            needed = [f"crm.objects.{kind}.read"]
        elif access == "schemas":
            needed = [f"crm.schemas.{kind}.read"]
        else:
            needed = [f"crm.objects.{k if k != 'notes' else 'contacts'}.{access}"
                      for k in (kind, TYPE_NAMES.get(to_kind or "", to_kind)) if k]
        missing = [s for s in needed if s not in self.granted_scopes]
        if missing:
            raise ApiError(403, "This app hasn't been granted all required scopes to make this call. Read more about "
                           "required scopes here: https://developers.hubspot.com/scopes.", "MISSING_SCOPES",
                           errors=[{"message": "One or more of the following scopes are required.",
                                    "context": {"requiredGranularScopes": missing}}],
                           extra={"links": {"scopes": "https://developers.hubspot.com/scopes"}})

    def _rate_limit(self, search: bool) -> dict[str, str]:
        now = self.clock.monotonic()
        lim = self.limits
        day = int(now // 86400)
        if day != self._day:
            self._day, self._day_count = day, 0
        if lim.daily is not None and self._day_count >= lim.daily:
            self.stats.daily_limited += 1
            raise ApiError(429, "You have reached your daily limit.", "RATE_LIMITS", extra={
                "errorType": "RATE_LIMIT", "policyName": "DAILY",
                "_headers": {} if search else self._limit_headers(0, lim.burst_per_10s or 0)})
        if search:
            while self._search and now - self._search[0] >= 1.0:
                self._search.popleft()
            if lim.search_per_s is not None and len(self._search) >= lim.search_per_s:
                self.stats.search_limited += 1
                # The search endpoints do not send the X-HubSpot-RateLimit-* headers.
                raise ApiError(429, "You have reached your secondly limit.", "RATE_LIMITS",
                               extra={"errorType": "RATE_LIMIT", "policyName": "SECONDLY"})
        while self._burst and now - self._burst[0] >= lim.window_s:
            self._burst.popleft()
        if lim.burst_per_10s is not None and len(self._burst) >= lim.burst_per_10s:
            self.stats.rate_limited += 1
            remaining_day = (lim.daily - self._day_count) if lim.daily is not None else None
            raise ApiError(429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS", extra={
                "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING",
                "_headers": self._limit_headers(remaining_day, 0) | (
                    {"Retry-After": str(lim.retry_after_s)} if lim.retry_after_s else {})})
        self._day_count += 1
        if search:
            self._search.append(now)
            return {}
        self._burst.append(now)
        remaining_day = (lim.daily - self._day_count) if lim.daily is not None else None
        remaining = (lim.burst_per_10s - len(self._burst)) if lim.burst_per_10s is not None else None
        return self._limit_headers(remaining_day, remaining)

    def _limit_headers(self, remaining_day: int | None, remaining: int | None) -> dict[str, str]:
        lim = self.limits
        headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": str(int(lim.window_s * 1000))}
        if lim.burst_per_10s is not None:
            headers |= {"X-HubSpot-RateLimit-Max": str(lim.burst_per_10s),
                        "X-HubSpot-RateLimit-Remaining": str(max(0, remaining or 0))}
        if lim.daily is not None:
            headers |= {"X-HubSpot-RateLimit-Daily": str(lim.daily),
                        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, remaining_day or 0))}
        return headers

    # -- objects ---------------------------------------------------------------------------------

    @staticmethod
    def _multi(request: Request, name: str) -> list[str]:
        values = []
        for v in request.query_params.getlist(name):
            values += [x for x in v.split(",") if x]
        return values

    def list_objects(self, request: Request, p: dict, body: Any):
        kind = p["kind"]
        limit = min(int(request.query_params.get("limit", 10)), 100)
        after = int(request.query_params.get("after", 0) or 0)
        archived = request.query_params.get("archived", "false").lower() == "true"  # the client sends True
        rows = [o for o in self.portal.objects[kind].values() if o.archived == archived]
        page = rows[after:after + limit]
        out: dict[str, Any] = {"results": [self.portal.shape(o, self._multi(request, "properties"),
                                                             self._multi(request, "propertiesWithHistory"),
                                                             self._multi(request, "associations")) for o in page]}
        if after + limit < len(rows):
            nxt = str(after + limit)
            out["paging"] = {"next": {"after": nxt, "link": f"{self.base_url}{request.url.path}?after={nxt}"}}
        return out

    def get_object(self, request: Request, p: dict, body: Any):
        obj = self.portal.get(p["kind"], p["oid"], id_property=request.query_params.get("idProperty"))
        return self.portal.shape(obj, self._multi(request, "properties"), self._multi(request, "propertiesWithHistory"),
                                 self._multi(request, "associations"))

    def _create_one(self, kind: str, item: dict) -> Obj:
        props = {k: "" if v is None else str(v) for k, v in (item.get("properties") or {}).items()}
        self.portal.check_properties(kind, props)
        for assoc in item.get("associations") or []:
            to_id = str(assoc["to"]["id"])
            for spec in assoc.get("types") or []:
                to_kind = self._assoc_target(kind, int(spec["associationTypeId"]))
                self.portal.get(to_kind, to_id)
        obj = self.portal._create(kind, props)
        for assoc in item.get("associations") or []:
            for spec in assoc.get("types") or []:
                type_id = int(spec["associationTypeId"])
                self.portal._associate(kind, obj.id, self._assoc_target(kind, type_id), str(assoc["to"]["id"]), type_id)
        return obj

    @staticmethod
    def _assoc_target(kind: str, type_id: int) -> str:
        for (a, b), t in DEFAULT_ASSOC.items():
            if a == kind and t == type_id:
                return b
        raise ApiError(400, f"associationTypeId {type_id} is not valid from {kind}", "VALIDATION_ERROR")

    def create_object(self, request: Request, p: dict, body: Any):
        return 201, self.portal.shape(self._create_one(p["kind"], body or {}), None)

    def update_object(self, request: Request, p: dict, body: Any):
        obj = self.portal.get(p["kind"], p["oid"], id_property=request.query_params.get("idProperty"))
        props = {k: "" if v is None else str(v) for k, v in ((body or {}).get("properties") or {}).items()}
        self.portal.check_properties(p["kind"], props, obj)
        return self.portal.shape(self.portal._update(obj, props), list(props))

    def archive_object(self, request: Request, p: dict, body: Any):
        self.portal._archive(self.portal.get(p["kind"], p["oid"]))
        return 204, None

    def _batch_envelope(self, started: str, results: list, errors: list) -> tuple[int, dict]:
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                               "completedAt": self.portal._iso(self.clock.now())}
        if errors:
            out |= {"numErrors": len(errors), "errors": errors}
        return (207 if errors else 200), out

    def _not_found(self, ids: list[str]) -> dict[str, Any]:
        return {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some objects, they may be "
                "deleted or not exist. Check that ids are valid.", "context": {"ids": ids}, "errors": [], "links": {}}

    def batch_read(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        body = body or {}
        if len(body.get("inputs") or []) > 100:
            raise ApiError(400, "Batch input must have at most 100 inputs", "VALIDATION_ERROR")
        if body.get("propertiesWithHistory") and len(body["inputs"]) > 50:
            raise ApiError(400, "Batch read with property history takes at most 50 inputs", "VALIDATION_ERROR")
        results, missing = [], []
        for item in body.get("inputs") or []:
            try:
                obj = self.portal.get(p["kind"], item["id"], id_property=body.get("idProperty"))
            except ApiError:
                missing.append(str(item["id"]))
                continue
            results.append(self.portal.shape(obj, body.get("properties"), body.get("propertiesWithHistory")))
        return self._batch_envelope(started, results, [self._not_found(missing)] if missing else [])

    def batch_update(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        inputs = (body or {}).get("inputs") or []
        if len(inputs) > 100:
            raise ApiError(400, "Batch input must have at most 100 inputs", "VALIDATION_ERROR")
        found, missing = [], []
        for item in inputs:  # validate the whole batch before writing anything
            try:
                obj = self.portal.get(p["kind"], item["id"])
            except ApiError:
                missing.append(str(item["id"]))
                continue
            props = {k: "" if v is None else str(v) for k, v in (item.get("properties") or {}).items()}
            self.portal.check_properties(p["kind"], props, obj)
            found.append((obj, props))
        results = [self.portal.shape(self.portal._update(obj, props), list(props)) for obj, props in found]
        return self._batch_envelope(started, results, [self._not_found(missing)] if missing else [])

    def batch_create(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        inputs = (body or {}).get("inputs") or []
        if len(inputs) > 100:
            raise ApiError(400, "Batch input must have at most 100 inputs", "VALIDATION_ERROR")
        for item in inputs:
            self.portal.check_properties(p["kind"], {k: str(v) for k, v in (item.get("properties") or {}).items()})
        status, out = self._batch_envelope(started, [self.portal.shape(self._create_one(p["kind"], i), None)
                                                     for i in inputs], [])
        return 201, out

    def batch_archive(self, request: Request, p: dict, body: Any):
        for item in (body or {}).get("inputs") or []:
            obj = self.portal.objects[p["kind"]].get(str(item["id"]))
            if obj and not obj.archived:
                self.portal._archive(obj)
        return 204, None

    def search(self, request: Request, p: dict, body: Any):
        kind, body = p["kind"], body or {}
        limit = int(body.get("limit") or 10)
        if limit > 200:
            raise ApiError(400, "limit must be at most 200", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        if after + limit > SEARCH_CAP:
            raise ApiError(400, "There was a problem with the request.", "VALIDATION_ERROR",
                           errors=[{"message": f"Paging past {SEARCH_CAP} results is not supported",
                                    "code": "INVALID_PAGING"}])
        groups = body.get("filterGroups") or []
        rows = [o for o in self.portal.live(kind) if not groups or any(self._matches(o, g) for g in groups)]
        for sort in reversed(body.get("sorts") or [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]):
            name, desc = (sort.get("propertyName"), sort.get("direction") == "DESCENDING") if isinstance(sort, dict) \
                else (sort.lstrip("-"), sort.startswith("-"))
            rows.sort(key=lambda o, n=name: _sort_key(o.properties.get(n), n), reverse=desc)
        page = rows[after:after + limit]
        out: dict[str, Any] = {"total": len(rows), "results": [self.portal.shape(o, body.get("properties")) for o in page]}
        if after + limit < len(rows):
            out["paging"] = {"next": {"after": str(after + limit)}}
        return out

    def _matches(self, obj: Obj, group: dict) -> bool:
        for f in group.get("filters") or []:
            name, op = f["propertyName"], f["operator"]
            have = obj.properties.get(name)
            if op == "HAS_PROPERTY":
                ok = bool(have)
            elif op == "NOT_HAS_PROPERTY":
                ok = not have
            elif op in ("IN", "NOT_IN"):
                values = {str(v).lower() for v in f.get("values") or []}
                ok = (str(have or "").lower() in values) == (op == "IN")
            else:
                a, b = _sort_key(have, name), _sort_key(f.get("value"), name)
                ok = {"EQ": a == b, "NEQ": a != b, "GT": a > b, "GTE": a >= b, "LT": a < b, "LTE": a <= b}[op] \
                    if have is not None else op == "NEQ"
            if not ok:
                return False
        return True

    # -- associations v4 -------------------------------------------------------------------------

    def assoc_default(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        kind, to_kind = p["kind"], TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        type_id = DEFAULT_ASSOC[(kind, to_kind)]
        self.portal._associate(kind, p["oid"], to_kind, p["to_id"], type_id)
        return self._batch_envelope(started, [{"from": {"id": p["oid"]}, "to": {"id": p["to_id"]}, "associationSpec": {
            "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}}], [])[1]

    def assoc_put(self, request: Request, p: dict, body: Any):
        kind, to_kind = p["kind"], TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        for spec in body or []:
            self.portal._associate(kind, p["oid"], to_kind, p["to_id"], int(spec["associationTypeId"]))
        return 201, {"fromObjectTypeId": TYPE_IDS[kind], "fromObjectId": p["oid"],
                     "toObjectTypeId": TYPE_IDS[to_kind], "toObjectId": p["to_id"], "labels": []}

    def assoc_delete(self, request: Request, p: dict, body: Any):
        kind, to_kind = p["kind"], TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        self.portal.assoc.get((kind, p["oid"], to_kind), {}).pop(p["to_id"], None)
        self.portal.assoc.get((to_kind, p["to_id"], kind), {}).pop(p["oid"], None)
        return 204, None

    def _assoc_targets(self, kind: str, oid: str, to_kind: str) -> list[dict[str, Any]]:
        return [{"toObjectId": tid, "associationTypes": [
            {"category": "HUBSPOT_DEFINED", "typeId": t, "label": None} for t in sorted(types)]}
            for tid, types in self.portal._live_links(kind, oid, to_kind)]

    def assoc_list(self, request: Request, p: dict, body: Any):
        to_kind = TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        self.portal.get(p["kind"], p["oid"])
        return {"results": _drop_nulls(self._assoc_targets(p["kind"], p["oid"], to_kind))}

    def assoc_batch_read(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        to_kind = TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        inputs = (body or {}).get("inputs") or []
        if len(inputs) > 1000:
            raise ApiError(400, "Batch input must have at most 1000 inputs", "VALIDATION_ERROR")
        results, errors = [], []
        for item in inputs:
            oid = str(item["id"])
            targets = self._assoc_targets(p["kind"], oid, to_kind)
            if targets:
                results.append({"from": {"id": oid}, "to": _drop_nulls(targets)})
            else:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND", "message": f"No {to_kind} is associated with {p['kind'][:-1]} {oid}.",
                               "context": {"fromObjectId": [oid]}, "errors": [], "links": {}})
        return self._batch_envelope(started, results, errors)

    def assoc_batch_create(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        kind, to_kind = p["kind"], TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        results = []
        for item in (body or {}).get("inputs") or []:
            for spec in item.get("types") or []:
                self.portal._associate(kind, str(item["from"]["id"]), to_kind, str(item["to"]["id"]),
                                       int(spec["associationTypeId"]))
            results.append({"fromObjectTypeId": TYPE_IDS[kind], "fromObjectId": str(item["from"]["id"]),
                            "toObjectTypeId": TYPE_IDS[to_kind], "toObjectId": str(item["to"]["id"]), "labels": []})
        return 201, self._batch_envelope(started, results, [])[1]

    def assoc_batch_default(self, request: Request, p: dict, body: Any):
        started = self.portal._iso(self.clock.now())
        kind, to_kind = p["kind"], TYPE_NAMES.get(p["to_kind"], p["to_kind"])
        type_id = DEFAULT_ASSOC[(kind, to_kind)]
        results = []
        for item in (body or {}).get("inputs") or []:
            self.portal._associate(kind, str(item["from"]["id"]), to_kind, str(item["to"]["id"]), type_id)
            results.append({"from": {"id": str(item["from"]["id"])}, "to": {"id": str(item["to"]["id"])},
                            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}})
        return self._batch_envelope(started, results, [])[1]

    # -- pipelines, properties -------------------------------------------------------------------

    def list_pipelines(self, request: Request, p: dict, body: Any):
        return {"results": self.portal.pipelines.get(p["kind"], [])}

    def get_pipeline(self, request: Request, p: dict, body: Any):
        pipe = next((x for x in self.portal.pipelines.get(p["kind"], []) if x["id"] == p["pid"]), None)
        if pipe is None:
            raise ApiError(404, f"Unable to find pipeline {p['pid']}", "OBJECT_NOT_FOUND",
                           context={"pipelineId": [p["pid"]]})
        return pipe

    def list_properties(self, request: Request, p: dict, body: Any):
        return {"results": list(self.portal.properties[p["kind"]].values())}

    def get_property(self, request: Request, p: dict, body: Any):
        prop = self.portal.properties[p["kind"]].get(p["name"])
        if prop is None:
            raise ApiError(404, f"Unable to find property {p['name']}", "OBJECT_NOT_FOUND")
        return prop


def _sort_key(value: Any, name: str) -> Any:
    """Compare like HubSpot: dates by time (ISO or epoch ms), numbers as numbers, text case-folded."""
    if value is None:
        return (0, "")
    text = str(value)
    if name.endswith("date") or name in ("hs_timestamp", "closedate"):
        if text.isdigit():
            return (1, int(text))
        try:
            return (1, int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))
        except ValueError:
            return (2, text.lower())
    try:
        return (1, float(text))
    except ValueError:
        return (2, text.lower())


def _drop_nulls(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for t in row.get("associationTypes", []):
            if t.get("label") is None:
                t.pop("label", None)
    return rows
