"""The review's model: what Claude proposed beside what the CRM holds, per person and field.

A Review is a DataFrame (one row per person: the contact it goes to, why, and per field the current
CRM value beside the proposed one) plus, per row, what the table does not hold (evidence,
candidates, the call that proposed it, the fields the rep left out). The Extract page shows one box
per person with one line per field; its edits come back through `set_value`, `choose_contact`,
`set_field_accept` and `accept_person` (or, as a grid's edited rows, `apply_edits`). A person's
`accept` says the person is saved; within them, the fields in `RowMeta.held` are left out, so a rep
may accept some fields of a person and not others. `problems` flags what cannot be saved;
`to_save_request` keeps only accepted people, only their accepted fields, and only the values that
change something. `to_payload` / `from_payload` keep a review not yet saved (lib/work/work_store.py).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from lib.claude.gateway import CallResult
from lib.core.errors import InputRejected
from lib.core.text import looks_like_email, reads_like_instruction
from lib.crm.fields import EMPTY, FieldCatalogue
from lib.crm.matching import ContactIndex, Match, contacts_frame, normalize_company
from lib.crm.records import ALL_FIELDS, STAGES, Conflict, ProposedRow, SaveRequest
from lib.crm.store import CrmStore
from lib.work.extraction import NoteExtraction
from lib.work.schemas import ExtractedPerson, extraction_model

CREATE_NEW = "➕ Create new contact"
CHOOSE = "❓ Choose a contact…"
MIN_CONFIDENCE_TO_PRESELECT = 0.5
_ID_IN_LABEL = re.compile(r"\(#(\d+)\)$")
FIELD_LABELS = {"name": "Name", "email": "Email", "company": "Company", "title": "Title", "phone": "Phone",
                "deal_stage": "Stage", "next_step": "Next step", "next_step_date": "Next step date",
                "amount": "Amount"}


@dataclass
class RowMeta:
    """What a grid row carries that the grid does not show."""

    note_key: str
    person: ExtractedPerson
    match: Match
    options: list[str]
    call_id: str | None
    request_id: str | None
    held: set[str] = field(default_factory=set)  # fields the rep left out of an accepted person


@dataclass
class Review:
    """Rows to review, and the notes they came from."""

    frame: pd.DataFrame
    meta: list[RowMeta]
    notes: dict[str, NoteExtraction]
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    catalogue: FieldCatalogue = EMPTY  # the team's own fields, shown after the built-in ones
    built_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # when the CRM values were read

    @property
    def fields(self) -> tuple[str, ...]:
        """Every reviewed field: the built-in ones, then the catalogue's."""
        return ALL_FIELDS + tuple(self.catalogue.keys)

    def label(self, name: str) -> str:
        found = self.catalogue.get(name)
        return found.label if found else FIELD_LABELS.get(name, name)

    @property
    def contact_options(self) -> list[str]:
        """Every label the Contact column may hold (the selectbox's options are per column)."""
        seen: dict[str, None] = {CHOOSE: None, CREATE_NEW: None}
        for meta in self.meta:
            seen.update(dict.fromkeys(meta.options))
        return list(seen)


def accepted_fields(review: Review, i: int) -> list[str]:
    """The fields of row `i` that a save would write (if they change something): none unless the person is accepted."""
    if not review.frame.at[i, "accept"]:
        return []
    held = review.meta[review.frame.index.get_loc(i)].held
    return [f for f in review.fields if f not in held]


def field_accepted(review: Review, i: int, name: str) -> bool:
    return name in accepted_fields(review, i)


def set_field_accept(review: Review, i: int, name: str, accepted: bool) -> None:
    """The rep ticks or unticks one field. Ticking a field of a person not accepted accepts the person
    with that field alone; unticking a person's last accepted field leaves the person out."""
    meta = review.meta[review.frame.index.get_loc(i)]
    if accepted:
        if not review.frame.at[i, "accept"]:
            meta.held = set(review.fields)
            review.frame.at[i, "accept"] = True
        meta.held.discard(name)
    else:
        meta.held.add(name)
        if not any(_filled(review.frame.at[i, f]) for f in review.fields if f not in meta.held):
            review.frame.at[i, "accept"] = False
    refresh_checks(review)


