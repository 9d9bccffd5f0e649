"""Who does what by when: the action items of a note, read clause by clause.

The owner is the clause's subject, not whoever the sentence happens to name: "I will send the proposal to
Laura" is the rep's task, "Laura will book a call with Dev" is Laura's. I/we (and imperatives such as
"Send the SOW") are the rep's team; he/she/they refer back to the person named last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from . import dates as dt
from .extract import Note, Person
from .phrases import FUTURE, STEP_PREFIX, clauses, lower_first, strip_dates

IMPERATIVE = re.compile(r"^(?:send|schedule|book|share|prepare|set up|follow up|draft|loop in|review|"
                        r"confirm|arrange|invite)\b", re.I)
DECISION_RE = re.compile(r"\b(?:agreed|decided|approved|signed|confirmed|chose|committed|settled on|will go with)\b",
                         re.I)
RISK_RE = re.compile(r"\b(?:concerns?|risks?|objections?|worried|worries|blockers?|blocked|pending|unclear|"
                     r"competitor|too expensive|no budget|hesitant|pushback|raised)\b", re.I)
TEAM_WORDS = {"i", "we", "us", "our team", "me"}
PRONOUNS = {"he", "she", "they"}


@dataclass
class Action:
    """One thing someone will do: `owner` is a person (or None for the rep's team), `task` a short phrase."""

    clause: str
    task: str
    owner: Person | None
    team: bool
    due: date | None
    due_phrase: str | None
    noted: bool = False  # a "Next step: <noun phrase>" line, not a sentence with a verb


def _person_by_word(note: Note, word: str) -> Person | None:
    return next((p for p in note.people if word in (p.first, p.name, p.last)), None)


def _last_named(note: Note, before: int) -> Person | None:
    """The person named last in the sentences up to index `before`."""
    for i in range(before, -1, -1):
        named = [p for p in note.people if i in p.mentions]
        if named:
            return named[-1]
    return None


def owner_of(note: Note, clause: str, sentence_index: int, head: str) -> tuple[Person | None, bool]:
    """(person, is_team) for the text before the future marker (`head`)."""
    words = re.findall(r"[\w'’-]+", head)
    if not words:
        if re.search(r"\b(?:their|they|them)\b", clause, re.I) and note.people:
            return note.people[0], False  # "Next step: redlines back from their legal team": the customer's
        return None, True  # an imperative: the rep's own
    lowered = [w.lower() for w in words]
    if lowered[0] in TEAM_WORDS or lowered[:2] == ["our", "team"]:
        return None, True
    if lowered[0] in PRONOUNS:
        return _last_named(note, sentence_index), False
    for w in words:
        person = _person_by_word(note, w)
        if person is not None:
            return person, False
    if any(w in TEAM_WORDS for w in lowered):
        return None, True
    return None, False


def find_actions(note: Note) -> list[Action]:
    out: list[Action] = []
    for i, sentence in enumerate(note.sentences):
        if dt.DATE_LINE_RE.match(sentence.text):
            continue
        for clause in clauses(sentence.text):
            body = STEP_PREFIX.sub("", clause)
            stepped = body != clause
            m = FUTURE.search(body)
            to_form = re.match(r"^([A-Z][\w'’-]+)\s+to\s+(?=[a-z])", body)
            if m:
                head, rest = body[: m.start()], body[m.end():]
                # "said yes and will send": the subject is the clause's first word
                head = head if not re.search(r"\b(?:and|but|then)\s*$", head) else head.split()[0]
            elif to_form and _person_by_word(note, to_form[1]):
                head, rest = to_form[1], body[to_form.end():]
            elif IMPERATIVE.match(body) or (stepped and body):
                head, rest = "", body
            else:
                continue
            noted = not m and not to_form and not IMPERATIVE.match(body)
            owner, team = owner_of(note, clause, i, head)
            task, due, phrase = strip_dates(rest, note.ref_date)
            if not task:
                continue
            out.append(Action(clause=clause, task=task if noted else lower_first(task), owner=owner, team=team,
                              due=due, due_phrase=phrase, noted=noted))
    return out
