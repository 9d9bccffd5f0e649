"""Dates in free text: ISO and written dates, and relative phrases resolved against a reference date.

Rules (documented so tests and users can predict them):
- "next <weekday>": that weekday in the week after the reference date's week (weeks run Monday-Sunday).
- "<weekday>", "on/by/this/coming <weekday>": the first such day strictly after the reference date.
- "today" / "tomorrow" / "in N days|weeks|months" / "next week" (its Monday) / "next month" (its 1st) /
  "end of (the) week" (Friday) / "end of (the) month|quarter|year" (last day).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "couple of": 2,
    "few": 3,
}

_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_NUM = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few)"

ISO_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
MONTH_DAY_RE = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)
DAY_MONTH_RE = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b", re.I)
RELATIVE_RE = re.compile(
    rf"\b(?:(next|this|coming|on|by|before|until)\s+)?{_WEEKDAY}\b"
    rf"|\b(today|tomorrow)\b"
    rf"|\bin\s+{_NUM}\s+(day|week|month)s?\b"
    rf"|\bnext\s+(week|month)\b"
    rf"|\b(?:by\s+)?(?:the\s+)?end\s+of\s+(?:the\s+)?(week|month|quarter|year)\b"
    rf"|\b(EOW|EOM|EOQ|EOY)\b",
    re.I,
)
DATE_LINE_RE = re.compile(r"^\s*date\s*:\s*(.+)$", re.I | re.M)


@dataclass(frozen=True)
class DateMention:
    """A date found in text: the resolved day, the exact phrase and where it starts."""

    value: date
    phrase: str
    start: int


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(MONTHS, 1) if m.startswith(name.lower().rstrip(".")[:3]))


def absolute_dates(text: str, default_year: int) -> list[DateMention]:
    """ISO dates and written dates ("Nov 24", "24 November 2026") in order of appearance."""
    found: list[DateMention] = []
    for m in ISO_RE.finditer(text):
        d = _valid(int(m[1]), int(m[2]), int(m[3]))
        if d:
            found.append(DateMention(d, m[0], m.start()))
    for m in MONTH_DAY_RE.finditer(text):
        d = _valid(int(m[3] or default_year), _month_number(m[1]), int(m[2]))
        if d:
            found.append(DateMention(d, m[0], m.start()))
    for m in DAY_MONTH_RE.finditer(text):
        d = _valid(int(m[3] or default_year), _month_number(m[2]), int(m[1]))
        if d:
            found.append(DateMention(d, m[0], m.start()))
    return sorted(found, key=lambda x: x.start)


def reference_date(text: str, fallback: date) -> date:
    """The note's own date: a "Date: ..." line, else the first date in the text, else `fallback`."""
    line = DATE_LINE_RE.search(text)
    if line:
        dates = absolute_dates(line[1], fallback.year)
        if dates:
            return dates[0].value
    dates = absolute_dates(text, fallback.year)
    return dates[0].value if dates else fallback


def _end_of(unit: str, ref: date) -> date:
    unit = unit.lower()
    if unit in ("week", "eow"):
        return ref + timedelta(days=(4 - ref.weekday()) % 7)
    if unit in ("month", "eom"):
        return ref.replace(day=calendar.monthrange(ref.year, ref.month)[1])
    if unit in ("quarter", "eoq"):
        month = ((ref.month - 1) // 3 + 1) * 3
        return date(ref.year, month, calendar.monthrange(ref.year, month)[1])
    return date(ref.year, 12, 31)


def _add_months(ref: date, months: int) -> date:
    year, month = divmod(ref.month - 1 + months, 12)
    year, month = ref.year + year, month + 1
    return date(year, month, min(ref.day, calendar.monthrange(year, month)[1]))


def _resolve(m: re.Match[str], ref: date) -> date:
    qualifier, weekday, day_word, count, unit, next_unit, end_unit, abbrev = m.groups()
    if weekday:
        target = WEEKDAYS.index(weekday.lower())
        if qualifier and qualifier.lower() == "next":
            monday_next = ref - timedelta(days=ref.weekday()) + timedelta(days=7)
            return monday_next + timedelta(days=target)
        return ref + timedelta(days=(target - ref.weekday() - 1) % 7 + 1)
    if day_word:
        return ref + timedelta(days=0 if day_word.lower() == "today" else 1)
    if count:
        n = int(count) if count.isdigit() else NUMBERS[count.lower()]
        if unit.lower() == "month":
            return _add_months(ref, n)
        return ref + timedelta(days=n * (7 if unit.lower() == "week" else 1))
    if next_unit:
        if next_unit.lower() == "week":
            return ref - timedelta(days=ref.weekday()) + timedelta(days=7)
        return _add_months(ref.replace(day=1), 1)
    return _end_of(end_unit or abbrev, ref)


def relative_dates(text: str, ref: date) -> list[DateMention]:
    """Relative phrases resolved against `ref`, in order of appearance."""
    return [DateMention(_resolve(m, ref), m[0], m.start()) for m in RELATIVE_RE.finditer(text)]


def all_dates(text: str, ref: date) -> list[DateMention]:
    """Absolute and relative dates in order of appearance."""
    return sorted(absolute_dates(text, ref.year) + relative_dates(text, ref), key=lambda x: x.start)