def accept_person(review: Review, i: int, accepted: bool = True) -> None:
    """Accept (or leave out) a whole person: every field of theirs, none held back."""
    review.frame.at[i, "accept"] = accepted
    review.meta[review.frame.index.get_loc(i)].held = set()
    refresh_checks(review)


def set_value(review: Review, i: int, name: str, value: Any) -> None:
    """The rep typed or picked a value: it is kept as typed (even when it cannot be saved, so its reason
    shows beside it) and the field is accepted, since the rep decided it."""
    review.frame.at[i, name] = _coerce(name, value)
    if not field_accepted(review, i, name):
        set_field_accept(review, i, name, True)
    refresh_checks(review)


def choose_contact(review: Review, i: int, label: str, crm: CrmStore) -> None:
    """The rep chose the contact (or Create new): the current values are read again for that contact."""
    review.frame.at[i, "contact"] = label
    refresh_current(review, i, crm)
    refresh_checks(review)


def has_content(review: Review, i: int, name: str) -> bool:
    """Whether a field of row `i` holds anything: a proposal or a current value (the others fold away)."""
    return _filled(review.frame.at[i, name]) or _filled(review.frame.at[i, f"{name}_crm"])


def changes(review: Review, i: int, name: str) -> bool:
    """Whether saving this field of row `i` would change the CRM."""
    value = review.frame.at[i, name]
    return _filled(value) and (contact_id_of(review.frame.at[i, "contact"]) is None
                               or not _same(name, value, review.frame.at[i, f"{name}_crm"]))


