"""Follow-up emails: what Claude is given (bounded by a token budget), the streamed draft, and what
becomes of it (an .eml file, an interaction logged as sent).

The prompt holds the contact, their deal, their latest interactions and the rep's notes. It is
measured with count_tokens; while it is over the budget the oldest interaction is dropped, so the
newest facts always make it in. Nothing is written to the CRM until the rep clicks "Log as sent".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from lib.claude import prompts
from lib.claude.gateway import Gateway, TextStream
from lib.core.errors import InputRejected
from lib.core.text import clean_note, looks_like_email
from lib.crm.store import CrmStore
from lib.usage.log import UsageLog

PROMPT_BUDGET_TOKENS = 6_000  # the whole prompt (house guide included); interactions give way first
MAX_INTERACTIONS = 20  # the most we ever consider, newest first
MAX_TOKENS = {"short": 400, "medium": 700, "long": 1000}
TONES = list(prompts.FOLLOW_UP_TONES)
LENGTHS = list(prompts.FOLLOW_UP_LENGTHS)
OUTCOME_KIND = "follow_up"


@dataclass
class DraftPrompt:
    """What a draft is made from, and how much of it fitted the budget."""

    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tokens: int
    budget: int
    contact: dict[str, Any] | None
    deal: dict[str, Any] | None
    interactions_used: int
    interactions_dropped: int

    @property
    def to_address(self) -> str | None:
        email = (self.contact or {}).get("email")
        return email if email and looks_like_email(email) else None


@dataclass
class Draft:
    """A streamed draft and where it goes: iterate `stream`, then read `stream.text` / `.result`."""

    stream: TextStream
    prompt: DraftPrompt
    contact_id: int | None = None
    logged_interaction_id: int | None = None

    @property
    def call_id(self) -> str:
        return self.stream.ctx.call_id


# -- what Claude is given ------------------------------------------------------------------------


def _line(value: Any) -> str:
    """One CRM value on one line (a field cannot break out of its line in the prompt)."""
    return " ".join(str(value).split()) if value not in (None, "") else "—"


def contact_block(contact: dict[str, Any]) -> str:
    return "\n".join([
        "<contact>",
        f"Name: {_line(contact.get('name'))}",
        f"Email: {_line(contact.get('email'))}",
        f"Title: {_line(contact.get('title'))}",
        f"Company: {_line(contact.get('company'))}",
        "</contact>",
    ])


def deal_block(deal: dict[str, Any] | None) -> str:
    if not deal:
        return "<deal>\nNo deal recorded.\n</deal>"
    amount = deal.get("amount")
    amount_text = f"${float(amount):,.0f}" if amount is not None else "—"
    when = deal.get("next_step_date")
    return "\n".join([
        "<deal>",
        f"Deal: {_line(deal.get('name'))}; stage: {_line(deal.get('stage'))}; amount: {amount_text}",
        f"Next step: {_line(deal.get('next_step'))}" + (f" (due {str(when)[:10]})" if when else ""),
        "</deal>",
    ])


def interactions_block(interactions: list[dict[str, Any]]) -> str:
    if not interactions:
        return "<interactions>\nNone recorded.\n</interactions>"
    lines = [f"- {str(i.get('ts'))[:10]} {_line(i.get('kind'))}: {_line(i.get('summary'))}" for i in interactions]
    return "\n".join(["<interactions> (newest first)", *lines, "</interactions>"])


def draft_message(contact: dict[str, Any] | None, deal: dict[str, Any] | None,
                  interactions: list[dict[str, Any]], notes: str | None) -> list[dict[str, Any]]:
    """The user turn: the task's first line names the contact; then the material, fenced as data."""
    if contact:
        company = f" at {_line(contact['company']).rstrip('.')}" if contact.get("company") else ""
        parts = [f"Draft the follow-up email to {_line(contact.get('name'))}{company}.", "",
                 contact_block(contact), deal_block(deal), interactions_block(interactions)]
    else:
        parts = ["Draft the follow-up email for the conversation in these notes."]
    if notes:
        parts.append(f"<notes>\n{notes}\n</notes>")
    return [{"role": "user", "content": "\n".join(parts)}]


