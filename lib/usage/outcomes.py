"""What Claude's calls produced, as the usage side counts it: cost per outcome reads only this table.

The work that produces an outcome reports it here (lib/work/saving.py after a CRM save: accepted fields
and saved contacts per call); an undo or a revert takes it back. Drafted emails stay on the call's own
usage row (`UsageLog.set_outcome`). Each outcome row copies its call's time, model, feature and user
from the call's successful attempt, so it counts in that call's period and filters.
"""

from __future__ import annotations

from dataclasses import dataclass

from lib.core.db import Database


@dataclass(frozen=True)
class CallOutcome:
    """What one call contributed to one change set."""

    call_id: str
    fields: int
    contacts: int


class OutcomeLog:
    """Writes and takes back outcomes; all SQL of `usage_outcomes` is here and in UsageQueries."""

    def __init__(self, db: Database):
        self.db = db

    def record(self, ref: str, outcomes: list[CallOutcome]) -> None:
        """Record the outcomes of `ref` (once: recording the same ref and call again changes nothing)."""
        with self.db.transaction() as cur:
            for o in outcomes:
                cur.execute(
                    """INSERT INTO usage_outcomes (ref, call_id, ts, backend, model, feature, "user", fields, contacts)
                       SELECT ?, call_id, ts, backend, model, feature, "user", ?, ? FROM usage_log
                       WHERE call_id = ? AND status = 'ok' ORDER BY id DESC LIMIT 1
                       ON CONFLICT DO NOTHING""",
                    [ref, o.fields, o.contacts, o.call_id])
                cur.execute("""UPDATE usage_log SET outcome_kind = 'crm_change_set', outcome_ref = ?
                               WHERE call_id = ? AND status = 'ok'""", [ref, o.call_id])

    def take_back(self, ref: str) -> None:
        """An undo: the outcomes of `ref` no longer count."""
        self.db.cursor().execute("UPDATE usage_outcomes SET undone = TRUE WHERE ref = ?", [ref])

    def take_back_field(self, ref: str, call_id: str, *, contact_gone: bool = False) -> None:
        """A revert of one field: one accepted field (and, when the contact goes with it, one contact) less."""
        self.db.cursor().execute(
            """UPDATE usage_outcomes SET fields = greatest(fields - 1, 0),
                      contacts = greatest(contacts - ?, 0)
               WHERE ref = ? AND call_id = ?""", [int(contact_gone), ref, call_id])

    def counted(self, ref: str) -> dict[str, CallOutcome]:
        """The outcomes of `ref` that still count, per call."""
        rows = self.db.cursor().execute(
            "SELECT call_id, fields, contacts FROM usage_outcomes WHERE ref = ? AND NOT undone", [ref]).fetchall()
        return {c: CallOutcome(c, int(f), int(n)) for c, f, n in rows}
