"""Notes to structured CRM fields: one Claude call per note, validated by pydantic, retried once."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import date

from lib.claude import prompts
from lib.claude.gateway import CallResult, Gateway
from lib.core.errors import InputRejected, ReplyInvalid
from lib.core.text import clean_note
from lib.crm.fields import EMPTY, FieldCatalogue
from lib.work.schemas import ExtractedPerson, extraction_model

MAX_TOKENS = 4000
_DATE_HEADER = re.compile(r"^\s*date\s*:\s*(\d{4}-\d{2}-\d{2})", re.IGNORECASE | re.MULTILINE)


@dataclass
class NoteExtraction:
    """What one note yielded: the people, the call that read them, and the note itself."""

    note: str
    note_date: date | None
    people: list[ExtractedPerson]
    result: CallResult
    attempts: int = 1
    key: str = field(default_factory=lambda: uuid.uuid4().hex)


def note_date_of(note: str) -> date | None:
    """The date in a 'Date: YYYY-MM-DD' header line, if the note has one (and it is a real date)."""
    found = _DATE_HEADER.search(note)
    if not found:
        return None
    try:
        return date.fromisoformat(found.group(1))
    except ValueError:
        return None


_SEPARATOR = re.compile(r"^\s*-{3,}\s*$", flags=re.MULTILINE)
_QUOTED_MESSAGE = re.compile(r"^(?:(?:from|to|cc|sent|subject):.*|.*(?:original|forwarded) message.*)$", re.IGNORECASE)
_STARTS_A_NOTE = re.compile(r"^date:", re.IGNORECASE)


def split_notes(text: str) -> list[str]:
    """Several notes pasted at once, separated by a line of three or more dashes.

    A note may hold dashes of its own: a forwarded or quoted email between two dash lines (its first
    line a mail header: From:, To:, Subject:, "Forwarded message") stays in the note around it, and so
    does the text after it, unless that text starts a note of its own with a "Date:" line."""
    notes: list[str] = []
    continues = False  # the part after a quoted email belongs to the same note
    for part in (p.strip() for p in _SEPARATOR.split(text or "")):
        if not part:
            continue
        quoted = _QUOTED_MESSAGE.match(part.splitlines()[0]) is not None
        if notes and (quoted or (continues and not _STARTS_A_NOTE.match(part))):
            notes[-1] += "\n---\n" + part
        else:
            notes.append(part)
        continues = quoted
    return notes


def notes_from_file(name: str, text: str) -> list[str]:
    """The notes in an uploaded file: a .txt is one note (or several split by ---); a .csv has a `note` column."""
    if not name.lower().endswith(".csv"):
        return split_notes(text)
    try:
        rows = list(csv.DictReader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise InputRejected(f"{name} is not a readable CSV file ({exc}).", "Check the quoting, or save it again as CSV.") from exc
    columns = {c.strip().lower(): c for c in (rows[0].keys() if rows else [])}
    if "note" not in columns:
        raise InputRejected(f"{name} has no 'note' column.",
                            f"Name the column with the notes 'note' (found: {', '.join(columns) or 'no columns'}).")
    return [r[columns["note"]].strip() for r in rows if (r.get(columns["note"]) or "").strip()]


def extract_note(gateway: Gateway, note: str, *, user: str, model: str, today: date | None = None,
                 catalogue: FieldCatalogue = EMPTY) -> NoteExtraction:
    """Extract everyone a note mentions. A reply that fails validation is retried once.

    `catalogue` adds the team's own fields to the schema (lib.work.schemas.extraction_model).
    Raises InputRejected for a bad note (nothing is sent) and ReplyInvalid, with the raw text of
    the second reply, when both replies fail validation. Nothing is ever saved here.
    """
    note = clean_note(note)
    when = note_date_of(note) or today or date.today()  # noqa: DTZ011 - the rep's calendar day
    request = dict(feature="extract", user=user, model=model, max_tokens=MAX_TOKENS, output_format=extraction_model(catalogue),
                   system=prompts.extract_system(when.isoformat()), messages=prompts.note_message(note))
    attempts = 1
    try:
        parsed, result = gateway.parse(**request)
    except ReplyInvalid:
        attempts = 2  # a malformed reply is usually a one-off: ask once more, then give up
        try:
            parsed, result = gateway.parse(**request)
        except ReplyInvalid as err:
            raise ReplyInvalid("Claude's reply failed validation twice; nothing was saved.",
                               raw_text=err.raw_text, result=err.result, request_id=err.request_id) from err
    if not parsed.people:
        raise InputRejected("Claude found no people in this note.", "Check that the note names someone.")
    return NoteExtraction(note=note, note_date=note_date_of(note), people=parsed.people, result=result,
                          attempts=attempts)