def prepare_draft(gateway: Gateway, crm: CrmStore, *, contact_id: int | None, notes: str | None, tone: str,
                  length: str, model: str, budget: int = PROMPT_BUDGET_TOKENS) -> DraftPrompt:
    """The prompt for a draft, measured with count_tokens and cut to the budget (oldest interactions first).

    Raises InputRejected when there is nothing to write about, or when even the contact and the notes
    alone are over the budget. Nothing is sent to Claude here but count_tokens (free, not logged).
    """
    if tone not in prompts.FOLLOW_UP_TONES or length not in prompts.FOLLOW_UP_LENGTHS:
        raise InputRejected(f"Unknown tone or length ({tone!r}, {length!r}).")
    notes = clean_note(notes) if notes and notes.strip() else None
    found = crm.get_contact(contact_id) if contact_id is not None else None
    contact = asdict(found) if found else None  # the prompt reads plain fields
    if contact_id is not None and contact is None:
        raise InputRejected(f"Contact {contact_id} was not found.", "Search for the contact again.")
    if contact is None and notes is None:
        raise InputRejected("Nothing to write about yet.", "Pick a contact, paste notes, or both.")
    deal = crm.deal_for_contact(contact_id) if contact else None
    deal = asdict(deal) if deal else None
    history = _interactions(crm, contact_id) if contact else []
    system = prompts.follow_up_system(tone, length)
    kept = list(history)
    while True:
        messages = draft_message(contact, deal, kept, notes)
        tokens = gateway.count_tokens(model=model, system=system, messages=messages)
        if tokens <= budget or not kept:
            break
        kept.pop()  # the oldest one: the list is newest first
    if tokens > budget:
        raise InputRejected(
            f"The draft's material is {tokens:,} tokens, over the budget of {budget:,}, even without interactions.",
            "Shorten the notes.")
    return DraftPrompt(system=system, messages=messages, tokens=tokens, budget=budget, contact=contact, deal=deal,
                       interactions_used=len(kept), interactions_dropped=len(history) - len(kept))


def _interactions(crm: CrmStore, contact_id: int) -> list[dict[str, Any]]:
    return [asdict(i) for i in crm.recent_interactions(contact_id, limit=MAX_INTERACTIONS)]


def start_draft(gateway: Gateway, prompt: DraftPrompt, *, length: str, model: str, user: str,
                contact_id: int | None = None) -> Draft:
    """Open the streamed draft (feature follow_up). Iterate `draft.stream`; close it if cut short."""
    stream = gateway.stream_text(feature="follow_up", user=user, model=model, max_tokens=MAX_TOKENS[length],
                                 system=prompt.system, messages=prompt.messages)
    return Draft(stream=stream, prompt=prompt, contact_id=contact_id)


# -- what becomes of a draft --------------------------------------------------------------------


def split_subject(text: str) -> tuple[str, str]:
    """(subject, body) of a draft whose first line is "Subject: …"; no subject line: ("", text)."""
    stripped = (text or "").strip()
    first, _, rest = stripped.partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip(), rest.strip()
    return "", stripped


def build_eml(text: str, to: str | None) -> bytes:
    """The draft as an .eml file: To (when a valid address is known), Subject and the body; nothing else."""
    subject, body = split_subject(text)
    message = EmailMessage(policy=SMTP)
    if to and looks_like_email(to):
        message["To"] = to
    message["Subject"] = " ".join(subject.split()) or "Follow-up"
    message.set_content(body + "\n")
    return message.as_bytes()


def log_as_sent(crm: CrmStore, usage_log: UsageLog, *, contact_id: int, text: str, author: str,
                call_id: str | None) -> int:
    """Record the (possibly edited) draft as an email interaction; tie the Claude call to it. Its id."""
    subject, body = split_subject(text)
    if not body:
        raise InputRejected("The draft is empty.", "Write or draft the email first.")
    summary = f"Follow-up email sent: {subject}" if subject else "Follow-up email sent"
    interaction_id = crm.log_interaction(contact_id, "email", summary[:200], text.strip(), author, call_id)
    if call_id:
        usage_log.set_outcome(call_id, OUTCOME_KIND, str(interaction_id))
    return interaction_id
