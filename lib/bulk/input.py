"""Bulk input: a CSV or JSONL file of notes in, the good rows out, and every bad row with its reason.

A file is read in two steps so the page can let the user map columns in between:

    table = read_table(data, "notes.csv")           # columns + raw records (+ lines that could not be read)
    notes = parse_notes(table, guess_mapping(table.columns))   # NoteRows, and BadRows with reasons

A bad row never stops the others. The whole file is refused (InputRejected) only when nothing in it can
be read: not UTF-8, empty, or no header. Rows are numbered from 1 after the header (CSV) or by line (JSONL).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from lib.claude import prompts
from lib.claude.gateway import output_config_for
from lib.core.errors import InputRejected
from lib.core.text import clean_note, decode_upload
from lib.work.schemas import Extraction

MAX_NOTE_CHARS = 60_000  # ~15k tokens: a call note longer than this is a pasted document, not a note
PREVIEW_CHARS = 80
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DATE_HEADER = re.compile(r"^\s*date\s*:", re.IGNORECASE | re.MULTILINE)
_GUESSES = {
    "note": ("note", "notes", "text", "body", "content", "call_note", "call notes", "summary"),
    "date": ("date", "note_date", "call_date", "day", "when", "created", "created_at"),
    "author": ("author", "rep", "owner", "user", "by", "written_by", "sales_rep"),
    "contact": ("contact_email", "contact", "email", "customer_email", "contact_id"),
}


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds what; only the note column is required."""

    note: str | None  # None: no column is named like notes, and nobody picked one yet
    date: str | None = None
    author: str | None = None
    contact: str | None = None


@dataclass
class BadRow:
    """A row that will not be sent, and why."""

    row: int
    reason: str
    preview: str = ""


@dataclass
class Table:
    """A file as columns and raw records, before any column is interpreted."""

    name: str
    kind: str  # csv | jsonl
    columns: list[str]
    records: list[tuple[int, dict[str, str | None]]]
    unreadable: list[BadRow] = field(default_factory=list)


@dataclass
class NoteRow:
    """One good row: a note that can be sent."""

    row: int
    note: str
    note_date: date | None = None
    author: str | None = None
    contact: str | None = None

    def text(self) -> str:
        """The note as sent: 'Date:' and 'Rep:' header lines first (as in data/notes), unless it has them."""
        if _DATE_HEADER.search(self.note):
            return self.note
        header = [f"Date: {self.note_date.isoformat()}"] if self.note_date else []
        header += [f"Rep: {self.author}"] if self.author else []
        return "\n".join(header) + "\n\n" + self.note if header else self.note


@dataclass
class BulkInput:
    """The notes ready to go and the rows left out, in file order."""

    rows: list[NoteRow]
    bad: list[BadRow]
    mapping: ColumnMap
    source: str = ""


# -- reading ------------------------------------------------------------------------------------------


def read_table(data: bytes, name: str) -> Table:
    """A CSV (first line = header) or JSONL (one object per line) file as columns and records."""
    text = decode_upload(data, name)
    if not text.strip():
        raise InputRejected(f"{name} is empty.", "Upload a CSV with a header line, or a JSONL file.")
    if name.lower().endswith((".jsonl", ".ndjson")) or (text.lstrip().startswith("{") and
                                                          not name.lower().endswith(".csv")):
        return _read_jsonl(text, name)
    return _read_csv(text, name)