def shown_value(value: Any) -> str:
    """A value as the review shows it as text: empty as an em dash, dates as ISO, amounts without trailing zeros."""
    if not _filled(value):
        return "—"
    if isinstance(value, pd.Timestamp | date):
        return _plain(value).isoformat()  # a Timestamp's date, or the date itself
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def note_preview(note: str, width: int = 60) -> str:
    """The start of a note as the review's header shows it, past its 'Date:' line."""
    lines = [line for line in note.splitlines() if line.strip() and not line.lower().startswith("date:")]
    text = " ".join(" ".join(lines).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def note_index(review: Review, i: int) -> tuple[int, NoteExtraction]:
    """The note row `i` came from, and its number (1 = first note read)."""
    key = review.meta[review.frame.index.get_loc(i)].note_key
    return list(review.notes).index(key) + 1, review.notes[key]


def contact_label(contact_id: int, name: str, company: str | None) -> str:
    return f"{name} · {company or 'no company'} (#{contact_id})"


def contact_id_of(label: str) -> int | None:
    found = _ID_IN_LABEL.search(label or "")
    return int(found.group(1)) if found else None


def current_values(crm: CrmStore, contact_id: int | None, catalogue: FieldCatalogue = EMPTY
                   ) -> tuple[dict[str, Any], set[str]]:
    """The CRM's values of every reviewed field for a contact, and the fields locked by hand edits."""
    if contact_id is None:
        return dict.fromkeys(ALL_FIELDS + tuple(catalogue.keys)), set()
    contact = crm.get_contact(contact_id)
    deal = crm.deal_for_contact(contact_id)
    values = dict.fromkeys(ALL_FIELDS)
    if contact is not None:
        values |= {"name": contact.name, "email": contact.email, "company": contact.company, "title": contact.title,
                   "phone": contact.phone}
    if deal is not None:
        values |= {"deal_stage": deal.stage, "next_step": deal.next_step, "next_step_date": _as_date(deal.next_step_date),
                   "amount": float(deal.amount) if deal.amount is not None else None}
    locked = crm.locked_fields("contact", contact_id)
    if deal is not None:
        locked |= {"deal_stage" if f == "stage" else f for f in crm.locked_fields("deal", deal.id)}
    locked = {"company" if f == "company_id" else f for f in locked}
    if catalogue:
        values |= _custom_current(crm, catalogue, contact_id, deal.id if deal is not None else None)
    return values, locked


def _custom_current(crm: CrmStore, catalogue: FieldCatalogue, contact_id: int, deal_id: int | None) -> dict[str, Any]:
    """The catalogue fields' current values: on the contact, or on its deal."""
    held = {"contact": crm.custom_values("contact", contact_id),
            "deal": crm.custom_values("deal", deal_id) if deal_id is not None else {}}
    return {f.key: held[f.entity].get(f.key) for f in catalogue.fields}


def build_review(extractions: list[NoteExtraction], crm: CrmStore, catalogue: FieldCatalogue = EMPTY) -> Review:
    """One row per person found, matched to the CRM, with the current values beside the proposed."""
    built_at = datetime.now(UTC)
    crm.refresh(max_age_s=0)  # a store mirroring another CRM (HubSpot) syncs now: "current" is its value now
    contacts = crm.contacts()
    index = ContactIndex(contacts_frame(contacts))
    names = {c.id: c for c in contacts}
    rows, meta = [], []
    for extraction in extractions:
        for person in extraction.people:
            match = index.match({"name": person.name, "email": person.email, "company": person.company,
                                 "phone": person.phone})
            options = [contact_label(c.id, names[c.id].name, names[c.id].company)
                       for c in match.candidates if c.id in names]
            chosen = _initial_choice(match, options)
            current, locked = current_values(crm, contact_id_of(chosen), catalogue)
            rows.append(_row(person, match, chosen, current, locked, catalogue))
            meta.append(RowMeta(note_key=extraction.key, person=person, match=match, options=options,
                                call_id=extraction.result.call_id, request_id=extraction.result.request_id))
    frame = pd.DataFrame(rows, columns=grid_columns(catalogue.keys), dtype=object)  # a typed value stays as typed
    built = Review(frame=frame, meta=meta, notes={e.key: e for e in extractions}, catalogue=catalogue,
                   built_at=built_at)
    refresh_checks(built)
    return built


def grid_columns(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    columns = ["accept", "contact", "match", "confidence"]
    for name in ALL_FIELDS + tuple(extra):
        columns += [f"{name}_crm", name]
    return columns + ["locked", "unlock", "check"]


def _initial_choice(match: Match, options: list[str]) -> str:
    if match.status == "matched":
        return next(o for o in options if contact_id_of(o) == match.contact_id)
    return CREATE_NEW if match.status == "new" else CHOOSE


def _proposed(person: ExtractedPerson, catalogue: FieldCatalogue = EMPTY) -> dict[str, Any]:
    """What Claude proposed for each field (the built-in ones, then the catalogue's)."""
    return {
        "name": person.name, "email": person.email, "company": person.company, "title": person.title,
        "phone": person.phone, "deal_stage": person.deal_stage.value if person.deal_stage else None,
        "next_step": person.next_step, "next_step_date": person.next_step_date, "amount": person.amount,
    } | {key: getattr(person, key, None) for key in catalogue.keys}


def _row(person: ExtractedPerson, match: Match, chosen: str, current: dict[str, Any], locked: set[str],
         catalogue: FieldCatalogue = EMPTY) -> dict[str, Any]:
    proposed = _proposed(person, catalogue)
    row: dict[str, Any] = {
        "accept": preaccepted(person, match, chosen, current),
        "contact": chosen,
        "match": f"{match.status}: " + "; ".join(match.reasons) if match.reasons else match.status,
        "confidence": round(person.confidence, 2),
    }
    for name in ALL_FIELDS + tuple(catalogue.keys):
        row[f"{name}_crm"] = current.get(name)
        row[name] = proposed[name]
    row["locked"] = ", ".join(sorted(locked & _changing(proposed, current)))
    row["unlock"] = False
    row["check"] = ""
    return row


def instruction_flags(person: ExtractedPerson) -> list[str]:
    """Fields whose value or evidence reads like an instruction to the model, not a fact about the customer."""
    values = person.model_dump(mode="json")
    return sorted({e.field.value for e in person.evidence if reads_like_instruction(e.quote)}
                  | {f for f in ALL_FIELDS if isinstance(values.get(f), str) and reads_like_instruction(values[f])})


def preaccepted(person: ExtractedPerson, match: Match, chosen: str, current: dict[str, Any]) -> bool:
    """Ticked Accept from the start only where it is safe to: a confident, unflagged proposal that
    changes an existing contact; never a new contact, never a move to closed-won or closed-lost."""
    closing = person.deal_stage is not None and person.deal_stage.value.startswith("closed") \
        and current.get("deal_stage") != person.deal_stage.value
    return (contact_id_of(chosen) is not None and match.status not in ("ambiguous", "new")
            and person.confidence >= MIN_CONFIDENCE_TO_PRESELECT and not instruction_flags(person) and not closing
            and bool(_changing(_proposed(person), current)))  # nothing to change: nothing to pre-accept


def _changing(proposed: dict[str, Any], current: dict[str, Any]) -> set[str]:
    return {f for f in proposed if _filled(proposed.get(f)) and not _same(f, proposed[f], current.get(f))}


def _same(name: str, proposed: Any, current: Any) -> bool:
    """Would writing `proposed` leave the CRM as it is? Companies compare without legal suffixes."""
    if name == "company" and _filled(proposed) and _filled(current):
        return normalize_company(proposed) == normalize_company(current)
    return _norm(proposed) == _norm(current)


def apply_edits(review: Review, edited_rows: dict[int, dict[str, Any]], crm: CrmStore) -> None:
    """Fold the grid's edits into the review; a new contact choice refreshes that row's CRM values."""
    for position, changes in edited_rows.items():
        i = review.frame.index[int(position)]
        for column, value in changes.items():
            if column in review.frame.columns and not column.endswith("_crm"):
                review.frame.at[i, column] = _coerce(column, value)
        if "contact" in changes:
            refresh_current(review, i, crm)
    refresh_checks(review)


def refresh_current(review: Review, i: int, crm: CrmStore) -> None:
    current, locked = current_values(crm, contact_id_of(review.frame.at[i, "contact"]), review.catalogue)
    proposed = {f: review.frame.at[i, f] for f in review.fields}
    for name in review.fields:
        review.frame.at[i, f"{name}_crm"] = current.get(name)
    review.frame.at[i, "locked"] = ", ".join(sorted(locked & _changing(proposed, current)))


def field_problems(name: str, value: Any, catalogue: FieldCatalogue = EMPTY) -> list[str]:
    """What is wrong with one value (empty: nothing): shown beside the field whether or not it is accepted."""
    if not _filled(value):
        return []
    if name == "email" and not looks_like_email(str(value)):
        return [f"'{value}' is not an email address"]
    if name == "deal_stage" and value not in STAGES:
        return [f"'{value}' is not a stage"]
    if name == "amount":
        try:
            return ["amount below zero"] if float(value) < 0 else []
        except (TypeError, ValueError):
            return [f"'{value}' is not an amount"]
    if name == "next_step_date" and not isinstance(value, date):
        try:
            date.fromisoformat(str(value)[:10])
        except ValueError:
            return [f"'{value}' is not a date (use YYYY-MM-DD)"]
    definition = catalogue.get(name)
    return definition.problems(value) if definition else []


def problems(row: pd.Series, fields: list[str] | None = None, catalogue: FieldCatalogue = EMPTY) -> list[str]:
    """Why an accepted row cannot be saved as it is (an empty list: it can). `fields`: the accepted
    ones (default: the built-in fields); a value left out of the save cannot stop it."""
    fields = list(ALL_FIELDS) if fields is None else fields
    found = []
    if row["contact"] == CHOOSE:
        found.append("choose a contact or 'Create new'")
    if row["contact"] == CREATE_NEW and not (_filled(row["name"]) and "name" in fields):
        found.append("a new contact needs a name")
    for name in fields:
        found += field_problems(name, row[name], catalogue)
    return found


def refresh_checks(review: Review) -> None:
    """Fill the 'check' column: problems of accepted rows, and what is locked."""
    for (i, row), meta in zip(review.frame.iterrows(), review.meta, strict=True):
        issues = problems(row, accepted_fields(review, i), review.catalogue) if row["accept"] else []
        if flagged := instruction_flags(meta.person):
            issues.append(f"⚠ reads like an instruction to the model, not a fact: {', '.join(flagged)}")
        if row["locked"] and not row["unlock"]:
            issues.append(f"🔒 kept as edited by hand: {row['locked']}")
        review.frame.at[i, "check"] = "; ".join(issues) if issues else "✓"


def blocking_problems(review: Review) -> list[str]:
    """Problems that stop the save, with the person they concern."""
    return [f"{row['name'] or 'row ' + str(n + 1)}: {p}" for n, (i, row) in enumerate(review.frame.iterrows())
            if row["accept"] for p in problems(row, accepted_fields(review, i), review.catalogue)]


def to_save_request(review: Review, user: str) -> SaveRequest:
    """Accepted rows only; for each, the proposed values that differ from the CRM."""
    rows = []
    for meta, (i, row) in zip(review.meta, review.frame.iterrows(), strict=True):
        if not row["accept"]:
            continue
        contact_id = contact_id_of(row["contact"])
        values = {f: _plain(row[f]) for f in accepted_fields(review, i)
                  if _filled(row[f]) and (contact_id is None or not _same(f, row[f], row[f"{f}_crm"]))}
        note = review.notes[meta.note_key]
        proposed = _proposed(meta.person, review.catalogue)
        typed = {f: proposed[f] for f in values if not _same(f, row[f], proposed[f])}  # the rep's own values
        seen = {f: _plain(row[f"{f}_crm"]) for f in values} if contact_id is not None else {}
        rows.append(ProposedRow(
            contact_id=contact_id, values=values, unlock=bool(row["unlock"]), typed=typed, seen=seen,
            evidence={e.field.value: e.quote for e in meta.person.evidence},
            confidence=float(row["confidence"]), note=note.note, note_date=note.note_date,
            call_id=meta.call_id, request_id=meta.request_id))
    return SaveRequest(review_key=review.key, user=user, rows=rows, built_at=review.built_at)


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and pd.isna(value):
        return False
    return not (isinstance(value, str) and not value.strip())


def _norm(value: Any) -> str:
    """Compare values as the CRM would store them: trimmed text, numbers without trailing zeros."""
    if not _filled(value):
        return ""
    if isinstance(value, float | int):
        return f"{float(value):g}"
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip().casefold()


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    return value


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _coerce(column: str, value: Any) -> Any:
    """Values from the grid's JSON edits, back into the column's type."""
    if column == "next_step_date" and isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value  # kept as typed: the check says why it cannot be saved
    if column in ("amount", "confidence") and value not in (None, ""):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    return value


def conflict_request(conflicts: list[Conflict], user: str, change_set_id: str) -> SaveRequest:
    """The rep chose the proposed values over what changed in the CRM: a save of just those fields,
    checked against the values the CRM holds now (so a further change is caught again)."""
    rows: dict[int, ProposedRow] = {}
    for c in conflicts:
        row = rows.setdefault(c.contact_id, ProposedRow(contact_id=c.contact_id, unlock=True))  # the rep's choice
        row.values[c.field] = c.proposed
        row.seen[c.field] = c.current
        row.typed[c.field] = c.proposed  # the rep decided this value over the CRM's: theirs
    key = f"{change_set_id}:conflicts:" + ",".join(f"{c.contact_id}.{c.field}={c.current}" for c in conflicts)
    return SaveRequest(review_key=key, user=user, rows=list(rows.values()))


# -- a review not yet saved, kept as JSON (lib/work/work_store.py) and built again ----------------------


def to_payload(review: Review) -> dict[str, Any]:
    """What rebuilds this review: the notes and what Claude proposed, and the rep's choices and edits.
    The CRM's current values are not kept: they are read again when the review is resumed."""
    notes = [{"key": n.key, "note": n.note, "note_date": n.note_date.isoformat() if n.note_date else None,
              "people": [p.model_dump(mode="json") for p in n.people], "attempts": n.attempts,
              "call": {"call_id": n.result.call_id, "backend": n.result.backend, "model": n.result.model,
                       "request_id": n.result.request_id, "stop_reason": n.result.stop_reason}}
             for n in review.notes.values()]
    rows = [{"contact": row["contact"], "accept": bool(row["accept"]), "unlock": bool(row["unlock"]),
             "held": sorted(meta.held), "values": {f: _json_value(row[f]) for f in review.fields}}
            for meta, (_, row) in zip(review.meta, review.frame.iterrows(), strict=True)]
    return {"key": review.key, "notes": notes, "rows": rows}


def from_payload(payload: dict[str, Any], crm: CrmStore, catalogue: FieldCatalogue = EMPTY) -> Review:
    """The review `to_payload` kept, matched and read against the CRM as it is now, with the rep's choices.
    Raises InputRejected when it cannot be read (e.g. the field catalogue changed since)."""
    try:
        notes = _notes_of(payload, catalogue)
    except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise InputRejected("The review you left unsaved could not be rebuilt.",
                            f"Extract the notes again ({type(exc).__name__}).") from exc
    review = build_review(notes, crm, catalogue)
    review.key = payload["key"]  # the same review: saving it twice is still one change set
    if len(payload["rows"]) != len(review.frame):
        return review  # the proposals changed shape (should not happen): start from them, not from stale choices
    for (i, _), meta, kept in zip(review.frame.iterrows(), review.meta, payload["rows"], strict=True):
        if kept["contact"] not in (CHOOSE, CREATE_NEW) and kept["contact"] not in meta.options:
            meta.options.append(kept["contact"])  # a contact the rep chose by hand, not among the candidates
        review.frame.at[i, "contact"] = kept["contact"]
        refresh_current(review, i, crm)
        for name, value in kept["values"].items():
            if name in review.fields:
                review.frame.at[i, name] = _from_json(name, value, catalogue)
        review.frame.at[i, "accept"] = kept["accept"]
        review.frame.at[i, "unlock"] = kept["unlock"]
        meta.held = set(kept["held"])
    refresh_checks(review)
    return review


def _notes_of(payload: dict[str, Any], catalogue: FieldCatalogue) -> list[NoteExtraction]:
    person_model = extraction_model(catalogue)
    return [NoteExtraction(note=n["note"], note_date=date.fromisoformat(n["note_date"]) if n["note_date"] else None,
                           people=person_model.model_validate({"people": n["people"]}).people,
                           result=CallResult(**n["call"]), attempts=n.get("attempts", 1), key=n["key"])
            for n in payload["notes"]]


def payload_json(review: Review) -> str:
    """The payload as text (what the store keeps), e.g. to tell whether anything changed."""
    return json.dumps(to_payload(review), sort_keys=True)


def _json_value(value: Any) -> Any:
    if not _filled(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _from_json(name: str, value: Any, catalogue: FieldCatalogue) -> Any:
    definition = catalogue.get(name)
    is_date = name == "next_step_date" or (definition is not None and definition.type == "date")
    if is_date and isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value  # kept as the rep typed it; its check says why
    return value
