"""The built-in CRM store (implements lib.crm.store.CrmStore): contacts, companies, deals, interactions and field history (all their SQL lives here).

Every write goes through a change set, in one transaction, and leaves one field_history row per
field it changed (old value, new value, who: a person or which Claude call, the evidence). A change
set can be undone as a whole, and one change can be reverted; both are new, recorded change sets,
so history only grows. A field a person edited by hand is locked against AI values unless the rep
unlocks it for that save.
"""

from __future__ import annotations

import csv
import threading
import uuid
import weakref
from collections import namedtuple
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from lib.core.db import Database
from lib.core.errors import InvalidRecord
from lib.crm.fields import EMPTY, PREFIX, FieldCatalogue
from lib.crm.records import (
    STAGES,
    Change,
    Conflict,
    Contact,
    Deal,
    Interaction,
    ProposedRow,
    SaveRequest,
    SaveResult,
    StageTotal,
    TimelineEntry,
)
from lib.crm.store import CREATED, as_text, validate_values

SEED_DIR = Path(__file__).resolve().parents[2] / "data" / "crm"
OPEN_STAGES = tuple(s for s in STAGES if not s.startswith("closed"))
CONTACT_COLUMNS = ("name", "email", "phone", "title", "company_id")
DEAL_COLUMNS = {"deal_stage": "stage", "amount": "amount", "next_step": "next_step",
                "next_step_date": "next_step_date"}
_CONTACT_SELECT = """SELECT c.id, c.name, c.email, co.name AS company, c.company_id, c.title, c.phone, c.owner,
                            c.archived
                     FROM contacts c LEFT JOIN companies co ON co.id = c.company_id"""


_SAVE_LOCKS: weakref.WeakKeyDictionary[Database, threading.RLock] = weakref.WeakKeyDictionary()
_SAVE_LOCKS_GUARD = threading.Lock()


def save_lock(db: Database) -> AbstractContextManager:
    """What a save holds around its transaction so that two saves of one email make one contact.

    DuckDB: one process has the file; its threads take turns, and the lock is taken before the
    transaction begins because a DuckDB transaction reads the snapshot of its BEGIN (a check inside
    it would not see a contact committed meanwhile). Postgres: nothing here; the save locks each of
    its emails inside the transaction instead (see BuiltinCrm._claim_emails), so saves of other
    emails still run side by side, across processes too."""
    if db.dialect != "duckdb":
        return nullcontext()
    with _SAVE_LOCKS_GUARD:
        return _SAVE_LOCKS.setdefault(db, threading.RLock())


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _text(value: Any) -> str | None:
    """How a value is kept in field_history: text, or NULL for nothing."""
    return as_text(value)


_ANY = object()  # edit_by_hand without an expected value


