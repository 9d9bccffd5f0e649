"""Saving a review to the CRM, and taking a save back: the CRM change and its outcome for the usage side.

The CRM store writes the change set; this module then tells the usage side what each Claude call
produced (accepted fields and saved contacts, for cost per outcome), and takes it back on undo or
revert. An accepted field is a change the AI proposed and a person approved, on a contact, company or
deal (the bare "deal created" marker aside); a saved contact is a contact such a change created or
updated.
"""

from __future__ import annotations

from collections import defaultdict

from lib.crm.records import Change, SaveRequest, SaveResult
from lib.crm.store import CREATED, CrmStore
from lib.usage.outcomes import CallOutcome, OutcomeLog

_COUNTED = ("contact", "company", "deal")


def is_accepted_field(change: Change) -> bool:
    """A change that counts as an accepted CRM field."""
    return (change.actor == "ai" and change.call_id is not None and change.entity in _COUNTED
            and not (change.entity == "deal" and change.field == CREATED))


def outcomes_of(changes: list[Change]) -> list[CallOutcome]:
    """Accepted fields and saved contacts per call, from a change set's history."""
    fields: dict[str, int] = defaultdict(int)
    contacts: dict[str, set[int]] = defaultdict(set)
    for change in filter(is_accepted_field, changes):
        fields[change.call_id] += 1
        if change.entity == "contact":
            contacts[change.call_id].add(change.entity_id)
    return [CallOutcome(call, n, len(contacts[call])) for call, n in sorted(fields.items())]


def save_review(crm: CrmStore, outcomes: OutcomeLog, request: SaveRequest) -> SaveResult:
    """Save what the rep accepted, then report its outcomes (a repeated save reports nothing new)."""
    result = crm.save(request)
    if not result.already_saved:
        outcomes.record(result.change_set_id, outcomes_of(crm.history(result.change_set_id)))
    return result


def undo_save(crm: CrmStore, outcomes: OutcomeLog, change_set_id: str, user: str) -> SaveResult:
    """Undo a whole change set; its outcomes stop counting."""
    result = crm.undo(change_set_id, user)
    outcomes.take_back(change_set_id)
    return result


def revert_change(crm: CrmStore, outcomes: OutcomeLog, history_id: int, user: str) -> SaveResult:
    """Revert one recorded change; an accepted field reverted no longer counts."""
    change = crm.change(history_id)
    result = crm.revert_change(history_id, user)
    if change is not None and result.changes and is_accepted_field(change):
        outcomes.take_back_field(change.change_set_id, change.call_id,
                                 contact_gone=change.entity == "contact" and change.field == CREATED)
    return result
