"""Small text patterns shared by the note reader (extract.py) and the action finder (actions.py)."""

from __future__ import annotations

import re
from datetime import date

from . import dates as dt

FUTURE = re.compile(r"\b(?:will|shall|'ll|is going to|are going to|am going to|needs? to|has to|have to|"
                    r"plans? to|agreed to|promised to|offered to)\s+", re.I)
STEP_PREFIX = re.compile(r"^\s*(?:next steps?|action items?|f/u|follow[- ]?up|to ?do|todo)\s*[:\-–—]\s*", re.I)


def clauses(sentence: str) -> list[str]:
    """A sentence split at semicolons (each part a statement of its own)."""
    parts = [p.strip() for p in re.split(r";\s+", sentence) if p.strip()]
    return parts or [sentence]


def strip_dates(task: str, ref: date) -> tuple[str, date | None, str | None]:
    """(the task without its date phrases, the first date, that date's phrase)."""
    found = dt.all_dates(task, ref)
    due = found[0] if found else None
    for d in reversed(found):
        head, tail = task[: d.start], task[d.start + len(d.phrase):]
        head = re.sub(r"\s*\b(?:by|on|for|before|until|due|from)\s*$", "", head)
        task = (head.rstrip() + " " + tail.lstrip()).strip()
    task = re.sub(r"\(\s*(?:due|by|on)?\s*\)", "", task)  # "(due 2026-11-26)" without its date
    task = re.sub(r"\s+([,;:.])", r"\1", re.sub(r"\s{2,}", " ", task)).strip(" ,;:.")
    return task, (due.value if due else None), (due.phrase if due else None)


def date_span(text: str, phrase: str) -> str:
    """The date phrase with the preposition before it ("by Friday"), as it stands in `text`."""
    if re.match(r"(?:by|on|for|before|until|due)\s", phrase, re.I):
        return phrase
    m = re.search(rf"\b(?:by|on|for|before|until|due)\s+{re.escape(phrase)}", text, re.I)
    return m[0] if m else phrase


def lower_first(text: str) -> str:
    return text[0].lower() + text[1:] if text[:2] and text[:2] != text[:2].upper() else text