class BuiltinCrm:
    """All reads and writes of the CRM tables of one Database."""

    def __init__(self, db: Database, catalogue: FieldCatalogue | None = None):
        self.db = db
        self.catalogue = catalogue or EMPTY  # the team's own fields (lib/crm/fields.py)

    # -- seed ------------------------------------------------------------------------------------

    def seed_if_empty(self, seed_dir: Path = SEED_DIR) -> bool:
        """Load the sample CRM on first start; a no-op once contacts exist. True if it loaded."""
        cur = self.db.cursor()
        if cur.execute("SELECT count(*) FROM contacts").fetchone()[0]:
            return False
        with self.db.transaction() as tx:
            for table in ("companies", "contacts", "deals", "interactions"):
                path = seed_dir / f"{table}.csv"
                frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace({"": None})
                if table == "interactions":
                    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.tz_localize(None)
                _insert_frame(tx, self.db.dialect, table, frame)
            self._seed_history(tx, seed_dir / "field_history.csv")
        return True

    def _seed_history(self, tx: duckdb.DuckDBPyConnection, path: Path) -> None:
        """Past hand edits, so the 'locked against AI overwrite' rule has something to protect."""
        if not path.exists():
            return
        tx.execute("INSERT INTO change_sets VALUES ('seed', ?, 'import', 'import', NULL, NULL, NULL, "
                   "'sample CRM history')", [_now()])
        for row in csv.DictReader(path.open(encoding="utf-8")):
            tx.execute(
                "INSERT INTO field_history (change_set_id, ts, entity, entity_id, field, old_value, new_value, "
                "actor, approved_by) VALUES ('seed', ?, ?, ?, ?, ?, ?, ?, ?)",
                [row["ts"], row["entity"], int(row["entity_id"]), row["field"], row["old_value"] or None,
                 row["new_value"] or None, row["actor"], row["approved_by"] or None],
            )

    # -- reads -----------------------------------------------------------------------------------

    def contacts(self) -> list[Contact]:
        """Live contacts with their company name: the input of lib.crm.matching."""
        return self._rows(Contact, f"{_CONTACT_SELECT} WHERE NOT c.archived ORDER BY c.id", [])

    def search_contacts(self, query: str = "", limit: int = 50) -> list[Contact]:
        """Contacts whose name, email, company or title contains the query (case-insensitive)."""
        # % and _ typed by a person are letters, not wildcards
        escaped = query.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        return self._rows(
            Contact,
            f"""{_CONTACT_SELECT}
               WHERE NOT c.archived AND (lower(c.name) LIKE ? ESCAPE '\\' OR lower(coalesce(c.email, '')) LIKE ? ESCAPE '\\'
                     OR lower(coalesce(co.name, '')) LIKE ? ESCAPE '\\'
                     OR lower(coalesce(c.title, '')) LIKE ? ESCAPE '\\')
               ORDER BY c.name, c.id LIMIT ?""",
            [like, like, like, like, limit])

    def get_contact(self, contact_id: int) -> Contact | None:
        """The contact with this id, archived or not."""
        found = self._rows(Contact, f"{_CONTACT_SELECT} WHERE c.id = ?", [contact_id])
        return found[0] if found else None

    def contact_by_email(self, email: str) -> Contact | None:
        found = self._rows(Contact, f"""{_CONTACT_SELECT} WHERE lower(c.email) = lower(?) AND NOT c.archived
                                         ORDER BY c.id LIMIT 1""", [email.strip()])
        return found[0] if found else None

    def deal_for_contact(self, contact_id: int) -> Deal | None:
        """The contact's deal: the latest open one, else the latest closed one."""
        found = self._rows(
            Deal,
            """SELECT d.*, co.name AS company FROM deals d LEFT JOIN companies co ON co.id = d.company_id
               WHERE d.contact_id = ? AND NOT d.archived
               ORDER BY (d.stage IN ('closed_won', 'closed_lost')), d.id DESC LIMIT 1""",
            [contact_id])
        return found[0] if found else None

    def recent_interactions(self, contact_id: int, limit: int = 5) -> list[Interaction]:
        return self._rows(Interaction, """SELECT id, ts, kind, summary, author FROM interactions
                                          WHERE contact_id = ? AND NOT archived ORDER BY ts DESC, id DESC LIMIT ?""",
                          [contact_id, limit])

    def pipeline_by_stage(self) -> list[StageTotal]:
        """Deals per stage (open and closed), in pipeline order."""
        rows = self._rows(StageTotal, """SELECT stage, count(*) AS deals, coalesce(sum(amount), 0) AS amount
                                         FROM deals WHERE NOT archived GROUP BY stage""", [])
        order = {s: i for i, s in enumerate(STAGES)}
        return sorted(rows, key=lambda r: order.get(r.stage, len(order)))

    def company_id_for(self, name: str | None) -> int | None:
        """The company a name refers to, ignoring case, punctuation and legal suffixes."""
        if not name:
            return None
        from lib.crm.matching import normalize_company  # one normaliser for matching and saving

        target = normalize_company(name)
        rows = self.db.cursor().execute("SELECT id, name FROM companies WHERE NOT archived ORDER BY id").fetchall()
        return next((cid for cid, cname in rows if normalize_company(cname) == target), None)

    def locked_fields(self, entity: str, entity_id: int) -> set[str]:
        """Fields whose latest change was made by hand: AI values may not overwrite them."""
        rows = self.db.cursor().execute(
            """SELECT field, actor FROM field_history WHERE id IN (
                   SELECT max(id) FROM field_history
                   WHERE entity = ? AND entity_id = ? AND actor IN ('ai', 'human') GROUP BY field)""",
            [entity, entity_id]).fetchall()
        return {f for f, actor in rows if actor == "human"}

    def history(self, change_set_id: str) -> list[Change]:
        """The changes of one change set, in the order they were made."""
        return self._rows(Change, "SELECT * FROM field_history WHERE change_set_id = ? ORDER BY id", [change_set_id])

    def change(self, history_id: int) -> Change | None:
        """One recorded change."""
        found = self._rows(Change, "SELECT * FROM field_history WHERE id = ?", [history_id])
        return found[0] if found else None

    def timeline(self, contact_id: int, limit: int = 200) -> list[TimelineEntry]:
        """Interactions and field changes of a contact (and its deals), newest first."""
        return self._rows(TimelineEntry,
            """
            WITH deal_ids AS (SELECT id FROM deals WHERE contact_id = ?),
            changes AS (
                -- a company change reads as the companies' names, not their ids
                SELECT h.ts, 'change' AS what, h.entity,
                       CASE WHEN h.field = 'company_id' THEN 'company' ELSE h.field END AS field,
                       CASE WHEN h.field = 'company_id' THEN (SELECT name FROM companies
                            WHERE CAST(id AS VARCHAR) = h.old_value) ELSE h.old_value END AS old_value,
                       CASE WHEN h.field = 'company_id' THEN (SELECT name FROM companies
                            WHERE CAST(id AS VARCHAR) = h.new_value) ELSE h.new_value END AS new_value, h.actor,
                       h.approved_by, h.evidence, h.change_set_id, h.id AS history_id, h.call_id,
                       CAST(NULL AS VARCHAR) AS kind, CAST(NULL AS VARCHAR) AS summary, CAST(NULL AS VARCHAR) AS note
                FROM field_history h
                WHERE (h.entity = 'contact' AND h.entity_id = ?)
                   OR (h.entity = 'deal' AND h.entity_id IN (SELECT id FROM deal_ids))
            ),
            touches AS (
                -- an interaction is the AI's when a save of extracted fields logged it; else a person's
                SELECT i.ts, 'interaction', 'interaction', CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
                       CAST(NULL AS VARCHAR), CASE WHEN cs.kind = 'extraction' THEN 'ai' ELSE 'human' END, i.author,
                       CAST(NULL AS VARCHAR), i.change_set_id, CAST(NULL AS BIGINT), i.call_id, i.kind, i.summary,
                       i.note
                FROM interactions i LEFT JOIN change_sets cs ON cs.id = i.change_set_id
                WHERE i.contact_id = ? AND NOT i.archived
            )
            SELECT * FROM (SELECT * FROM changes UNION ALL SELECT * FROM touches) e
            ORDER BY e.ts DESC, e.history_id DESC NULLS LAST LIMIT ?
            """,
            [contact_id, contact_id, contact_id, limit])

    def _rows(self, record: type, sql: str, params: list[Any]) -> list[Any]:
        """Run a query; each row becomes a `record` (a dataclass named after the columns it keeps)."""
        cur = self.db.cursor().execute(sql, params)
        names = [d[0] for d in cur.description]
        wanted = {f.name for f in fields(record)}
        keep = [i for i, n in enumerate(names) if n in wanted]
        return [record(**{names[i]: row[i] for i in keep}) for row in cur.fetchall()]

    # -- writes ----------------------------------------------------------------------------------

    def save(self, request: SaveRequest) -> SaveResult:
        """Apply the accepted rows of a review in one transaction. A review saved twice is a no-op."""
        if (saved := self._saved_as(self.db.cursor(), request.review_key)) is not None:
            return saved
        for number, row in enumerate(request.rows, start=1):
            problems = validate_values(row.values) + self.catalogue.problems(row.values)
            if problems:
                raise InvalidRecord(f"Row {number}: " + "; ".join(problems), "Fix the row, then save again.")
        result = SaveResult(change_set_id=uuid.uuid4().hex)
        with save_lock(self.db), self.db.transaction() as tx:
            self._hold(f"review:{request.review_key}")  # one save of a review, across sessions and tabs
            if (saved := self._saved_as(tx, request.review_key)) is not None:  # by another tab, meanwhile
                return saved
            self._claim_emails(request)
            calls = sorted({r.call_id for r in request.rows if r.call_id})
            tx.execute("INSERT INTO change_sets VALUES (?, ?, ?, 'extraction', ?, NULL, ?, ?)",
                       [result.change_set_id, _now(), request.user, request.review_key,
                        calls[0] if len(calls) == 1 else None, f"{len(request.rows)} row(s) from notes"])
            for row in request.rows:
                writer = _ChangeWriter(tx, result.change_set_id, actor="ai", approved_by=request.user,
                                       call_id=row.call_id, request_id=row.request_id)
                self._save_row(tx, writer, row, request.user, result)
                result.changes += writer.count
        return result

    def _claim_emails(self, request: SaveRequest) -> None:
        """Lock the request's emails until this transaction ends (Postgres: a transaction-scoped advisory
        lock per email, taken in sorted order so two saves cannot deadlock). A second save of one of them
        waits for the first to commit; its check for a live contact with that email, a new statement at
        READ COMMITTED, then sees the first one's contact and updates it instead of creating another.
        On DuckDB `serialized` inside a transaction takes nothing: `save_lock` already made saves take turns."""
        emails = sorted({address.strip().lower() for r in request.rows if (address := _text(r.values.get("email")))})
        for address in emails:
            self._hold(f"contact-email:{address}")

    def _hold(self, name: str) -> None:
        """Inside this thread's transaction: the lock `name` (across processes), held until it ends."""
        with self.db.serialized(name):
            pass  # the lock is the transaction's: held until it commits or rolls back

    @staticmethod
    def _saved_as(cur, review_key: str) -> SaveResult | None:
        """The change set a review was already saved as (a review saved twice is a no-op), if any."""
        found = cur.execute("SELECT id FROM change_sets WHERE review_key = ?", [review_key]).fetchone()
        return SaveResult(change_set_id=found[0], already_saved=True) if found else None

    def _save_row(self, tx: duckdb.DuckDBPyConnection, writer: _ChangeWriter, row: ProposedRow, user: str,
                  result: SaveResult) -> None:
        values = {k: v for k, v in row.values.items() if _text(v) is not None}
        company_id = self._company_for_row(tx, writer, values.get("company"), row.evidence.get("company"))
        existing = self._active_id_by_email(tx, values.get("email")) if row.contact_id is None else None
        if existing is not None:  # created since the review was built (another session, a stale review)
            result.notices.append(f"{values.get('name') or 'A new contact'} was matched again by email at save "
                                  f"time: {_text(values.get('email'))} is contact {existing}; updated it instead.")
            row = row.model_copy(update={"contact_id": existing, "seen": {}})
        if row.contact_id is None:
            contact_id = self._create_contact(tx, writer, values, company_id, row.evidence, user)
            result.created_contacts.append(contact_id)
        else:
            contact_id = row.contact_id
            if not self._update_contact(tx, writer, contact_id, values, company_id, row, result):
                return
            result.updated_contacts.append(contact_id)
        self._update_deal(tx, writer, contact_id, company_id, values, row, result)
        self._save_custom(tx, writer, contact_id, company_id, values, row, result)
        if row.note and tx.execute(  # the same note logged on the same contact once, however often it is saved
                "SELECT 1 FROM interactions WHERE contact_id = ? AND note = ? AND NOT archived",
                [contact_id, row.note]).fetchone() is None:
            tx.execute(
                """INSERT INTO interactions (contact_id, ts, kind, summary, note, author, change_set_id, call_id)
                   VALUES (?, ?, 'note', ?, ?, ?, ?, ?) RETURNING id""",
                [contact_id, _note_ts(row.note_date), _first_line(row.note), row.note, user,
                 writer.change_set_id, row.call_id])
            writer.record("interaction", tx.fetchone()[0], CREATED, None, "logged", None)

    def _company_for_row(self, tx, writer, name: str | None, evidence: str | None) -> int | None:
        if not name:
            return None
        company_id = self.company_id_for(name)
        if company_id is None:
            company_id = tx.execute("INSERT INTO companies (name) VALUES (?) RETURNING id", [name]).fetchone()[0]
            writer.record("company", company_id, CREATED, None, name, evidence)
        return company_id

    def _create_contact(self, tx, writer, values: dict[str, Any], company_id: int | None,
                        evidence: dict[str, str], owner: str) -> int:
        if not values.get("name"):
            raise InvalidRecord("A new contact needs a name.", "Fill the name, or match the row to a contact.")
        taken = self._active_id_by_email(tx, values.get("email"))
        if taken is not None:
            raise InvalidRecord(f"A contact with the email {values['email']} already exists (contact {taken}).",
                                "Match the row to that contact instead of creating a new one.")
        contact_id = tx.execute(
            "INSERT INTO contacts (name, email, phone, title, company_id, owner) VALUES (?, ?, ?, ?, ?, ?) "
            "RETURNING id",
            [values.get("name"), values.get("email"), values.get("phone"), values.get("title"), company_id,
             owner]).fetchone()[0]
        writer.record("contact", contact_id, CREATED, None, values["name"], evidence.get("name"))
        for name in ("email", "phone", "title"):
            if values.get(name):
                writer.record("contact", contact_id, name, None, values[name], evidence.get(name))
        if company_id is not None:
            writer.record("contact", contact_id, "company_id", None, company_id, evidence.get("company"))
        return contact_id

    @staticmethod
    def _active_id_by_email(tx, email: Any) -> int | None:
        """The live contact with this email (compared trimmed, case-insensitively), if any."""
        address = _text(email)
        if address is None:
            return None
        found = tx.execute("SELECT id FROM contacts WHERE lower(trim(email)) = lower(?) AND NOT archived "
                           "ORDER BY id LIMIT 1", [address.lower()]).fetchone()
        return found[0] if found else None

    def _stale(self, tx, row: ProposedRow, field_name: str, now: Any, contact_id: int, result: SaveResult) -> bool:
        """True (and the conflict recorded) when the CRM's value changed since the rep saw it."""
        if field_name not in row.seen:
            return False
        if field_name == "company":  # the rep saw a company's name
            now = tx.execute("SELECT name FROM companies WHERE id = ?", [now]).fetchone()[0] if now else None
        if _text(row.seen[field_name]) == _text(now):
            return False
        result.conflicts.append(Conflict(contact_id=contact_id, field=field_name, seen=_text(row.seen[field_name]),
                                         current=_text(now), proposed=_text(row.values.get(field_name))))
        return True

    def _record_value(self, writer, row: ProposedRow, entity: str, entity_id: int, column: str, old: Any, new: Any,
                      field_name: str) -> None:
        """One field's change: the AI's, approved by the rep; or, where the rep typed it, the rep's own,
        with the AI's proposal and its evidence kept beside it."""
        evidence = row.evidence.get(field_name)
        if field_name in row.typed:
            ai = _text(row.typed[field_name])
            note = f"typed by the rep; the AI proposed {ai!r}" if ai else "typed by the rep; the AI proposed nothing"
            writer.record(entity, entity_id, column, old, new, f"{note}" + (f" (“{evidence}”)" if evidence else ""),
                          actor="human")
        else:
            writer.record(entity, entity_id, column, old, new, evidence)

    def _update_contact(self, tx, writer, contact_id: int, values: dict[str, Any], company_id: int | None,
                        row: ProposedRow, result: SaveResult) -> bool:
        current = tx.execute(f"SELECT {', '.join(CONTACT_COLUMNS)} FROM contacts WHERE id = ? AND NOT archived",  # noqa: S608
                             [contact_id]).fetchone()
        if current is None:
            result.skipped.append(f"contact {contact_id}: not found (deleted?)")
            return False
        locked = set() if row.unlock else self.locked_fields("contact", contact_id)
        proposed = {k: values.get(k) for k in ("name", "email", "phone", "title")}
        proposed["company_id"] = company_id
        for column, old in zip(CONTACT_COLUMNS, current, strict=True):
            new = proposed.get(column)
            if _text(new) is None or _text(new) == _text(old):
                continue
            source = "company" if column == "company_id" else column
            if column in locked or (column == "company_id" and "company" in locked):
                result.skipped.append(f"contact {contact_id}: {source} was edited by hand (locked)")
                continue
            if self._stale(tx, row, source, old, contact_id, result):
                continue
            tx.execute(f"UPDATE contacts SET {column} = ? WHERE id = ?", [new, contact_id])  # noqa: S608
            self._record_value(writer, row, "contact", contact_id, column, old, new, source)
        return True

    def _update_deal(self, tx, writer, contact_id: int, company_id: int | None, values: dict[str, Any],
                     row: ProposedRow, result: SaveResult) -> None:
        wanted = {col: values[f] for f, col in DEAL_COLUMNS.items() if f in values}
        if not wanted:
            return
        deal = tx.execute(
            """SELECT id, stage, amount, next_step, next_step_date FROM deals
               WHERE contact_id = ? AND NOT archived AND stage NOT IN ('closed_won', 'closed_lost')
               ORDER BY id DESC LIMIT 1""", [contact_id]).fetchone()
        if deal is None:
            name = tx.execute("SELECT coalesce(co.name, c.name) FROM contacts c LEFT JOIN companies co "
                              "ON co.id = c.company_id WHERE c.id = ?", [contact_id]).fetchone()[0]
            deal_id = tx.execute(
                "INSERT INTO deals (company_id, contact_id, name, stage) VALUES (?, ?, ?, ?) RETURNING id",
                [company_id, contact_id, f"{name} – new opportunity", wanted.get("stage", "lead")]).fetchone()[0]
            writer.record("deal", deal_id, CREATED, None, f"{name} – new opportunity", None)
            deal = (deal_id, None, None, None, None)
            row = row.model_copy(update={"seen": {}})  # a new deal: nothing on it the rep could have seen
        locked = set() if row.unlock else self.locked_fields("deal", deal[0])
        for column, old in zip(("stage", "amount", "next_step", "next_step_date"), deal[1:], strict=True):
            if column not in wanted or _text(wanted[column]) == _text(old):
                continue
            if column in locked:
                result.skipped.append(f"deal {deal[0]}: {column} was edited by hand (locked)")
                continue
            source = next(f for f, c in DEAL_COLUMNS.items() if c == column)
            if self._stale(tx, row, source, old, contact_id, result):
                continue
            tx.execute(f"UPDATE deals SET {column} = ? WHERE id = ?", [wanted[column], deal[0]])  # noqa: S608
            self._record_value(writer, row, "deal", deal[0], column, old, wanted[column], source)

    # -- the team's own fields ------------------------------------------------------------------------

    def refresh(self, max_age_s: float | None = None) -> None:
        """Nothing to do: the built-in CRM is its own system of record (HubSpotCrm syncs its mirror here)."""

    def custom_values(self, entity: str, entity_id: int) -> dict[str, str | None]:
        """The catalogue fields' values of one contact or deal, by key."""
        rows = self.db.cursor().execute("SELECT key, value FROM custom_values WHERE entity = ? AND entity_id = ?",
                                        [entity, entity_id]).fetchall()
        return dict(rows)

    def _save_custom(self, tx, writer: _ChangeWriter, contact_id: int, company_id: int | None,
                     values: dict[str, Any], row: ProposedRow, result: SaveResult) -> None:
        """Catalogue fields of a row: kept in custom_values, each change in field_history as custom.<key>;
        a value changed since the rep saw it is a conflict, left alone, as for the built-in fields."""
        for definition in self.catalogue.fields:
            if definition.key not in values:
                continue
            entity_id = contact_id if definition.entity == "contact" else self._open_deal(tx, writer, contact_id, company_id)
            new = _text(values[definition.key])
            found = tx.execute("SELECT value FROM custom_values WHERE entity = ? AND entity_id = ? AND key = ?",
                               [definition.entity, entity_id, definition.key]).fetchone()
            old = found[0] if found else None
            if old == new or self._stale(tx, row, definition.key, old, contact_id, result):
                continue
            _set_custom(tx, definition.entity, entity_id, definition.key, new)
            self._record_value(writer, row, definition.entity, entity_id, definition.history_field, old, new,
                               definition.key)

    def _open_deal(self, tx, writer: _ChangeWriter, contact_id: int, company_id: int | None) -> int:
        """The contact's latest open deal (created, and recorded, when it has none)."""
        found = tx.execute("""SELECT id FROM deals WHERE contact_id = ? AND NOT archived
                              AND stage NOT IN ('closed_won', 'closed_lost') ORDER BY id DESC LIMIT 1""",
                           [contact_id]).fetchone()
        if found:
            return found[0]
        name = tx.execute("SELECT coalesce(co.name, c.name) FROM contacts c LEFT JOIN companies co "
                          "ON co.id = c.company_id WHERE c.id = ?", [contact_id]).fetchone()[0]
        deal_id = tx.execute("INSERT INTO deals (company_id, contact_id, name, stage) VALUES (?, ?, ?, 'lead') "
                             "RETURNING id", [company_id, contact_id, f"{name} – new opportunity"]).fetchone()[0]
        writer.record("deal", deal_id, CREATED, None, f"{name} – new opportunity", None)
        return deal_id

    def import_contacts(self, rows: list[dict[str, Any]], user: str) -> SaveResult:
        """Create the given contacts (and their companies) in one transaction, with history."""
        result = SaveResult(change_set_id=uuid.uuid4().hex)
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO change_sets VALUES (?, ?, ?, 'import', NULL, NULL, NULL, ?)",
                       [result.change_set_id, _now(), user, f"{len(rows)} contact(s) from CSV"])
            writer = _ChangeWriter(tx, result.change_set_id, actor="import", approved_by=user)
            for row in rows:
                company_id = self._company_for_row(tx, writer, row.get("company"), None)
                contact_id = self._create_contact(tx, writer, row, company_id, {}, row.get("owner") or user)
                result.created_contacts.append(contact_id)
            result.changes = writer.count
        return result

    def known_emails(self) -> set[str]:
        rows = self.db.cursor().execute("SELECT lower(email) FROM contacts WHERE email IS NOT NULL").fetchall()
        return {r[0] for r in rows}

    def edit_by_hand(self, entity: str, entity_id: int, column: str, value: Any, user: str, *,
                     expected: Any = _ANY) -> str:
        """A person's own edit: recorded with actor human, which locks the field against AI values.

        With `expected` (the value the person saw), the edit is refused when the field changed since,
        so nobody's edit is lost without a word: the error names both values."""
        table, allowed = _EDITABLE[entity]
        if column not in allowed:
            raise InvalidRecord(f"{column} cannot be edited on a {entity}.")
        problems = validate_values({_FIELD_OF.get(column, column): value})
        if problems:
            raise InvalidRecord("; ".join(problems))
        change_set_id = uuid.uuid4().hex
        with self.db.transaction() as tx:
            old = tx.execute(f"SELECT {column} FROM {table} WHERE id = ?", [entity_id]).fetchone()  # noqa: S608
            if old is None:
                raise InvalidRecord(f"No {entity} with id {entity_id}.")
            if expected is not _ANY and _text(expected) != _text(old[0]):
                raise InvalidRecord(
                    f"{_FIELD_NAMES.get(column, column).capitalize()} changed while you were editing it: it is now "
                    f"{_text(old[0]) or 'empty'!r} (you saw {_text(expected) or 'empty'!r}); your "
                    f"{_text(value) or 'empty'!r} was not saved.",
                    "Check the new value, then enter yours again if it should still change.")
            tx.execute("INSERT INTO change_sets VALUES (?, ?, ?, 'manual', NULL, NULL, NULL, ?)",
                       [change_set_id, _now(), user, f"{entity} {entity_id}: {column}"])
            tx.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [value, entity_id])  # noqa: S608
            _ChangeWriter(tx, change_set_id, actor="human", approved_by=user).record(
                entity, entity_id, column, old[0], value, None)
        return change_set_id

    def log_interaction(self, contact_id: int, kind: str, summary: str, note: str | None, author: str,
                        call_id: str | None = None) -> int:
        """Record a touch a person made (e.g. a follow-up email sent), as a manual change set; its id."""
        change_set_id = uuid.uuid4().hex
        with self.db.transaction() as tx:
            if tx.execute("SELECT 1 FROM contacts WHERE id = ? AND NOT archived", [contact_id]).fetchone() is None:
                raise InvalidRecord(f"No contact with id {contact_id}.")
            tx.execute("INSERT INTO change_sets VALUES (?, ?, ?, 'manual', NULL, NULL, ?, ?)",
                       [change_set_id, _now(), author, call_id, f"{kind} logged for contact {contact_id}"])
            interaction_id = tx.execute(
                """INSERT INTO interactions (contact_id, ts, kind, summary, note, author, change_set_id, call_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                [contact_id, _now(), kind, summary, note, author, change_set_id, call_id]).fetchone()[0]
            _ChangeWriter(tx, change_set_id, actor="human", approved_by=author, call_id=call_id).record(
                "interaction", interaction_id, CREATED, None, "logged", None)
        return interaction_id

    def undo(self, change_set_id: str, user: str) -> SaveResult:
        """Revert every change of a change set, as a new change set. Conflicts are skipped, not forced."""
        rows = self._history_rows("change_set_id = ?", change_set_id)
        if not rows:
            raise InvalidRecord(f"Nothing to undo: change set {change_set_id} is unknown or empty.")
        undone = self.db.cursor().execute(
            "SELECT id FROM change_sets WHERE reverts = ? AND kind = 'undo'", [change_set_id]).fetchone()
        if undone:
            return SaveResult(change_set_id=undone[0], already_saved=True)
        return self._revert(rows[::-1], user, kind="undo", reverts=change_set_id)

    def revert_change(self, history_id: int, user: str) -> SaveResult:
        """Put back the old value of one recorded change, as a new change set."""
        rows = self._history_rows("id = ?", history_id)
        if not rows:
            raise InvalidRecord(f"No recorded change with id {history_id}.")
        return self._revert(rows, user, kind="revert", reverts=rows[0].change_set_id)

    def _history_rows(self, where: str, value: Any) -> list[Any]:
        """field_history rows as plain tuples with attribute access (no NaN for NULL, unlike pandas)."""
        cur = self.db.cursor().execute(f"SELECT * FROM field_history WHERE {where} ORDER BY id", [value])  # noqa: S608
        names = [d[0] for d in cur.description]
        row_type = namedtuple("HistoryRow", names)  # noqa: PYI024
        return [row_type(*r) for r in cur.fetchall()]

    def _revert(self, rows: list[Any], user: str, *, kind: str, reverts: str) -> SaveResult:
        result = SaveResult(change_set_id=uuid.uuid4().hex)
        created = self._created_in(reverts)  # records that change set made: undoing it archives them
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO change_sets VALUES (?, ?, ?, ?, NULL, ?, NULL, ?)",
                       [result.change_set_id, _now(), user, kind, reverts, f"{kind} of {reverts}"])
            writer = _ChangeWriter(tx, result.change_set_id, actor="undo", approved_by=user)
            for row in rows:
                if row.field != CREATED and (row.entity, row.entity_id) in created:
                    if kind == "revert":  # its old value is "no record": only the whole save can take it back
                        result.skipped.append(
                            f"{row.entity} {row.entity_id}: {_FIELD_NAMES.get(row.field, row.field)} was set when "
                            "that save created it; undo the whole save to remove it")
                    continue  # undo: the CREATED row archives the record, its fields stay as they were
                self._revert_one(tx, writer, row, result)
            result.changes = writer.count
        return result

    def _created_in(self, change_set_id: str) -> set[tuple[str, int]]:
        rows = self.db.cursor().execute(
            "SELECT entity, entity_id FROM field_history WHERE change_set_id = ? AND field = ?",
            [change_set_id, CREATED]).fetchall()
        return {(e, int(i)) for e, i in rows}

    def _revert_one(self, tx, writer: _ChangeWriter, row: Any, result: SaveResult) -> None:
        if row.field.startswith(PREFIX) and row.entity in ("contact", "deal"):
            self._revert_custom(tx, writer, row, result)
            return
        table = _TABLES[row.entity]
        if row.field not in _REVERTIBLE[row.entity] | {CREATED}:  # identifiers in SQL come from this list only
            result.skipped.append(f"{row.entity} {row.entity_id}: {row.field} cannot be reverted")
            return
        if row.field == CREATED:
            tx.execute(f"UPDATE {table} SET archived = TRUE WHERE id = ?", [row.entity_id])  # noqa: S608
            writer.record(row.entity, row.entity_id, "archived", "false", "true", None, row.id)
            return
        current = tx.execute(f"SELECT {row.field} FROM {table} WHERE id = ?", [row.entity_id]).fetchone()  # noqa: S608
        if current is None or _text(current[0]) != _text(row.new_value):
            result.skipped.append(
                f"{row.entity} {row.entity_id}: {row.field} changed since ({_text(current[0]) if current else 'gone'}"
                f" ≠ {row.new_value}); left as is")
            return
        tx.execute(f"UPDATE {table} SET {row.field} = ? WHERE id = ?", [row.old_value, row.entity_id])  # noqa: S608
        writer.record(row.entity, row.entity_id, row.field, current[0], row.old_value, None, row.id)

    def _revert_custom(self, tx, writer: _ChangeWriter, row: Any, result: SaveResult) -> None:
        key = row.field[len(PREFIX):]
        current = tx.execute("SELECT value FROM custom_values WHERE entity = ? AND entity_id = ? AND key = ?",
                             [row.entity, row.entity_id, key]).fetchone()
        now = current[0] if current else None
        if now != _text(row.new_value):
            result.skipped.append(f"{row.entity} {row.entity_id}: {key} changed since ({now} ≠ {row.new_value}); "
                                  "left as is")
            return
        _set_custom(tx, row.entity, row.entity_id, key, row.old_value)
        writer.record(row.entity, row.entity_id, row.field, now, row.old_value, None, row.id)


def _set_custom(tx, entity: str, entity_id: int, key: str, value: str | None) -> None:
    tx.execute("""INSERT INTO custom_values (entity, entity_id, key, value) VALUES (?, ?, ?, ?)
                  ON CONFLICT (entity, entity_id, key) DO UPDATE SET value = EXCLUDED.value""",
               [entity, int(entity_id), key, value])


def _insert_frame(tx, dialect: str, table: str, frame: pd.DataFrame) -> None:
    """Insert a seed frame's rows into `table` (a name from this module, never user text)."""
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    if dialect == "duckdb":  # DuckDB reads the frame in place, far faster than row by row
        tx.register("seed_frame", frame)
        tx.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM seed_frame")  # noqa: S608
        tx.unregister("seed_frame")
        return
    rows = [[None if pd.isna(v) else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for v in row]
            for row in frame.itertuples(index=False)]
    marks = "(" + ", ".join("?" for _ in frame.columns) + ")"
    for start in range(0, len(rows), 200):  # a few statements, not one round trip per row
        chunk = rows[start:start + 200]
        tx.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join(marks for _ in chunk)}",  # noqa: S608
                   [v for row in chunk for v in row])