def _read_csv(text: str, name: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise InputRejected(f"{name}: the header line is not valid CSV ({exc}).") from exc
    columns = _unique([h.strip() for h in header])
    if not any(columns):
        raise InputRejected(f"{name} has no header line.", "The first line must name the columns, e.g. note,date.")
    table = Table(name=name, kind="csv", columns=columns, records=[])
    row = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # the reader cannot resynchronise after broken quoting: stop here
            table.unreadable.append(BadRow(row + 1, f"Malformed CSV from line {reader.line_num} on ({exc}); "
                                                    "this row and any after it were not read."))
            break
        row += 1
        if not any(v.strip() for v in values):
            continue  # blank line
        if len(values) > len(columns):
            table.unreadable.append(BadRow(row, f"Malformed CSV: {len(values)} fields, the header has "
                                                f"{len(columns)} (an unquoted comma?).", _preview(",".join(values))))
            continue
        table.records.append((row, dict(zip(columns, values + [None] * (len(columns) - len(values)), strict=True))))
    return table


def _read_jsonl(text: str, name: str) -> Table:
    table = Table(name=name, kind="jsonl", columns=[], records=[])
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            table.unreadable.append(BadRow(number, f"Malformed JSON line ({exc}).", _preview(line)))
            continue
        if not isinstance(value, dict):
            table.unreadable.append(BadRow(number, "Malformed JSON line: not an object.", _preview(line)))
            continue
        for key in value:
            if key not in table.columns:
                table.columns.append(key)
        table.records.append((number, {k: _as_text(v) for k, v in value.items()}))
    if not table.columns:
        raise InputRejected(f"{name} has no JSON object with fields.", 'Each line should look like {"note": "..."}.')
    return table


def guess_mapping(columns: list[str]) -> ColumnMap:
    """The likeliest column for each role, by name; None where no column is named like it (a note
    column is never guessed from position: a file without one is refused, not read as notes)."""
    found: dict[str, str | None] = {}
    for role, names in _GUESSES.items():
        lowered = {c.lower().strip(): c for c in columns}
        found[role] = next((lowered[n] for n in names if n in lowered), None)
    return ColumnMap(note=found["note"], date=found["date"], author=found["author"],
                     contact=found["contact"])


# -- checking -----------------------------------------------------------------------------------------


def parse_notes(table: Table, mapping: ColumnMap) -> BulkInput:
    """Check every record against the mapping: good rows become NoteRows, the rest BadRows with a reason."""
    if mapping.note is None:
        raise InputRejected(f"{table.name} has no column named like notes ({', '.join(_GUESSES['note'])}).",
                            f"Pick the note column (columns: {', '.join(table.columns) or 'none'}), or with the CLI "
                            "pass --note-column.")
    for role, column in (("note", mapping.note), ("date", mapping.date), ("author", mapping.author),
                         ("contact", mapping.contact)):
        if column is not None and column not in table.columns:
            raise InputRejected(f"The {role} column '{column}' is not in {table.name}.")
    rows, bad = [], list(table.unreadable)
    for number, record in table.records:
        try:
            rows.append(check_row(number, record, mapping))
        except InputRejected as err:
            bad.append(BadRow(number, err.message, _preview(record.get(mapping.note) or "")))
    bad.sort(key=lambda b: b.row)
    return BulkInput(rows=rows, bad=bad, mapping=mapping, source=table.name)


def check_row(number: int, record: dict[str, str | None], mapping: ColumnMap) -> NoteRow:
    """One record as a NoteRow; InputRejected with the reason when it cannot be sent."""
    note = (record.get(mapping.note) or "").replace("\r\n", "\n").strip()
    if not note:
        raise InputRejected("The note is empty.")
    if "\x00" in note:
        raise InputRejected("The note contains binary data.")
    if len(note) > MAX_NOTE_CHARS:
        raise InputRejected(f"The note is too long: {len(note):,} characters, the limit is {MAX_NOTE_CHARS:,}.")
    clean_note(note)  # and what a pasted note must be, invalid unicode (a lone surrogate) included
    return NoteRow(row=number, note=note, note_date=parse_date(_cell(record, mapping.date)),
                   author=_cell(record, mapping.author), contact=_cell(record, mapping.contact))


def parse_date(value: str | None) -> date | None:
    """An ISO date (or the date of an ISO timestamp); None when blank; InputRejected otherwise."""
    if value is None:
        return None
    for parse in (date.fromisoformat, lambda v: datetime.fromisoformat(v).date()):
        try:
            return parse(value)
        except ValueError:
            continue
    if _ISO_DAY.match(value):
        raise InputRejected(f"The date {_preview(value, 30)} does not exist.")
    raise InputRejected(f"The date '{_preview(value, 30)}' is not a date (use YYYY-MM-DD).")


def load(data: bytes, name: str, mapping: ColumnMap | None = None) -> BulkInput:
    """read_table + parse_notes with the guessed (or given) mapping."""
    table = read_table(data, name)
    return parse_notes(table, mapping or guess_mapping(table.columns))


# -- the request a note becomes -----------------------------------------------------------------------


def extraction_request(note: str, note_date: date | None, *, model: str, max_tokens: int,
                       today: date | None = None) -> dict[str, Any]:
    """model, max_tokens, system and messages of one note's extraction: the Extract page's prompt."""
    when = note_date or today or date.today()  # noqa: DTZ011 - the rep's calendar day
    return {"model": model, "max_tokens": max_tokens, "system": prompts.extract_system(when.isoformat()),
            "messages": prompts.note_message(note)}


def extraction_params(note: str, note_date: date | None, *, model: str, max_tokens: int) -> dict[str, Any]:
    """The same request as Message Batch `params`: with the structured-output schema spelled out."""
    return {**extraction_request(note, note_date, model=model, max_tokens=max_tokens),
            "output_config": output_config_for(Extraction)}


# -- helpers ------------------------------------------------------------------------------------------


def _cell(record: dict[str, str | None], column: str | None) -> str | None:
    if column is None:
        return None
    value = (record.get(column) or "").strip()
    return value or None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"column_{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
