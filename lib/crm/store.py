"""The CRM store interface: what Scribe asks of a system of record, whichever it is.

The built-in store (`lib.crm.builtin.BuiltinCrm`, DuckDB tables) is the default; HubSpot and Postgres
stand beside it behind the same methods. Every method returns plain records (`lib.crm.records`),
never a database relation or frame, and every write goes through a change set with field history,
in one transaction: all of it lands, or none.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from lib.core.text import looks_like_email
from lib.crm.records import (
    STAGES,
    Change,
    Contact,
    Deal,
    Interaction,
    SaveRequest,
    SaveResult,
    StageTotal,
    TimelineEntry,
)

CREATED = "*created*"  # Change.field for "this change set created the record"


class CrmStore(Protocol):
    """Reads for matching, review, the assistant and the Contacts page; writes only what a person accepted."""

    # reads
    def contacts(self) -> list[Contact]: ...
    def search_contacts(self, query: str = "", limit: int = 50) -> list[Contact]: ...
    def get_contact(self, contact_id: int) -> Contact | None: ...
    def contact_by_email(self, email: str) -> Contact | None: ...
    def deal_for_contact(self, contact_id: int) -> Deal | None: ...
    def recent_interactions(self, contact_id: int, limit: int = 5) -> list[Interaction]: ...
    def pipeline_by_stage(self) -> list[StageTotal]: ...
    def company_id_for(self, name: str | None) -> int | None: ...
    def locked_fields(self, entity: str, entity_id: int) -> set[str]: ...
    def history(self, change_set_id: str) -> list[Change]: ...
    def change(self, history_id: int) -> Change | None: ...
    def timeline(self, contact_id: int, limit: int = 200) -> list[TimelineEntry]: ...
    def known_emails(self) -> set[str]: ...
    def custom_values(self, entity: str, entity_id: int) -> dict[str, str | None]: ...
    def refresh(self, max_age_s: float | None = None) -> None: ...  # a mirror of another CRM: sync if older

    # writes: each one change set, recorded, undoable
    def seed_if_empty(self) -> bool: ...
    def save(self, request: SaveRequest) -> SaveResult: ...
    def import_contacts(self, rows: list[dict[str, Any]], user: str) -> SaveResult: ...
    def edit_by_hand(self, entity: str, entity_id: int, column: str, value: Any, user: str, *,
                     expected: Any = ...) -> str: ...
    def log_interaction(self, contact_id: int, kind: str, summary: str, note: str | None, author: str,
                        call_id: str | None = None) -> int: ...
    def undo(self, change_set_id: str, user: str) -> SaveResult: ...
    def revert_change(self, history_id: int, user: str) -> SaveResult: ...


def as_text(value: Any) -> str | None:
    """A value as a store keeps it in its history: text, or None for nothing (None, NaN, blank)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()[:10]
    text = str(value).strip()
    return text or None


def validate_values(values: dict[str, Any]) -> list[str]:
    """What is wrong with proposed values, in words a rep understands (empty list: all fine)."""
    problems = []
    email = as_text(values.get("email"))
    if email and not looks_like_email(email):
        problems.append(f"'{email}' is not a valid email address")
    stage = as_text(values.get("deal_stage"))
    if stage and stage not in STAGES:
        problems.append(f"'{stage}' is not a pipeline stage ({', '.join(STAGES)})")
    amount = values.get("amount")
    if as_text(amount) is not None:
        try:
            if Decimal(str(amount)) < 0:
                problems.append("the amount cannot be negative")
        except InvalidOperation:
            problems.append(f"'{amount}' is not an amount")
    when = values.get("next_step_date")
    if as_text(when) is not None and not isinstance(when, date):
        try:
            date.fromisoformat(str(when))
        except ValueError:
            problems.append(f"'{when}' is not a date (use YYYY-MM-DD)")
    if "name" in values and values["name"] is not None and not as_text(values["name"]):
        problems.append("the name cannot be blank")
    return problems