@dataclass
class _ChangeWriter:
    """Writes field_history rows for one change set."""

    tx: duckdb.DuckDBPyConnection
    change_set_id: str
    actor: str
    approved_by: str | None = None
    call_id: str | None = None
    request_id: str | None = None
    count: int = 0

    def record(self, entity: str, entity_id: int, column: str, old: Any, new: Any, evidence: str | None,
               reverts: int | None = None, *, actor: str | None = None) -> None:
        self.tx.execute(
            """INSERT INTO field_history (change_set_id, ts, entity, entity_id, field, old_value, new_value,
                   actor, approved_by, call_id, request_id, evidence, reverts_history_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [self.change_set_id, _now(), entity, int(entity_id), column, _text(old), _text(new), actor or self.actor,
             self.approved_by, self.call_id, self.request_id, evidence, reverts])
        self.count += 1


_TABLES = {"contact": "contacts", "company": "companies", "deal": "deals", "interaction": "interactions"}
_REVERTIBLE = {
    "contact": {"name", "email", "phone", "title", "company_id", "archived"},
    "deal": {"stage", "amount", "next_step", "next_step_date", "archived"},
    "company": {"name", "domain", "industry", "city", "archived"},
    "interaction": {"archived"},
}
_EDITABLE = {
    "contact": ("contacts", {"name", "email", "phone", "title", "company_id"}),
    "deal": ("deals", {"stage", "amount", "next_step", "next_step_date"}),
}
_FIELD_OF = {"stage": "deal_stage"}
_FIELD_NAMES = {"company_id": "company", "stage": "stage", "next_step_date": "next step date",
                "next_step": "next step"}


def _first_line(note: str, limit: int = 140) -> str:
    lines = [ln.strip() for ln in note.splitlines() if ln.strip() and not ln.lower().startswith(("date:", "rep:"))]
    first = lines[0] if lines else note.strip()
    return first if len(first) <= limit else first[: limit - 1] + "…"


def _note_ts(note_date: date | None) -> datetime:
    if note_date is None:
        return _now()
    return datetime(note_date.year, note_date.month, note_date.day, 12, tzinfo=UTC).replace(tzinfo=None)
