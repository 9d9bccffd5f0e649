"""HubSpot as Scribe's system of record: a CrmStore over a local mirror, writing through to HubSpot.

Reads (matching, review, the assistant, the Contacts page) come from the built-in store's DuckDB
tables, kept as a mirror of the portal: HubSpot ids are mapped to local ids in `hubspot_ids`, and
`sync()` reads what changed since the last cursor (a full read the first time). `contacts()` and
`search_contacts()` sync first when the mirror is older than `sync_interval_s`, so a review's
"current" values are HubSpot's at review time and matching keeps its speed.

Writes go to HubSpot first, then the same change set is recorded locally through the built-in
store (mirror rows + field_history, one writer for both CRMs):

- `save` re-reads the records it will touch straight from HubSpot; a field whose value is no longer
  the one the review showed is a conflict: not written, reported (`SaveResult.conflicts`) for the rep
  to choose. Every property it will set is checked writable, every stage mapped to the pipeline,
  before anything is written. Each HubSpot step is remembered in `hubspot_writes` (per review), so a
  retried save reuses what an earlier try created and creates nothing twice.
- `undo` / `revert_change` push the old values back to HubSpot and archive what the save created
  there (only what it created), then record the undo as a new change set.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from lib.core.db import Database
from lib.core.errors import InvalidRecord
from lib.crm.builtin import _ANY, _EDITABLE, _FIELD_OF, BuiltinCrm
from lib.crm.fields import PREFIX, FieldCatalogue
from lib.crm.hubspot import catalogue, fields, mirror, writes
from lib.crm.hubspot.client import HubSpot
from lib.crm.hubspot.errors import HubSpotPipelineMissing
from lib.crm.hubspot.models import DEFAULT_PROPERTIES, Pipeline, PropertyDef, Record, SyncCursor, SyncResult
from lib.crm.records import (
    CONTACT_FIELDS,
    DEAL_FIELDS,
    STAGES,
    Conflict,
    Contact,
    ProposedRow,
    SaveRequest,
    SaveResult,
)
from lib.crm.store import CREATED, as_text, validate_values

KIND_OF = {"contact": "contacts", "company": "companies", "deal": "deals", "interaction": "notes"}
NO_HUBSPOT_PROPERTY = ("next_step_date",)  # no standard HubSpot property: kept in Scribe only


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class HubSpotCrm(BuiltinCrm):
    """The CrmStore with HubSpot as the system of record (HUBSPOT_ACCESS_TOKEN set)."""

    def __init__(self, db: Database, hs: HubSpot, catalogue: FieldCatalogue | None = None, *,
                 sync_interval_s: float = 30.0, archived_interval_s: float = 3600.0,
                 monotonic: Callable[[], float] = time.monotonic):
        super().__init__(db, catalogue)
        self.hs = hs
        self.sync_interval_s = sync_interval_s
        self.archived_interval_s = archived_interval_s  # how often a sync also asks which records were archived
        self._archived_at: float | None = None
        self._monotonic = monotonic
        self._synced_at: float | None = None
        self._lock = threading.RLock()
        self.last_sync: SyncResult | None = None

    def __repr__(self) -> str:
        return f"HubSpotCrm({self.hs!r})"

    # -- settings kept in the database: cursor, pipeline + stage mapping ------------------------------

    def _state(self, name: str) -> Any:
        row = self.db.cursor().execute("SELECT value FROM hubspot_state WHERE name = ?", [name]).fetchone()
        return json.loads(row[0]) if row else None

    def _set_state(self, name: str, value: Any, tx=None) -> None:
        (tx or self.db.cursor()).execute("""INSERT INTO hubspot_state VALUES (?, ?, ?)
                                            ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, ts = EXCLUDED.ts""",
                                         [name, json.dumps(value), _now()])

    def stage_mapping(self) -> tuple[str, dict[str, str | None]]:
        """The deal pipeline Scribe writes to and Scribe's stages -> its stage ids (a first guess from
        the portal's pipelines when none is stored yet)."""
        stored = self._state("stage_mapping")
        if stored:
            return stored["pipeline"], dict(stored["stages"])
        pipes = catalogue.pipelines(self.hs)
        if not pipes:
            raise HubSpotPipelineMissing("The HubSpot portal has no deal pipeline.")
        pipe = next((p for p in pipes if p.id == "default"), pipes[0])
        mapping = catalogue.suggest_stage_mapping(pipe, STAGES)
        self._set_state("stage_mapping", {"pipeline": pipe.id, "stages": mapping})
        return pipe.id, mapping

    def set_stage_mapping(self, pipeline_id: str, mapping: dict[str, str | None]) -> None:
        """Store the rep's mapping; refused (nothing stored) when the pipeline or a stage is not the portal's."""
        pipe = catalogue.pipeline(self.hs, pipeline_id)
        unknown = [f"{s} → {h}" for s, h in mapping.items() if h and pipe.stage(h) is None]
        if unknown:
            raise HubSpotPipelineMissing(f"The pipeline {pipe.label!r} has no stage for {', '.join(unknown)}.")
        _, before = self.stage_mapping()
        after = {s: mapping.get(s) for s in STAGES}
        # the mirror's deals hold Scribe's stage: translate them through HubSpot's stage id to the new mapping
        reverse = {hs_stage: scribe for scribe, hs_stage in after.items() if hs_stage}
        moves = {old: reverse.get(before.get(old) or old, before.get(old) or old)
                 for (old,) in self.db.cursor().execute("SELECT DISTINCT stage FROM deals").fetchall() if old}
        with self.db.transaction() as tx:
            self._set_state("stage_mapping", {"pipeline": pipe.id, "stages": after}, tx)
            changed = {old: new for old, new in moves.items() if old != new}
            if changed:
                cases = " ".join("WHEN ? THEN ?" for _ in changed)
                params = [v for pair in changed.items() for v in pair]
                tx.execute(f"""UPDATE deals SET stage = CASE stage {cases} END WHERE stage IN ({', '.join('?' * len(changed))})
                               AND id IN (SELECT local_id FROM hubspot_ids WHERE kind = 'deal')""",  # noqa: S608
                           params + list(changed))

    def pipelines(self) -> list[Pipeline]:
        return catalogue.pipelines(self.hs)

    def portal_properties(self, object_type: str) -> list[PropertyDef]:
        """The portal's writable contact/deal properties, for picking a catalogue field's target."""
        return [p for p in catalogue.properties(self.hs, object_type) if not (p.read_only or p.calculated)]

    # -- the mirror -----------------------------------------------------------------------------------

    def _custom_props(self, entity: str) -> dict[str, str]:
        """Catalogue key -> HubSpot property, for the fields kept on `entity`."""
        return {f.key: f.hubspot_property for f in self.catalogue.of(entity) if f.hubspot_property}

    def _properties(self) -> dict[str, list[str]]:
        return {"companies": list(DEFAULT_PROPERTIES["companies"]),
                "contacts": list(DEFAULT_PROPERTIES["contacts"]) + list(self._custom_props("contact").values()),
                "deals": list(DEFAULT_PROPERTIES["deals"]) + list(self._custom_props("deal").values())}

    def sync(self, *, full: bool = False) -> SyncResult:
        """Read what changed in HubSpot since the last sync (everything the first time) into the mirror."""
        with self._lock:
            cursor = None if full else SyncCursor.from_json(self._state("cursor"))
            result = mirror.sync(self.hs, cursor if cursor and cursor.since else None, properties=self._properties())
            archived = self._archived_since_last_check(result)
            _, stage_map = self.stage_mapping()
            with self.db.transaction() as tx:
                self._upsert(tx, result.records, stage_map)
                for kind, hs_ids in archived.items():
                    self._mark_archived(tx, kind, hs_ids, keep=result.full)
                self._set_state("cursor", result.cursor.to_json(), tx)
            self._synced_at = self._monotonic()
            self.last_sync = result
            return result

    def _archived_since_last_check(self, result: SyncResult) -> dict[str, set[str]]:
        """HubSpot ids to drop from the mirror, by kind. A full read lists every live record, so what it did not
        return is gone (`keep` mode: the ids returned); an incremental one asks for archived records (search
        never returns them) at most every `archived_interval_s`."""
        if result.full:
            self._archived_at = self._monotonic()
            return {kind: {r.id for r in rows} for kind, rows in result.records.items()}
        if self._archived_at is not None and self._monotonic() - self._archived_at < self.archived_interval_s:
            return {}
        self._archived_at = self._monotonic()
        return {kind: {r.id for r in mirror.read_archived(self.hs, kind)} for kind in result.records}

    def _mark_archived(self, tx, kind: str, hs_ids: set[str], *, keep: bool) -> None:
        """Archive mirrored records of `kind`: those with these HubSpot ids, or (keep) all but these."""
        table, local_kind = {"companies": ("companies", "company"), "contacts": ("contacts", "contact"),
                             "deals": ("deals", "deal")}[kind]
        ids = sorted(hs_ids)
        if not ids and not keep:
            return
        marks = ", ".join("?" for _ in ids)
        which = (f"AND hs_id NOT IN ({marks})" if ids else "") if keep else f"AND hs_id IN ({marks})"
        tx.execute(f"""UPDATE {table} SET archived = TRUE WHERE NOT archived AND id IN (
                           SELECT local_id FROM hubspot_ids WHERE kind = ? {which})""",  # noqa: S608
                   [local_kind, *ids])

    def refresh(self, max_age_s: float | None = None) -> None:
        """Sync when the mirror is older than `max_age_s` (default: the store's interval)."""
        age = self.sync_interval_s if max_age_s is None else max_age_s
        if self._synced_at is None or self._monotonic() - self._synced_at >= age:
            self.sync()

    def _upsert(self, tx, records: dict[str, list[Record]], stage_map: dict[str, str | None]) -> None:
        """HubSpot records into the local tables, in bulk (mapped ids; company and contact links)."""
        reverse = {hs_stage: scribe for scribe, hs_stage in stage_map.items() if hs_stage}
        companies = records.get("companies") or []
        if companies:
            frame = pd.DataFrame([{"hs_id": r.id, "name": r.get("name") or r.get("domain") or f"Company {r.id}",
                                   "domain": r.get("domain"), "industry": r.get("industry"), "city": r.get("city")}
                                  for r in companies])
            self._bulk(tx, "company", "company_id_seq", frame, """
                INSERT INTO companies (id, name, domain, industry, city, archived)
                SELECT m.local_id, f.name, f.domain, f.industry, f.city, FALSE
                FROM hs_frame f JOIN hubspot_ids m ON m.kind = 'company' AND m.hs_id = f.hs_id
                ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, domain = EXCLUDED.domain,
                    industry = EXCLUDED.industry, city = EXCLUDED.city, archived = EXCLUDED.archived""")
        contacts = records.get("contacts") or []
        if contacts:
            frame = pd.DataFrame([{"hs_id": r.id, "name": fields.contact_values(r)["name"] or r.get("email") or f"Contact {r.id}",
                                   "email": r.get("email"), "phone": r.get("phone"), "title": r.get("jobtitle"),
                                   "owner": r.get("hubspot_owner_id"),
                                   "company_hs": r.company_ids[0] if r.company_ids else None} for r in contacts])
            self._bulk(tx, "contact", "contact_id_seq", frame, """
                INSERT INTO contacts (id, name, email, phone, title, company_id, owner, archived)
                SELECT m.local_id, f.name, f.email, f.phone, f.title, co.local_id, f.owner, FALSE
                FROM hs_frame f JOIN hubspot_ids m ON m.kind = 'contact' AND m.hs_id = f.hs_id
                LEFT JOIN hubspot_ids co ON co.kind = 'company' AND co.hs_id = f.company_hs
                ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, phone = EXCLUDED.phone,
                    title = EXCLUDED.title, company_id = EXCLUDED.company_id, owner = EXCLUDED.owner,
                    archived = EXCLUDED.archived""")
            self._custom_upsert(tx, "contact", contacts)
        deals = records.get("deals") or []
        if deals:
            frame = pd.DataFrame([{"hs_id": r.id, "name": r.get("dealname") or f"Deal {r.id}",
                                   "stage": reverse.get(r.get("dealstage") or "", r.get("dealstage") or "lead"),
                                   "amount": _amount(r.get("amount")), "next_step": r.get("hs_next_step"),
                                   "owner": r.get("hubspot_owner_id"),
                                   "contact_hs": r.contact_ids[0] if r.contact_ids else None,
                                   "company_hs": r.company_ids[0] if r.company_ids else None} for r in deals])
            self._bulk(tx, "deal", "deal_id_seq", frame, """
                INSERT INTO deals (id, company_id, contact_id, name, stage, amount, next_step, owner, archived)
                SELECT m.local_id, co.local_id, ct.local_id, f.name, f.stage, CAST(f.amount AS DECIMAL(14, 2)),
                       f.next_step, f.owner, FALSE
                FROM hs_frame f JOIN hubspot_ids m ON m.kind = 'deal' AND m.hs_id = f.hs_id
                LEFT JOIN hubspot_ids co ON co.kind = 'company' AND co.hs_id = f.company_hs
                LEFT JOIN hubspot_ids ct ON ct.kind = 'contact' AND ct.hs_id = f.contact_hs
                ON CONFLICT (id) DO UPDATE SET company_id = EXCLUDED.company_id, contact_id = EXCLUDED.contact_id,
                    name = EXCLUDED.name, stage = EXCLUDED.stage, amount = EXCLUDED.amount,
                    next_step = EXCLUDED.next_step, owner = EXCLUDED.owner, archived = EXCLUDED.archived""")
                # next_step_date is Scribe's own (HubSpot has no such property): an update keeps it
            self._custom_upsert(tx, "deal", deals)

    def _bulk(self, tx, kind: str, sequence: str, frame: pd.DataFrame, upsert_sql: str) -> None:
        frame = frame.astype(object).where(frame.notna(), None)
        tx.register("hs_frame", frame)
        try:
            tx.execute(f"""INSERT INTO hubspot_ids (kind, hs_id, local_id)
                           SELECT '{kind}', f.hs_id, nextval('{sequence}') FROM hs_frame f
                           WHERE NOT EXISTS (SELECT 1 FROM hubspot_ids m WHERE m.kind = '{kind}' AND m.hs_id = f.hs_id)
                        """)  # noqa: S608 - kind and sequence are constants of this module
            tx.execute(upsert_sql)
        finally:
            tx.unregister("hs_frame")

    def _custom_upsert(self, tx, entity: str, records: list[Record]) -> None:
        props = self._custom_props(entity)
        if not props:
            return
        rows = [{"hs_id": r.id, "key": key, "value": r.get(prop) or None} for r in records for key, prop in props.items()
                if prop in r.properties]
        if not rows:
            return
        tx.register("hs_custom", pd.DataFrame(rows).astype(object))
        try:
            tx.execute("""INSERT INTO custom_values (entity, entity_id, key, value)
                          SELECT ?, m.local_id, f.key, f.value FROM hs_custom f
                          JOIN hubspot_ids m ON m.kind = ? AND m.hs_id = f.hs_id
                          ON CONFLICT (entity, entity_id, key) DO UPDATE SET value = EXCLUDED.value""",
                       [entity, entity])
        finally:
            tx.unregister("hs_custom")

    def hs_id(self, kind: str, local_id: int | None) -> str | None:
        """The HubSpot id of a local (mirror) record, or None."""
        if local_id is None:
            return None
        row = self.db.cursor().execute("SELECT hs_id FROM hubspot_ids WHERE kind = ? AND local_id = ?",
                                       [kind, int(local_id)]).fetchone()
        return row[0] if row else None

    def local_id(self, kind: str, hs_id: str) -> int | None:
        row = self.db.cursor().execute("SELECT local_id FROM hubspot_ids WHERE kind = ? AND hs_id = ?",
                                       [kind, str(hs_id)]).fetchone()
        return row[0] if row else None

    def _map(self, kind: str, local_id: int, hs_id: str) -> None:
        cur = self.db.cursor()  # two unique keys (hs_id, local_id): replace by deleting both, then insert
        cur.execute("DELETE FROM hubspot_ids WHERE kind = ? AND (hs_id = ? OR local_id = ?)",
                    [kind, str(hs_id), int(local_id)])
        cur.execute("INSERT INTO hubspot_ids (kind, hs_id, local_id) VALUES (?, ?, ?)", [kind, str(hs_id), int(local_id)])

    def _reread(self, contact_ids: Iterable[int]) -> None:
        """Read these contacts and their deals straight from HubSpot (consistent at once, unlike search)
        into the mirror."""
        hs_contacts = [h for h in (self.hs_id("contact", c) for c in contact_ids) if h]
        deal_ids = [self.hs_id("deal", d) for d in self._open_deals(contact_ids).values()]
        found: dict[str, list[Record]] = {"contacts": [], "deals": []}
        props = self._properties()
        if hs_contacts:
            found["contacts"] = mirror.read_records(self.hs, "contacts", hs_contacts, props["contacts"])
        if any(deal_ids):
            found["deals"] = mirror.read_records(self.hs, "deals", [d for d in deal_ids if d], props["deals"])
        _, stage_map = self.stage_mapping()
        with self.db.transaction() as tx:
            self._upsert(tx, found, stage_map)

    def _open_deals(self, contact_ids: Iterable[int]) -> dict[int, int]:
        """Contact -> its latest open deal (the one a save writes to)."""
        out = {}
        for contact_id in dict.fromkeys(c for c in contact_ids if c is not None):
            row = self.db.cursor().execute(
                """SELECT id FROM deals WHERE contact_id = ? AND NOT archived
                   AND stage NOT IN ('closed_won', 'closed_lost') ORDER BY id DESC LIMIT 1""", [contact_id]).fetchone()
            if row:
                out[contact_id] = row[0]
        return out

    # -- reads that sync first ------------------------------------------------------------------------

    def contacts(self) -> list[Contact]:
        self.refresh()
        return super().contacts()

    def search_contacts(self, query: str = "", limit: int = 50) -> list[Contact]:
        self.refresh()
        return super().search_contacts(query, limit)

    def seed_if_empty(self, seed_dir=None) -> bool:
        """No sample data with HubSpot: the mirror fills on the first sync (on first use, not at start)."""
        return False

    # -- save -----------------------------------------------------------------------------------------

    def save(self, request: SaveRequest) -> SaveResult:
        """Write the accepted rows to HubSpot, then record them (mirror + field_history) as one change set."""
        existing = self.db.cursor().execute("SELECT id FROM change_sets WHERE review_key = ?",
                                            [request.review_key]).fetchone()
        if existing:
            return SaveResult(change_set_id=existing[0], already_saved=True)
        for number, row in enumerate(request.rows, start=1):
            problems = validate_values(row.values) + self.catalogue.problems(row.values)
            if problems:
                raise InvalidRecord(f"Row {number}: " + "; ".join(problems), "Fix the row, then save again.")
        with self._lock:
            self.sync()
            self._reread(r.contact_id for r in request.rows if r.contact_id is not None)
            rows, found = self._without_conflicts(request.rows)
            pipeline_id, stage_map = self.stage_mapping()
            pipe = catalogue.pipeline(self.hs, pipeline_id)
            plans = [self._plan(n, row, stage_map, pipe) for n, row in enumerate(rows)]
            self._check_writable(plans)
            for plan in plans:  # everything checked: now write
                self._write(request.review_key, plan, pipe)
            result = super().save(request.model_copy(update={"rows": rows}))
            self._map_created(result.change_set_id, plans)
        result.conflicts = found
        result.skipped += [s for p in plans for s in p["notes"]]
        return result

    def _without_conflicts(self, rows: list[ProposedRow]) -> tuple[list[ProposedRow], list[Conflict]]:
        """Rows less the fields HubSpot changed since the rep saw them (`row.seen`, just re-read into the
        mirror); those fields as conflicts, for the rep to choose (the Extract page's overwrite)."""
        out, found = [], []
        for row in rows:
            if row.contact_id is None or not row.seen:
                out.append(row)
                continue
            now = self._current(row.contact_id)
            values, seen = dict(row.values), dict(row.seen)
            for name, was in row.seen.items():
                if name in values and _same(name, values[name], now.get(name)) and not _same(name, was, now.get(name)):
                    # HubSpot already holds the value wanted: an earlier try of this save wrote it (a 429
                    # mid-save). Not a conflict; the mirror gets the value the rep saw back, so the change
                    # is recorded (old -> new) as if written now.
                    self._restore_seen(row.contact_id, name, was)
                    continue
                if name in values and not _same(name, was, now.get(name)):
                    found.append(Conflict(contact_id=row.contact_id, field=name, seen=as_text(was),
                                          current=as_text(now.get(name)), proposed=as_text(values[name])))
                    values.pop(name)
                    seen.pop(name)
            out.append(row.model_copy(update={"values": values, "seen": seen}))
        return out, found

    def _restore_seen(self, contact_id: int, name: str, seen: Any) -> None:
        """Put the value the rep saw back into the mirror (it is re-read from HubSpot after the save)."""
        cur = self.db.cursor()
        columns = {"name": "name", "email": "email", "title": "title", "phone": "phone"}
        deal_columns = {"deal_stage": "stage", "amount": "amount", "next_step": "next_step",
                        "next_step_date": "next_step_date"}
        deal_id = self._open_deals([contact_id]).get(contact_id)
        definition = self.catalogue.get(name)
        if name in columns:
            cur.execute(f"UPDATE contacts SET {columns[name]} = ? WHERE id = ?", [seen, contact_id])  # noqa: S608
        elif name in deal_columns and deal_id is not None:
            cur.execute(f"UPDATE deals SET {deal_columns[name]} = ? WHERE id = ?", [seen, deal_id])  # noqa: S608
        elif definition is not None:
            entity_id = contact_id if definition.entity == "contact" else deal_id
            if entity_id is not None:
                cur.execute("""INSERT INTO custom_values (entity, entity_id, key, value) VALUES (?, ?, ?, ?)
                               ON CONFLICT (entity, entity_id, key) DO UPDATE SET value = EXCLUDED.value""",
                            [definition.entity, entity_id, name, as_text(seen)])

    def _current(self, contact_id: int) -> dict[str, Any]:
        contact = self.get_contact(contact_id)
        values: dict[str, Any] = {}
        if contact is not None:
            values |= {"name": contact.name, "email": contact.email, "company": contact.company,
                       "title": contact.title, "phone": contact.phone}
            values |= {k: v for k, v in self.custom_values("contact", contact_id).items()}
        deal = self._open_deals([contact_id]).get(contact_id)
        if deal is not None:
            d = self.db.cursor().execute("SELECT stage, amount, next_step, next_step_date FROM deals WHERE id = ?",
                                         [deal]).fetchone()
            values |= dict(zip(("deal_stage", "amount", "next_step", "next_step_date"), d, strict=True))
            values |= {k: v for k, v in self.custom_values("deal", deal).items()}
        return values

    def _plan(self, n: int, row: ProposedRow, stage_map: dict[str, str | None], pipe: Pipeline) -> dict[str, Any]:
        """What row `n` will write to HubSpot; raises (before anything is written) what cannot be."""
        values = {k: v for k, v in row.values.items() if as_text(v) is not None}
        if row.contact_id is None and not values.get("name"):  # what the built-in save refuses, refused first
            raise InvalidRecord("A new contact needs a name.", "Fill the name, or match the row to a contact.")
        notes = []
        if row.contact_id is not None and not row.unlock:
            locked = self.locked_fields("contact", row.contact_id)
            locked = {"company" if f == "company_id" else f for f in locked}
            deal_id = self._open_deals([row.contact_id]).get(row.contact_id)
            if deal_id is not None:
                locked |= {"deal_stage" if f == "stage" else f for f in self.locked_fields("deal", deal_id)}
            values = {k: v for k, v in values.items() if k not in locked}
        for name in NO_HUBSPOT_PROPERTY:
            if name in values:
                notes.append(f"{name} is kept in Scribe only: HubSpot has no standard property for it")
        custom_contact, custom_deal = self._custom_props("contact"), self._custom_props("deal")
        contact_values = {k: v for k, v in values.items() if k in CONTACT_FIELDS and k != "company"}
        contact_values |= {k: v for k, v in values.items() if k in custom_contact}
        deal_values = {k: v for k, v in values.items() if k in DEAL_FIELDS and k not in NO_HUBSPOT_PROPERTY}
        deal_values |= {k: v for k, v in values.items() if k in custom_deal}
        for key in values:
            definition = self.catalogue.get(key)
            if definition is not None and not definition.hubspot_property:
                notes.append(f"{definition.label} has no HubSpot property in the field catalogue: kept in Scribe only")
        deal_props = fields.deal_properties(deal_values, stage_map, custom_deal)
        if deal_props.get("dealstage") and pipe.stage(deal_props["dealstage"]) is None:
            raise HubSpotPipelineMissing(f"Scribe's stage {values.get('deal_stage')!r} is mapped to "
                                         f"{deal_props['dealstage']!r}, which the pipeline {pipe.label!r} does not have.")
        hs_contact = self.hs_id("contact", row.contact_id) if row.contact_id is not None else None
        if row.contact_id is not None and hs_contact is None:
            raise InvalidRecord(f"Contact #{row.contact_id} is not a HubSpot contact.", "Sync, then review again.")
        deal_local = self._open_deals([row.contact_id]).get(row.contact_id) if row.contact_id is not None else None
        contact = self.get_contact(row.contact_id) if row.contact_id is not None else None
        return {"n": n, "row": row, "values": values, "notes": notes,
                "contact_props": fields.contact_properties(contact_values, custom_contact),
                "deal_props": {k: v for k, v in deal_props.items() if v is not None or k != "dealstage"},
                "company": values.get("company"), "hs_contact": hs_contact,
                "hs_company_named": self.hs_id("company", self.company_id_for(values.get("company"))),
                "hs_company": self.hs_id("company", contact.company_id) if contact and contact.company_id else None,
                "hs_deal": self.hs_id("deal", deal_local) if deal_local is not None else None}

    def _check_writable(self, plans: list[dict[str, Any]]) -> None:
        for kind, key in (("contacts", "contact_props"), ("deals", "deal_props")):
            names = {p for plan in plans for p in plan[key]}
            if names:
                catalogue.check_writable(self.hs, kind, sorted(names))

    def _step(self, review_key: str, step: str) -> tuple[str, bool] | None:
        row = self.db.cursor().execute("SELECT hs_id, created FROM hubspot_writes WHERE review_key = ? AND step = ?",
                                       [review_key, step]).fetchone()
        return (row[0], row[1]) if row else None

    def _done(self, review_key: str, step: str, hs_id: str, created: bool) -> None:
        self.db.cursor().execute("""INSERT INTO hubspot_writes VALUES (?, ?, ?, ?, ?)
                                    ON CONFLICT (review_key, step) DO UPDATE SET hs_id = EXCLUDED.hs_id,
                                        created = EXCLUDED.created, ts = EXCLUDED.ts""",
                                 [review_key, step, str(hs_id), created, _now()])

    def _write(self, key: str, plan: dict[str, Any], pipe: Pipeline) -> None:
        """One row's HubSpot writes, each step remembered (a retry reuses what it created)."""
        n, row = plan["n"], plan["row"]
        hs, tag = self.hs, f"row{n}"
        if plan["hs_contact"] is None:
            known, known_co = self._step(key, f"{tag}:contact"), self._step(key, f"{tag}:company")
            made = writes.create_contact(hs, plan["contact_props"], company_name=plan["company"],
                                         known_id=known[0] if known else None,
                                         known_company_id=known_co[0] if known_co else plan["hs_company_named"])
            if not known:
                self._done(key, f"{tag}:contact", made.id, made.created)
            if made.company_id and not known_co:
                self._done(key, f"{tag}:company", made.company_id, made.company_created)
            plan["hs_contact"], plan["hs_company"] = made.id, made.company_id or plan["hs_company"]
            if not made.created and plan["contact_props"]:
                writes.update_records(hs, "contacts", {made.id: plan["contact_props"]})
        else:
            if plan["contact_props"]:
                writes.update_records(hs, "contacts", {plan["hs_contact"]: plan["contact_props"]})
            if plan["company"]:
                known_co = self._step(key, f"{tag}:company")
                company = writes.find_or_create_company(
                    hs, plan["company"], known_id=known_co[0] if known_co else plan["hs_company_named"])
                if not known_co:
                    self._done(key, f"{tag}:company", company.id, company.created)
                writes.associate(hs, "contacts", plan["hs_contact"], "companies", company.id)
                plan["hs_company"] = company.id
        if plan["deal_props"]:
            if plan["hs_deal"] is None:
                known = self._step(key, f"{tag}:deal")
                plan["hs_deal"] = known[0] if known else self._create_deal(key, tag, plan, pipe)
            else:
                writes.update_records(hs, "deals", {plan["hs_deal"]: plan["deal_props"] | (
                    {"pipeline": pipe.id} if "dealstage" in plan["deal_props"] else {})})
        if row.note:
            known = self._step(key, f"{tag}:note")
            note_id = writes.create_note(
                hs, row.note, _note_time(row.note_date), contact_ids=[plan["hs_contact"]],
                company_ids=[plan["hs_company"]] if plan["hs_company"] else [],
                deal_ids=[plan["hs_deal"]] if plan["hs_deal"] else [], known_id=known[0] if known else None)
            if not known or known[0] != note_id:
                self._done(key, f"{tag}:note", note_id, True)
            plan["hs_note"] = note_id

    def _create_deal(self, key: str, tag: str, plan: dict[str, Any], pipe: Pipeline) -> str:
        contact = self.get_contact(plan["row"].contact_id) if plan["row"].contact_id else None
        name = plan["company"] or (contact.company if contact else None) or (contact.name if contact else "New deal")
        props = {"dealname": f"{name} – new opportunity", "pipeline": pipe.id,
                 "dealstage": pipe.stages[0].id if pipe.stages else None} | plan["deal_props"]
        associations = [writes._association("deals", "contacts", plan["hs_contact"])]
        if plan["hs_company"]:
            associations.append(writes._association("deals", "companies", plan["hs_company"]))
        body = self.hs.model("deals", "SimplePublicObjectInputForCreate",
                             properties={k: writes._wire(v) for k, v in props.items() if v is not None},
                             associations=associations)
        deal_id = str(self.hs.call("deals", "basic_api", "create", body).id)
        self._done(key, f"{tag}:deal", deal_id, True)
        return deal_id

    def _map_created(self, change_set_id: str, plans: list[dict[str, Any]]) -> None:
        """The local rows the change set created, mapped to the HubSpot records the writes made or found."""
        created = self.db.cursor().execute(
            "SELECT entity, entity_id, new_value FROM field_history WHERE change_set_id = ? AND field = ? ORDER BY id",
            [change_set_id, CREATED]).fetchall()
        new_plans = iter(p for p in plans if p["row"].contact_id is None)
        by_contact = {p["row"].contact_id: p for p in plans if p["row"].contact_id is not None}
        for entity, local, _value in created:
            if entity == "contact":
                plan = next(new_plans, None)
                if plan is not None:
                    self._map("contact", local, plan["hs_contact"])
                    by_contact[local] = plan
        for entity, local, value in created:
            if entity == "company":
                plan = next((p for p in plans if p["company"] == value and p["hs_company"]), None)
                if plan is not None and self.local_id("company", plan["hs_company"]) is None:
                    self._map("company", local, plan["hs_company"])
            elif entity in ("deal", "interaction"):
                table = "deals" if entity == "deal" else "interactions"
                contact = self.db.cursor().execute(f"SELECT contact_id FROM {table} WHERE id = ?",  # noqa: S608
                                                   [local]).fetchone()
                plan = by_contact.get(contact[0]) if contact else None
                target = plan and plan.get("hs_deal" if entity == "deal" else "hs_note")
                if target:
                    self._map(entity, local, target)

    # -- undo / revert: the old values back to HubSpot, what the save created archived ---------------

    def undo(self, change_set_id: str, user: str) -> SaveResult:
        rows = self._history_rows("change_set_id = ?", change_set_id)
        undone = self.db.cursor().execute(
            "SELECT id FROM change_sets WHERE reverts = ? AND kind = 'undo'", [change_set_id]).fetchone()
        if rows and not undone:
            with self._lock:
                self._push_back(rows[::-1], change_set_id)
                return super().undo(change_set_id, user)
        return super().undo(change_set_id, user)

    def revert_change(self, history_id: int, user: str) -> SaveResult:
        rows = self._history_rows("id = ?", history_id)
        if rows:
            with self._lock:
                self._push_back(rows, rows[0].change_set_id)
                return super().revert_change(history_id, user)
        return super().revert_change(history_id, user)

    def _push_back(self, rows: list[Any], change_set_id: str) -> None:
        """Put the old values of these changes back in HubSpot; archive what the change set created there.
        A value changed since (in HubSpot or Scribe) is left as is, as the built-in undo leaves it."""
        contacts = {r.entity_id for r in rows if r.entity == "contact"}
        contacts |= {c for (c,) in self.db.cursor().execute(
            "SELECT contact_id FROM deals WHERE id IN (SELECT entity_id FROM field_history "
            "WHERE change_set_id = ? AND entity = 'deal')", [change_set_id]).fetchall() if c is not None}
        self.sync()
        self._reread(contacts)
        review_key = self.db.cursor().execute("SELECT review_key FROM change_sets WHERE id = ?",
                                              [change_set_id]).fetchone()
        made = {h for (h,) in self.db.cursor().execute(
            "SELECT hs_id FROM hubspot_writes WHERE review_key = ? AND created", [review_key[0] if review_key else ""]
        ).fetchall()}
        _, stage_map = self.stage_mapping()
        updates: dict[str, dict[str, dict[str, Any]]] = {"contacts": {}, "deals": {}}
        archive: list[tuple[str, str]] = []
        for row in rows:
            hs_id = self.hs_id(row.entity, row.entity_id)
            if hs_id is None:
                continue
            if row.field == CREATED:
                if hs_id in made:
                    archive.append((KIND_OF[row.entity], hs_id))
                continue
            props = self._revert_props(row, stage_map)
            if props and self._still(row):
                updates[KIND_OF[row.entity]].setdefault(hs_id, {}).update(props)
        for kind, changes in updates.items():
            if changes:
                writes.update_records(self.hs, kind, changes)
        for kind, hs_id in archive:
            writes.archive(self.hs, kind, hs_id)

    def _revert_props(self, row: Any, stage_map: dict[str, str | None]) -> dict[str, Any]:
        old = row.old_value
        if row.field.startswith(PREFIX):
            definition = self.catalogue.get(row.field[len(PREFIX):])
            return {definition.hubspot_property: old} if definition and definition.hubspot_property else {}
        if row.entity == "contact":
            if row.field == "name":
                first, last = fields.split_name(old)
                return {"firstname": first, "lastname": last}
            prop = fields.CONTACT_PROPERTIES.get(row.field)
            return {prop: old} if prop else {}
        if row.entity == "deal":
            if row.field == "stage":
                return {"dealstage": stage_map.get(old)} if old and stage_map.get(old) else {}
            prop = {"amount": "amount", "next_step": "hs_next_step"}.get(row.field)
            return {prop: old} if prop else {}
        return {}

    def _still(self, row: Any) -> bool:
        """Does the mirror (just re-read from HubSpot) still hold the value this change wrote?"""
        if row.field.startswith(PREFIX):
            now = self.custom_values(row.entity, row.entity_id).get(row.field[len(PREFIX):])
        else:
            table = {"contact": "contacts", "deal": "deals"}[row.entity]
            found = self.db.cursor().execute(f"SELECT {row.field} FROM {table} WHERE id = ?",  # noqa: S608
                                             [row.entity_id]).fetchone()
            now = found[0] if found else None
        return as_text(now) == as_text(row.new_value)

    # -- other writes -------------------------------------------------------------------------------

    def edit_by_hand(self, entity: str, entity_id: int, column: str, value: Any, user: str, *,
                     expected: Any = _ANY) -> str:
        """A person's edit, written to HubSpot, then recorded (and locked against AI values) as usual.
        With `expected`, HubSpot's value is read first: changed since the person saw it, nothing is written."""
        hs_id = self.hs_id(entity, entity_id)
        if entity not in _EDITABLE or column not in _EDITABLE[entity][1] \
                or validate_values({_FIELD_OF.get(column, column): value}):
            return super().edit_by_hand(entity, entity_id, column, value, user, expected=expected)  # refuses
        with self._lock:
            if expected is not _ANY:
                contact = entity_id if entity == "contact" else self.db.cursor().execute(
                    "SELECT contact_id FROM deals WHERE id = ?", [entity_id]).fetchone()[0]
                self._reread([contact] if contact is not None else [])
                table = {"contact": "contacts", "deal": "deals"}[entity]
                now = self.db.cursor().execute(f"SELECT {column} FROM {table} WHERE id = ?",  # noqa: S608
                                               [entity_id]).fetchone()
                if now is not None and as_text(now[0]) != as_text(expected):
                    return super().edit_by_hand(entity, entity_id, column, value, user, expected=expected)  # refuses
            fake = type("Row", (), {"entity": entity, "field": column, "old_value": as_text(value)})
            _, stage_map = self.stage_mapping()
            props = self._revert_props(fake, stage_map)
            if hs_id and props:
                writes.update_records(self.hs, KIND_OF[entity], {hs_id: props})
            return super().edit_by_hand(entity, entity_id, column, value, user, expected=expected)

    def log_interaction(self, contact_id: int, kind: str, summary: str, note: str | None, author: str,
                        call_id: str | None = None) -> int:
        """A touch logged as a HubSpot note on the contact, then in Scribe's timeline."""
        hs_contact = self.hs_id("contact", contact_id)
        note_id = None
        if hs_contact:
            note_id = writes.create_note(self.hs, note or summary, datetime.now(UTC), contact_ids=[hs_contact])
        interaction_id = super().log_interaction(contact_id, kind, summary, note, author, call_id)
        if note_id:
            self._map("interaction", interaction_id, note_id)
        return interaction_id

    def import_contacts(self, rows: list[dict[str, Any]], user: str) -> SaveResult:
        raise InvalidRecord("With HubSpot as the system of record, contacts are imported in HubSpot.",
                            "Import the file in HubSpot (Contacts > Import); Scribe mirrors them on its next sync.")


def _amount(value: Any) -> str | None:
    """A deal amount from HubSpot as the mirror keeps it (DECIMAL(14, 2)), or None when it is not a number
    that fits: a portal's odd value never stops a sync."""
    text = as_text(value)
    if text is None:
        return None
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return str(number) if number.is_finite() and abs(number) < Decimal(10) ** 12 else None


def _note_time(day: date | None) -> datetime:
    if day is None:
        return datetime.now(UTC)
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def _same(name: str, shown: Any, now: Any) -> bool:
    """Is HubSpot's value still the one the review showed? (numbers and dates compared as values)"""
    a, b = as_text(shown), as_text(now)
    if a is None or b is None:
        return a == b
    if name == "company":
        from lib.crm.matching import normalize_company

        return normalize_company(a) == normalize_company(b)
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        return a.strip().casefold() == b.strip().casefold()

