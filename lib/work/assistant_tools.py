"""The assistant's client tools: read-only lookups over CrmStore, and propose_change (which writes nothing).

`CrmTools.run(name, input)` returns a ToolOutput: compact JSON text for the tool_result block, and
`is_error` with a message that says what to try next when a tool fails or finds nothing. The errors a
lookup can raise (bad input, a database error) are caught by name and become is_error results, so one
failing tool never ends the conversation. The tool definitions (JSON schemas) live in lib/claude/prompts.py.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from lib.core.db import DB_ERRORS
from lib.crm.records import ALL_FIELDS, Contact, Deal
from lib.crm.store import CrmStore, validate_values

MAX_SEARCH_RESULTS = 10
MAX_INTERACTIONS = 20
PROPOSE_CHANGE = "propose_change"


class ToolFailed(Exception):
    """A tool found nothing or cannot do what was asked; the message goes back to Claude as is_error."""


@dataclass
class ToolOutput:
    content: str
    is_error: bool = False
    proposal: dict[str, Any] | None = None  # set by propose_change: the checked proposal


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar: Decimal as float, timestamps as dates, numpy scalars as Python ones."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy int64 / float64 from DataFrames
        return value.item()
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _clean(record: dict[str, Any] | None) -> dict[str, Any]:
    """A record without empty values (NaN/None), timestamps as dates: compact for the prompt."""
    out = {}
    for key, value in (record or {}).items():
        value = _plain(value)
        if value is None or (isinstance(value, float) and value != value):
            continue
        out[key] = value
    return out


def _contact_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ToolFailed(f"contact_id must be a number, got {value!r}; get it from lookup_contact or "
                         "search_contacts.") from exc


def _money(amount: Any) -> str:
    return f"${float(amount):,.0f}" if amount is not None else "no amount"


class CrmTools:
    """The assistant's tools over one CrmStore. Only propose_change is not a plain read, and it writes nothing."""

    def __init__(self, crm: CrmStore):
        self.crm = crm
        self._tools: dict[str, Callable[..., Any]] = {
            "lookup_contact": self.lookup_contact,
            "search_contacts": self.search_contacts,
            "get_deal": self.get_deal,
            "recent_interactions": self.recent_interactions,
            "pipeline_summary": self.pipeline_summary,
            PROPOSE_CHANGE: self.propose_change,
        }

    def run(self, name: str, tool_input: dict[str, Any]) -> ToolOutput:
        """Run one tool call; every failure becomes an is_error result with a useful message."""
        tool = self._tools.get(name)
        if tool is None:
            return ToolOutput(f"Unknown tool {name!r}. Available: {', '.join(self._tools)}.", is_error=True)
        try:
            inspect.signature(tool).bind(**(tool_input or {}))
        except TypeError as exc:  # a missing or unexpected argument
            return ToolOutput(f"{name} was called with the wrong arguments ({exc}).", is_error=True)
        try:
            value = tool(**(tool_input or {}))
        except ToolFailed as exc:
            return ToolOutput(str(exc), is_error=True)
        except (*DB_ERRORS, ValueError, KeyError) as exc:
            return ToolOutput(f"{name} failed: {type(exc).__name__}: {exc}", is_error=True)
        if isinstance(value, ToolOutput):
            return value
        return ToolOutput(_json(value))

    # -- the read-only tools ---------------------------------------------------------------------

    def lookup_contact(self, email: str) -> dict[str, Any]:
        email = (email or "").strip()
        if not email:
            raise ToolFailed("email is empty; give an address, or use search_contacts with a name.")
        contact = self.crm.contact_by_email(email)
        if contact is None:
            raise ToolFailed(f"No contact with email {email}; try search_contacts with their name or company.")
        latest = self.crm.recent_interactions(contact.id, limit=1)
        deal = self.crm.deal_for_contact(contact.id)
        out = {"contact_id": contact.id, "name": contact.name, "title": contact.title, "company": contact.company,
               "email": contact.email}
        if not latest:
            out["last_activity"] = "none recorded"
        else:
            row = latest[0]
            out["last_activity"] = f"{str(row.ts)[:10]} {row.kind}: {row.summary or '(no summary)'}"
        out["deal"] = (f"{deal.name} · stage {deal.stage} · {_money(deal.amount)} (deal_id {deal.id})"
                       if deal else "none")
        out |= {"phone": contact.phone, "owner": contact.owner}
        return _clean(out)

    def search_contacts(self, query: str) -> list[dict[str, Any]]:
        query = (query or "").strip()
        if len(query) < 2:
            raise ToolFailed("query is too short; give at least two characters of a name, company or email.")
        found = self.crm.search_contacts(query, limit=MAX_SEARCH_RESULTS)
        if not found and " " in query:  # "Bob Chen": try the last name, then the first
            for word in reversed(query.split()):
                found = self.crm.search_contacts(word, limit=MAX_SEARCH_RESULTS)
                if found:
                    break
        if not found:
            raise ToolFailed(f"No contact matches {query!r}; try a last name, a company name or an email.")
        return [_clean({"contact_id": c.id, "name": c.name, "title": c.title, "company": c.company, "email": c.email})
                for c in found]

    def get_deal(self, contact_id: Any) -> dict[str, Any]:
        contact_id = _contact_id(contact_id)
        if self.crm.get_contact(contact_id) is None:
            raise ToolFailed(f"No contact with id {contact_id}; use lookup_contact or search_contacts first.")
        deal = self.crm.deal_for_contact(contact_id)
        if deal is None:
            raise ToolFailed(f"Contact {contact_id} has no deal in the CRM.")
        return _clean({"deal_id": deal.id, "name": deal.name, "stage": deal.stage, "amount": deal.amount,
                       "next_step": deal.next_step, "next_step_date": deal.next_step_date, "owner": deal.owner,
                       "company": deal.company})

    def recent_interactions(self, contact_id: Any, limit: Any = 5) -> list[dict[str, Any]]:
        contact_id = _contact_id(contact_id)
        try:
            limit = max(1, min(MAX_INTERACTIONS, int(limit)))
        except (TypeError, ValueError):
            limit = 5
        if self.crm.get_contact(contact_id) is None:
            raise ToolFailed(f"No contact with id {contact_id}; use lookup_contact or search_contacts first.")
        found = self.crm.recent_interactions(contact_id, limit=limit)
        if not found:
            raise ToolFailed(f"No interactions recorded for contact {contact_id}.")
        return [_clean({"date": r.ts, "kind": r.kind, "summary": r.summary, "author": r.author}) for r in found]

    def pipeline_summary(self) -> dict[str, Any]:
        stages = self.crm.pipeline_by_stage()
        out = {s.stage: f"{s.deals} deal(s), {_money(s.amount)}" for s in stages}
        open_rows = [s for s in stages if not s.stage.startswith("closed")]
        out["open_pipeline"] = (f"{sum(s.deals for s in open_rows)} deal(s), "
                                f"{_money(sum(s.amount for s in open_rows))}")
        return out

    # -- the proposal (writes nothing) -----------------------------------------------------------

    def propose_change(self, contact_id: Any, changes: dict[str, Any], reason: str | None = None) -> ToolOutput:
        contact_id = _contact_id(contact_id)
        contact = self.crm.get_contact(contact_id)
        if contact is None:
            raise ToolFailed(f"No contact with id {contact_id}; look the contact up first.")
        changes = {k: v for k, v in (changes or {}).items() if v not in (None, "")}
        unknown = sorted(set(changes) - set(ALL_FIELDS))
        if unknown:
            raise ToolFailed(f"Cannot change {', '.join(unknown)}; fields that can change: {', '.join(ALL_FIELDS)}.")
        if not changes:
            raise ToolFailed("No changes given; pass the new values in `changes`.")
        problems = validate_values(changes)
        if problems:
            raise ToolFailed("; ".join(problems))
        deal = self.crm.deal_for_contact(contact_id)
        current = {f: _plain(v) for f, v in _current(contact, deal).items() if f in changes}
        proposal = {"contact_id": contact_id, "name": contact.name, "email": contact.email,
                    "company": contact.company, "changes": changes, "current": current, "reason": reason}
        shown = {"status": "proposed, NOT saved", "contact": f"{contact.name} (contact_id {contact_id})",
                 "changes": {f: {"current": current.get(f), "proposed": v} for f, v in changes.items()},
                 "next": "The rep reviews this on the Extract page; nothing changes until they accept it."}
        return ToolOutput(_json(shown), proposal=proposal)


def contacts_in(results: list[str]) -> dict[int, str]:
    """The contacts (id -> name) that tool results named, in the order they came: what the assistant can
    link to. Results are this module's JSON (a lookup's object, a search's list); anything else is skipped."""
    found: dict[int, str] = {}
    for content in results:
        try:
            value = json.loads(content)
        except ValueError:
            continue  # an error message, not a result
        for record in value if isinstance(value, list) else [value]:
            if isinstance(record, dict) and isinstance(record.get("contact_id"), int) \
                    and isinstance(record.get("name"), str) and record["name"].strip():
                found.setdefault(record["contact_id"], record["name"].strip())
    return found


def _current(contact: Contact, deal: Deal | None) -> dict[str, Any]:
    values = {"name": contact.name, "email": contact.email, "title": contact.title, "phone": contact.phone,
              "company": contact.company}
    if deal is None:
        return values | dict.fromkeys(("deal_stage", "amount", "next_step", "next_step_date"))
    return values | {"deal_stage": deal.stage, "amount": deal.amount, "next_step": deal.next_step,
                     "next_step_date": deal.next_step_date}
