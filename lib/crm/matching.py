"""Which CRM contact an extracted person is, with reasons a rep can read.

    index = ContactIndex(contacts)          # once: contacts has id, name, email, company, phone
    match = index.match({"name": "Bob Chen", "company": "Initech"})
    match.status, match.contact_id, match.reasons, match.candidates

`match_contact(fields, contacts)` does the same and keeps the last few indexes, keyed on the frame's
content, so calling it in a loop does not rebuild.

The one rule above all others: never "matched" to the wrong person. "ambiguous" and "new" are both safe
outcomes (the rep chooses in the review grid); a wrong "matched" silently writes onto someone else's
record. So a contact is matched only on positive evidence that nobody else in the CRM shares, and every
contradiction (another company, another surname, another email) blocks the match.

How it decides, in order:

1. Email. A known email decides, unless the name given clearly belongs to someone else (another
   surname, or the same surname with another first name): then it is "ambiguous", because the
   extraction may have put a colleague's or an assistant's address on this person. If one address sits
   on several contacts (the same person entered twice) it is "ambiguous" with all of them listed.
2. Otherwise each candidate collects evidence and conflicts. It can be matched only with no conflict
   and with one of: the full name (case, accents, order, nicknames and small typos forgiven) plus the
   same company (legal suffixes and punctuation ignored, small typos forgiven); the same phone with a
   name that fits, or no name; the exact full name when no company is known on either side; a first
   name alone plus the company, when it is the only person there with that first name (or nickname).
   A contact whose company the CRM does not know can be matched by email or phone, not by name alone
   when the note names a company.
3. Exactly one such candidate, and no other plausible one within 0.1 of its score: "matched". Two or
   more: "ambiguous", all listed. None, but someone plausible (a nickname or a typo without a company,
   a surname alone at the right company): "ambiguous". Nobody: "new", even when a colleague shares the
   surname or the email domain (they are listed as near misses, with the conflict as their reason).

Choices where the issue left the rules open:

- Email: exact after trimming and lowercasing; a `+tag` in the local part is ignored (sub-addresses
  reach the same mailbox). Dots in Gmail local parts are not ignored (that is Gmail-only).
- An email in the fields that is not in the CRM, while name and company fit a contact who has another
  address: "ambiguous" (that contact listed first, reason "different email: given x, CRM has y"), never
  "matched". A person has one work address, so a second one means a namesake colleague or a changed
  address, and only the rep can tell; "ambiguous" makes the grid ask instead of writing. A contact with
  no email in the CRM has no conflict. When no company is given, an employer's email domain stands in
  for it: the same domain supports a candidate, another employer's domain is a conflict (free-mail
  domains say nothing either way).
- Without a company, only the exact full name can match (and only if unique); a nickname or typo alone
  is "ambiguous". "J. Smith" plus the company can match if only one J. Smith is there.
- One word: a first name (or its nickname) plus the company, as above; a surname alone is at best
  "ambiguous", and so is a first name without a company.
- Phone: digits only, extension dropped, last 9 digits compared (survives +44/0 and +49/0 trunk
  prefixes); numbers shorter than that are ignored. The same phone with the same surname but another
  first name is "ambiguous" (a nickname we do not know, or a shared line); with another name, "new".
- Company: besides equality after normalising and typos (fuzz.ratio >= 88), a shorter name the rep
  wrote counts when it begins the CRM's ("Helios" for Helios Solar AG) and nothing closer exists; the
  reverse does not ("Acme Logistics" is not "Acme Corp.").

`score` is in 0..1: evidence combined as independent signals, 1 - prod(1 - s), with strengths
email 1.0, phone 0.85, full name 0.6 (nickname 0.57, typo 0.5, initial 0.4, first name only 0.3),
company 0.5; a conflict scales it down. It ranks candidates and is shown to the rep; the status comes
from the rules above, not from a threshold on the score. `Match.score` is the score of `candidates[0]`
(0 if none). For "new", `candidates` are near misses with their conflicts: never preselect them.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from lib.crm.records import Contact

NICKNAMES_CSV = Path(__file__).resolve().parents[2] / "data" / "nicknames.csv"

PHONE_DIGITS = 9  # compare the last 9 digits: survives +44/0 and +49/0 trunk prefixes
MARGIN = 0.1  # a rival within this score of the best makes the match ambiguous
NAME_COARSE_CUTOFF = 70  # ratio over sorted-token keys (= token_sort_ratio) in the vectorised first pass
COARSE_LIMIT = 50  # at most this many name look-alikes get the full (Python) evaluation
COMPANY_FUZZY_CUTOFF = 88  # fuzz.ratio between normalised company names: a typo, not another firm
MAX_CANDIDATES = 5

LEGAL_SUFFIXES = frozenset({
    "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd", "limited",
    "gmbh", "ag", "kg", "ug", "sa", "sas", "sarl", "sl", "spa", "srl", "plc", "bv", "nv", "ab", "as", "aps",
    "oy", "oyj", "kk", "pty", "pc", "pa", "se", "sro", "ltda", "lda", "kft", "pte",
})
HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "herr", "frau",
                        "mme", "mlle", "sra", "srta"})
NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "mba", "cpa"})
SURNAME_PARTICLES = frozenset({"van", "von", "der", "den", "del", "della", "de", "da", "das", "dos", "du",
                               "la", "le", "al", "el", "bin", "ibn", "st"})
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "hotmail.co.uk", "outlook.com",
    "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com",
    "gmx.de", "gmx.net", "web.de", "mail.com", "fastmail.com", "zoho.com", "yandex.ru", "qq.com",
})

Status = Literal["matched", "new", "ambiguous"]
ContactId = int | str


class Candidate(BaseModel):
    """One contact the person might be, with how well and why."""

    model_config = ConfigDict(frozen=True)

    id: ContactId
    score: float
    reasons: list[str]


class Match(BaseModel):
    """The decision for one extracted person; `contact_id` is set only when `status` is "matched"."""

    model_config = ConfigDict(frozen=True)

    status: Status
    contact_id: ContactId | None = None
    score: float = 0.0
    reasons: list[str] = []
    candidates: list[Candidate] = []

    @property
    def candidate_ids(self) -> list[ContactId]:
        """The candidates' ids, best first."""
        return [c.id for c in self.candidates]


# --- normalisers -------------------------------------------------------------------------------------

_FOLD = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe",
                       "Œ": "oe", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ı": "i"})
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[a-z]{2,}")
_EXTENSION = re.compile(r"(?:ext\.?|extension|x|#)\s*\d{1,6}\s*$", re.IGNORECASE)
_BRACKETED = re.compile(r"\([^)]*\)|\"[^\"]*\"|“[^”]*”")


def text_of(value: object) -> str:
    """A field value as stripped text: None, NaN and pandas' NA become ''."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    return str(value).strip()


def fold(text: str) -> str:
    """Casefolded text without accents: 'José Núñez' -> 'jose nunez', 'Søren' -> 'soren', 'ß' -> 'ss'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def normalize_email(email: object) -> str:
    """Lowercased address ('' if it is not one): ' <Bob@Acme.com> ' -> 'bob@acme.com'."""
    text = text_of(email).lower().removeprefix("mailto:").strip("<> ")
    return text if _EMAIL.fullmatch(text) else ""


def email_mailbox(email: str) -> str:
    """The address without a +tag: 'bob+crm@acme.com' -> 'bob@acme.com' (same mailbox)."""
    local, _, domain = email.partition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if domain else ""


def email_domain(email: str) -> str:
    """The domain of a normalised address, '' for free-mail providers (they say nothing about employer)."""
    domain = email.partition("@")[2]
    return "" if domain in FREE_MAIL else domain


def normalize_phone(phone: object) -> str:
    """The last 9 digits ('' if fewer): '+1 415-555-0134' and '(415) 555 0134 x12' agree."""
    digits = re.sub(r"\D", "", _EXTENSION.sub("", text_of(phone)))
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else ""


def normalize_company(name: object) -> str:
    """Company key: folded, punctuation and '&'/'and' dropped, trailing legal suffixes removed.

    'Initech, Inc.' -> 'initech'; 'Kowloon Trading Co., Ltd.' -> 'kowloon trading'; 'A/S' and 'S.p.A.'
    count as suffixes.
    """
    text = re.sub(r"[./'’]", "", fold(text_of(name)))
    tokens = [t for t in re.split(r"[^a-z0-9]+", text) if t and t != "and"]
    if tokens and tokens[0] == "the" and len(tokens) > 1:
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in LEGAL_SUFFIXES:
        tokens.pop()
    return " ".join(tokens)


@dataclass(frozen=True)
class PersonName:
    """A person's name split for comparison: first token, surname tokens (middle initials dropped)."""

    first: str
    rest: tuple[str, ...]
    reordered: bool = False  # written "Last, First"

    @property
    def last(self) -> str:
        """The surname tokens joined by spaces."""
        return " ".join(self.rest)

    @property
    def single(self) -> bool:
        """Only one name was given (a first name, or just a surname)."""
        return not self.rest

    @property
    def surname_forms(self) -> frozenset[str]:
        """The surname as one word ('al-sayed' -> 'alsayed') and, if compound, each real part."""
        if not self.rest:
            return frozenset()
        parts = {t for t in self.rest if len(t) >= 3 and t not in SURNAME_PARTICLES} if len(self.rest) > 1 else set()
        return frozenset({"".join(self.rest), *parts})


def parse_name(name: object) -> PersonName | None:
    """Parse a name ('Dr. Robert (Bob) Chen', 'Chen, Robert', 'José Núñez Jr.'); None if nothing is left."""
    text = _BRACKETED.sub(" ", text_of(name))
    parts = [p.strip() for p in text.split(",") if p.strip()]
    while len(parts) > 1 and _tokens(parts[-1]) and all(t in NAME_SUFFIXES for t in _tokens(parts[-1])):
        parts.pop()
    reordered = len(parts) == 2
    tokens = _tokens(f"{parts[1]} {parts[0]}" if reordered else " ".join(parts))
    while len(tokens) > 1 and tokens[0] in HONORIFICS:
        tokens.pop(0)
    while len(tokens) > 1 and tokens[-1] in NAME_SUFFIXES:
        tokens.pop()
    if not tokens:
        return None
    rest = tuple(t for t in tokens[1:] if len(t) > 1)
    return PersonName(tokens[0], rest, reordered and bool(rest))


def _tokens(text: str) -> list[str]:
    """Folded name tokens; apostrophes vanish ('O'Neill' -> 'oneill'), hyphens split."""
    return re.findall(r"[a-z0-9]+", re.sub(r"['’`]", "", fold(text)))


# --- nicknames ----------------------------------------------------------------------------------------


class Nicknames:
    """Formal names and their nicknames (Robert: Bob, Rob, Bobby); lookups are folded, lowercase."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._formal_of: dict[str, set[str]] = {}
        self._nicks_of: dict[str, set[str]] = {}
        for formal, nick in pairs:
            formal, nick = fold(formal.strip()), fold(nick.strip())
            if formal and nick and formal != nick:
                self._formal_of.setdefault(nick, set()).add(formal)
                self._nicks_of.setdefault(formal, set()).add(nick)
        self._forms: dict[str, frozenset[str]] = {}

    @classmethod
    def from_csv(cls, path: Path) -> Nicknames:
        """Read a CSV with columns name (formal) and nickname."""
        with path.open(encoding="utf-8", newline="") as fh:
            return cls((row["name"], row["nickname"]) for row in csv.DictReader(fh))

    def formals(self, first: str) -> frozenset[str]:
        """The name itself plus the formal names it is short for: 'bob' -> {'bob', 'robert'}."""
        return frozenset({first, *self._formal_of.get(first, ())})

    def nicknames_of(self, formal: str) -> frozenset[str]:
        """The nicknames of a formal name: 'robert' -> {'bob', 'bobby', 'rob', 'robbie'}."""
        return frozenset(self._nicks_of.get(formal, ()))

    def forms(self, first: str) -> frozenset[str]:
        """Every name that can mean the same person: itself, its formals, and their nicknames.

        'bob' -> robert, rob, bobby, ...; 'alejandro' -> alex, alejo, but not 'alexander': two formal
        names that share a nickname are different names.
        """
        if first not in self._forms:
            formals = self.formals(first)
            nicks = set().union(*(self._nicks_of.get(f, set()) for f in formals))
            self._forms[first] = frozenset(formals | nicks)
        return self._forms[first]

    def related(self, a: str, b: str) -> bool:
        """Whether one name is a nickname of the other, or both of the same formal name."""
        return b in self.forms(a) or a in self.forms(b)


@cache
def default_nicknames() -> Nicknames:
    """The table shipped in data/nicknames.csv."""
    return Nicknames.from_csv(NICKNAMES_CSV)


# --- evidence about one candidate ---------------------------------------------------------------------

STRONG_NAMES = frozenset({"exact", "nickname", "spelling", "initial"})
COMPANY_SUPPORT = frozenset({"same", "fuzzy", "partial", "domain"})
NAME_STRENGTH = {"exact": 0.6, "nickname": 0.57, "spelling": 0.5, "initial": 0.4, "close": 0.35,
                 "first_only": 0.3, "last_only": 0.2}
COMPANY_STRENGTH = {"same": 0.5, "fuzzy": 0.45, "domain": 0.45, "partial": 0.35}


@dataclass
class _Query:
    """The fields of one extracted person, normalised once."""

    name_raw: str
    name: PersonName | None
    email: str
    company_raw: str
    company: str
    phone: str

    @classmethod
    def of(cls, fields: Mapping[str, object]) -> _Query:
        name_raw, company_raw = text_of(fields.get("name")), text_of(fields.get("company"))
        return cls(name_raw, parse_name(name_raw), normalize_email(fields.get("email")), company_raw,
                   normalize_company(company_raw), normalize_phone(fields.get("phone")))

    @property
    def domain(self) -> str:
        return email_domain(self.email)

    @property
    def empty(self) -> bool:
        return not (self.name or self.email or self.phone)


@dataclass
class _Evidence:
    """What is known about one candidate row for one query."""

    row: int
    name: str | None = None  # exact, nickname, spelling, initial, close, first_only, last_only, other_first, mismatch
    company: str | None = None  # same, fuzzy, partial, domain, different, unknown (CRM has none)
    email: str | None = None  # same, mailbox, different
    phone: bool = False
    reasons: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def email_hit(self) -> bool:
        return self.email in ("same", "mailbox")

    @property
    def hard_conflict(self) -> bool:
        """Evidence that this is somebody else: another company or another name."""
        return (self.company == "different" or self.name == "mismatch"
                or (self.name == "other_first" and not self.phone))

    @property
    def eligible(self) -> bool:
        """Enough positive evidence, and no contradiction, to be matched if nobody else fits."""
        if self.hard_conflict or self.email == "different":
            return False
        supported = self.company in COMPANY_SUPPORT
        return ((self.name in STRONG_NAMES and supported)
                or (self.phone and self.name in STRONG_NAMES | {None, "first_only"})
                or (self.name == "exact" and self.company is None)  # no company given, no domain either
                or (self.name == "first_only" and supported))

    @property
    def plausible(self) -> bool:
        """Worth showing the rep as a possible match."""
        return not self.hard_conflict and (self.name is not None or self.phone or self.email_hit)

    def finish(self) -> None:
        """Combine the signals into the score."""
        signals = [NAME_STRENGTH.get(self.name or "", 0.0), COMPANY_STRENGTH.get(self.company or "", 0.0)]
        signals += [0.85 if self.phone else 0.0, 1.0 if self.email_hit else 0.0]
        miss = math.prod(1 - s for s in signals)
        penalty = {"mismatch": 0.3, "other_first": 0.5}.get(self.name or "", 1.0)
        penalty *= 0.5 if self.company == "different" and not self.email_hit else 1.0
        penalty *= 0.85 if self.email == "different" else 1.0
        self.score = round((1 - miss) * penalty, 3)

    def candidate(self, contact_id: ContactId) -> Candidate:
        return Candidate(id=contact_id, score=self.score, reasons=self.reasons + self.conflicts)


# --- the index --------------------------------------------------------------------------------------


def _column(contacts: pd.DataFrame, name: str) -> list[str]:
    """A column as clean strings; a missing column is all ''."""
    if name not in contacts.columns:
        return [""] * len(contacts)
    return [text_of(v) for v in contacts[name].tolist()]


def _group(keys: Iterable[str]) -> dict[str, list[int]]:
    """Row numbers by key, skipping empty keys."""
    groups: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        if key:
            groups.setdefault(key, []).append(row)
    return groups


def contacts_frame(contacts: list[Contact]) -> pd.DataFrame:
    """The index's input: one row per contact (id, name, email, company, phone, title, company_id, owner)."""
    columns = ["id", "name", "email", "company", "phone", "title", "company_id", "owner"]
    return pd.DataFrame([{c: getattr(contact, c) for c in columns} for contact in contacts], columns=columns)


class ContactIndex:
    """Normalised keys of every contact, built once; `match()` then finds one person quickly.

    `contacts` needs an `id` column; name, email, company (the company's name) and phone are used when
    present. The index is read-only after construction, so one instance can serve many threads.
    """

    def __init__(self, contacts: pd.DataFrame, nicknames: Nicknames | None = None) -> None:
        self._nick = nicknames or default_nicknames()
        self._ids: list[ContactId] = contacts["id"].tolist()
        self._display = _column(contacts, "name")
        self._company_raw = _column(contacts, "company")
        self._names = [parse_name(n) for n in self._display]
        self._emails = [normalize_email(e) for e in _column(contacts, "email")]
        self._phones = [normalize_phone(p) for p in _column(contacts, "phone")]
        self._domains = [email_domain(e) for e in self._emails]
        self._by_email = _group(self._emails)
        self._by_mailbox = _group(email_mailbox(e) for e in self._emails)
        self._by_phone = _group(self._phones)
        self._by_first = _group(n.first if n else "" for n in self._names)
        self._by_surname: dict[str, list[int]] = {}
        for row, n in enumerate(self._names):
            for form in n.surname_forms if n else ():
                self._by_surname.setdefault(form, []).append(row)
        self._build_companies()
        self._build_name_keys()

    def __len__(self) -> int:
        return len(self._ids)

    def _build_companies(self) -> None:
        """Unique company keys, each row's company number, and token-prefix look-ups."""
        norm = [normalize_company(c) for c in self._company_raw]
        self._company_keys = list(dict.fromkeys(k for k in norm if k))
        self._company_number = {k: i for i, k in enumerate(self._company_keys)}
        self._company_of_row = np.array([self._company_number.get(k, -1) for k in norm], dtype=np.int64)
        self._rows_by_company = _group(norm)
        self._company_prefixes: dict[str, set[int]] = {}
        for i, key in enumerate(self._company_keys):
            tokens = key.split()
            for n in range(1, len(tokens)):
                self._company_prefixes.setdefault(" ".join(tokens[:n]), set()).add(i)

    def _build_name_keys(self) -> None:
        """Name keys for the vectorised pass, tokens sorted (so plain ratio = token_sort_ratio, but
        SIMD-fast in cdist); a nickname also gets its formal names' keys."""
        keys: list[str] = []
        owners: list[int] = []
        for row, n in enumerate(self._names):
            if n is None:
                continue
            for first in sorted(self._nick.formals(n.first)):
                keys.append(_sorted_key(first, n.rest))
                owners.append(row)
        self._name_keys = keys
        self._key_owner = np.array(owners, dtype=np.int64)

    # --- matching ------------------------------------------------------------------------------------

    def match(self, fields: Mapping[str, object]) -> Match:
        """Match one extracted person (name, email, company, phone; any may be missing)."""
        query = _Query.of(fields)
        if query.empty:
            return Match(status="new", reasons=["nothing to match on: no name, email or phone"])
        companies = self._company_hits(query.company)
        rows = self._candidate_rows(query, companies)
        evidence = [self._evaluate(row, query, companies) for row in sorted(rows)]
        evidence.sort(key=lambda e: -e.score)
        return self._decide(query, evidence)

    def _company_hits(self, company: str) -> dict[int, tuple[str, float]]:
        """Company numbers the query's company can mean: exact or typo; failing those, a longer name it begins."""
        if not company:
            return {}
        hits: dict[int, tuple[str, float]] = {}
        if company in self._company_number:
            hits[self._company_number[company]] = ("same", 1.0)
        for _, score, i in process.extract(company, self._company_keys, scorer=fuzz.ratio,
                                           score_cutoff=COMPANY_FUZZY_CUTOFF, limit=None):
            hits.setdefault(i, ("fuzzy", score / 100))
        if hits:
            return hits
        # Reps shorten names ("Helios" for Helios Solar AG), so a leading part counts. Not the reverse:
        # "Acme Logistics" is not "Acme", it is another firm that happens to start the same way.
        return {i: ("partial", 0.8) for i in sorted(self._company_prefixes.get(company, ()))}

    def _candidate_rows(self, query: _Query, companies: dict[int, tuple[str, float]]) -> set[int]:
        """Rows worth a full look: same email or phone, look-alike names, namesakes at the company."""
        rows = set(self._by_email.get(query.email, ())) | set(self._by_mailbox.get(email_mailbox(query.email), ()))
        rows |= set(self._by_phone.get(query.phone, ()))
        name = query.name
        if name is None:
            return rows
        if not name.single:
            rows |= self._name_lookalikes(name)
            if not companies:
                return rows
        # Same surname (or, for one word, same first name or surname): colleagues to weigh or list.
        same = set().union(*(self._by_surname.get(f, ()) for f in name.surname_forms or {name.first}))
        if name.single:
            same |= set().union(*(self._by_first.get(f, ()) for f in self._nick.forms(name.first)))
        if companies:
            same = {r for r in same if int(self._company_of_row[r]) in companies}
        return rows | set(sorted(same)[:COARSE_LIMIT])

    def _name_lookalikes(self, name: PersonName) -> set[int]:
        """The vectorised pass: the query (and its formal names) against every name key at once."""
        if not self._name_keys:
            return set()
        variants = [_sorted_key(first, name.rest) for first in sorted(self._nick.formals(name.first))]
        scores = process.cdist(variants, self._name_keys, scorer=fuzz.ratio,
                               score_cutoff=NAME_COARSE_CUTOFF, dtype=np.uint8)
        best = scores.max(axis=0)
        hits = np.flatnonzero(best)
        if len(hits) > COARSE_LIMIT:
            hits = hits[np.argsort(-best[hits], kind="stable")[:COARSE_LIMIT]]
        return set(self._key_owner[hits].tolist())

    def _evaluate(self, row: int, query: _Query, companies: dict[int, tuple[str, float]]) -> _Evidence:
        """All the evidence for one row, with readable reasons and conflicts."""
        ev = _Evidence(row)
        self._email_evidence(ev, query)
        self._name_evidence(ev, query)
        self._company_evidence(ev, query, companies)
        if query.phone and query.phone == self._phones[row]:
            ev.phone = True
            ev.reasons.append("same phone")
        ev.finish()
        return ev

    def _email_evidence(self, ev: _Evidence, query: _Query) -> None:
        crm = self._emails[ev.row]
        if not (query.email and crm):
            return
        if query.email == crm:
            ev.email, reason = "same", "same email"
        elif email_mailbox(query.email) == email_mailbox(crm):
            ev.email, reason = "mailbox", "same email (ignoring +tag)"
        else:
            ev.email = "different"
            ev.conflicts.append(f"different email: given {query.email}, CRM has {crm}")
            return
        ev.reasons.append(reason)

    def _name_evidence(self, ev: _Evidence, query: _Query) -> None:
        crm = self._names[ev.row]
        if query.name is None or crm is None:
            return
        display = self._display[ev.row]
        swapped = False
        if query.name.single:
            ev.name = self._single_name_kind(query.name.first, crm)
        else:
            ev.name, swapped = self._full_name_kind(query.name, crm)
        text = _name_reason(ev.name, query, display)
        if swapped:
            text += " (surname written first)"
        (ev.conflicts if ev.name in ("other_first", "mismatch") else ev.reasons).append(text)

    def _single_name_kind(self, token: str, crm: PersonName) -> str:
        if token == crm.first or self._nick.related(token, crm.first):
            return "first_only"
        return "last_only" if token in crm.surname_forms else "mismatch"

    def _full_name_kind(self, name: PersonName, crm: PersonName) -> tuple[str, bool]:
        """The name relation, trying 'Surname First' order too when exactly two words were given."""
        kind = self._name_kind(name.first, name.surname_forms, crm)
        if len(name.rest) == 1 and not name.reordered and kind not in ("exact", "nickname"):
            swapped = self._name_kind(name.rest[0], frozenset({name.first}), crm)
            if swapped in ("exact", "nickname"):
                return swapped, True
        return kind, False

    def _name_kind(self, first: str, surnames: frozenset[str], crm: PersonName) -> str:
        f = self._first_relation(first, crm.first)
        s = _surname_relation(surnames, crm.surname_forms)
        if s == "mismatch" or (f == "mismatch" and s != "exact"):
            return "mismatch"
        if f == "mismatch":
            return "other_first"
        if s == "exact":
            return f
        return "spelling" if s == "spelling" and f in ("exact", "nickname") else "close"

    def _first_relation(self, a: str, b: str) -> str:
        """exact, nickname, initial, spelling (a typo), close (maybe), or mismatch."""
        if a == b:
            return "exact"
        if self._nick.related(a, b):
            return "nickname"
        if len(a) == 1 or len(b) == 1:
            return "initial" if a[0] == b[0] else "mismatch"
        if _typo(a, b):
            return "spelling"
        prefix = min(len(a), len(b)) >= 3 and (a.startswith(b) or b.startswith(a))
        return "close" if fuzz.ratio(a, b) >= 70 or prefix else "mismatch"

    def _company_evidence(self, ev: _Evidence, query: _Query, companies: dict[int, tuple[str, float]]) -> None:
        number = int(self._company_of_row[ev.row])
        crm = self._company_raw[ev.row]
        if query.company and number < 0:
            ev.company = "unknown"  # the CRM does not say where this contact works
        elif query.company:
            if number in companies:
                ev.company = companies[number][0]
                ev.reasons.append(_company_reason(ev.company, query.company_raw, crm))
            else:
                ev.company = "different"
                if ev.email_hit:
                    ev.reasons.append(f"company given ({query.company_raw}) differs from the CRM's ({crm})")
                else:
                    ev.conflicts.append(f"different company: {crm}")
        elif not ev.email_hit and query.domain and self._domains[ev.row]:
            if query.domain == self._domains[ev.row]:
                ev.company = "domain"
                ev.reasons.append(f"same email domain ({query.domain})")
            else:  # two employers' domains: another company, as far as anyone can tell
                ev.company = "different"
                ev.conflicts.append(f"different email domain: given {query.domain}, CRM has {self._domains[ev.row]}")

    # --- the decision --------------------------------------------------------------------------------

    def _decide(self, query: _Query, evidence: list[_Evidence]) -> Match:
        email_hits = [e for e in evidence if e.email_hit]
        if email_hits:
            return self._decide_by_email(email_hits, evidence)
        eligible = [e for e in evidence if e.eligible]
        plausible = [e for e in evidence if e.plausible and not e.eligible]
        if len(eligible) == 1:
            best = eligible[0]
            rivals = [e for e in plausible if e.score >= best.score - MARGIN]
            if not rivals:
                return self._matched(best, evidence, self._uniqueness_note(best, query))
            return self._ambiguous([best, *rivals])
        if eligible:
            return self._ambiguous(eligible + [e for e in plausible if e.score >= eligible[0].score - MARGIN])
        if plausible:
            return self._ambiguous(plausible, "not certain enough to match")
        return self._new(query, evidence)

    def _decide_by_email(self, hits: list[_Evidence], evidence: list[_Evidence]) -> Match:
        """A known email decides, unless the name says it is someone else or several contacts share it."""
        fitting = [e for e in hits if e.name not in ("mismatch", "other_first")]
        if len(hits) == 1 and fitting:
            return self._matched(fitting[0], evidence, [], score=1.0)
        named = [e for e in fitting if e.name in ("exact", "nickname")]
        if len(hits) > 1 and len(named) == 1:
            return self._matched(named[0], evidence, [f"this email is on {len(hits)} contacts; the name picks one"],
                                 score=1.0)
        others = [e for e in evidence if not e.email_hit and e.plausible and e.name in STRONG_NAMES]
        if len(hits) > 1:
            note = f"this email is on {len(hits)} contacts (possible duplicate records)"
        else:
            note = f"the email belongs to {self._display[hits[0].row]}, but the name given is different"
        return self._ambiguous(hits + others, note)

    def _uniqueness_note(self, best: _Evidence, query: _Query) -> list[str]:
        if best.name != "first_only" or query.name is None:
            return []
        return [f"the only {_as_written(query.name_raw, query.name.first)} at {self._company_raw[best.row]}"]

    def _matched(self, best: _Evidence, evidence: list[_Evidence], notes: list[str],
                 score: float | None = None) -> Match:
        best.score = best.score if score is None else score
        others = [e for e in evidence if e is not best and e.score > 0][: MAX_CANDIDATES - 1]
        return Match(status="matched", contact_id=self._ids[best.row], score=best.score,
                     reasons=best.reasons + notes + best.conflicts,
                     candidates=[self._candidate(e) for e in [best, *others]])

    def _ambiguous(self, listed: list[_Evidence], note: str = "") -> Match:
        listed = sorted({id(e): e for e in listed}.values(), key=lambda e: -e.score)[:MAX_CANDIDATES]
        names = ", ".join(f"{self._display[e.row]} (#{self._ids[e.row]})" for e in listed)
        reasons = [note] if note else []
        reasons.append(f"{len(listed)} contacts fit about equally: {names}" if len(listed) > 1
                       else f"possible match: {names}")
        if len(listed) > 1 and self._look_like_duplicates(listed):
            reasons.append("they look like duplicate records of one person")
        if len(listed) == 1:
            reasons += listed[0].reasons + listed[0].conflicts
        return Match(status="ambiguous", score=listed[0].score, reasons=reasons,
                     candidates=[self._candidate(e) for e in listed])

    def _new(self, query: _Query, evidence: list[_Evidence]) -> Match:
        near = [e for e in evidence if e.score >= 0.2][:MAX_CANDIDATES]
        reasons = [f"no contact has the email {query.email}"] if query.email else []
        if query.name:
            where = f" at {query.company_raw}" if query.company else ""
            reasons.append(f"no contact named {query.name_raw}{where}")
        if query.phone and not query.name and not query.email:
            reasons.append("no contact has this phone number")
        if near:
            first = near[0]
            reasons.append(f"nearest: {self._display[first.row]} (#{self._ids[first.row]}): "
                           + "; ".join(first.conflicts or first.reasons))
        return Match(status="new", score=near[0].score if near else 0.0, reasons=reasons,
                     candidates=[self._candidate(e) for e in near])

    def _look_like_duplicates(self, listed: list[_Evidence]) -> bool:
        """Every listed record shares an email or phone with the first, or has its name at its company."""
        return all(self._same_person(listed[0].row, e.row) for e in listed[1:])

    def _same_person(self, a: int, b: int) -> bool:
        if any(keys[a] and keys[a] == keys[b] for keys in (self._emails, self._phones)):
            return True
        name_a, name_b = self._names[a], self._names[b]
        if name_a is None or name_b is None or self._company_of_row[a] != self._company_of_row[b]:
            return False
        return self._name_kind(name_a.first, name_a.surname_forms, name_b) in ("exact", "nickname", "spelling")

    def _candidate(self, ev: _Evidence) -> Candidate:
        return ev.candidate(self._ids[ev.row])


def _surname_relation(query: frozenset[str], crm: frozenset[str]) -> str:
    """exact, spelling (a typo), close (maybe), or mismatch; compound surnames match on any part."""
    if query & crm:
        return "exact"
    if any(_typo(q, c) for q in query for c in crm):
        return "spelling"
    return "close" if max((fuzz.ratio(q, c) for q in query for c in crm), default=0.0) >= 75 else "mismatch"


def _typo(a: str, b: str) -> bool:
    """One slip (two in names of 8+ letters), a swap of neighbours counting as one; never in names under 5
    letters: Elisabeth/Elizabeth, Kowalski/Kowalska, Mueller/Muller, but not Omar/Umar or Chen/Chan."""
    shortest = min(len(a), len(b))
    allowed = 2 if shortest >= 8 else 1
    return shortest >= 5 and OSA.distance(a, b, score_cutoff=allowed) <= allowed


def _sorted_key(first: str, rest: Iterable[str]) -> str:
    return " ".join(sorted([first, *rest]))


def _name_reason(kind: str | None, query: _Query, display: str) -> str:
    """One readable line about how the given name relates to the contact's."""
    name = query.name or PersonName("", ())
    given = query.name_raw
    first = _as_written(given, name.first)
    if kind == "exact":
        notes = ["written 'Last, First'"] if name.reordered else []
        words = [sorted(re.findall(r"\w+", t)) for t in (given.casefold(), display.casefold())]
        if words[0] != words[1] and sorted(re.findall(r"\w+", fold(given))) == sorted(re.findall(r"\w+", fold(display))):
            notes.append("accents ignored")
        return f"name = {display}" + (f" ({', '.join(notes)})" if notes else "")
    return {
        "nickname": f"name ≈ {display} (nickname {first})",
        "spelling": f"name ≈ {display} (spelling differs: {given})",
        "initial": f"name ≈ {display} (initial {first.rstrip('.')}.)",
        "close": f"name resembles {display} ({given}); needs a person to confirm",
        "first_only": f"first name {first} matches {display}",
        "last_only": f"surname matches {display}",
        "other_first": f"different first name: {display}",
    }.get(kind or "", f"different name: {display}")


def _as_written(given: str, folded: str) -> str:
    """The word of the given text that folds to `folded` ('Björn' for 'bjorn'), else a title-cased guess."""
    for word in re.findall(r"[^\s,()\"]+", given):
        if re.sub(r"[^a-z0-9]", "", fold(word)) == folded:
            return word
    return folded.title()


def _company_reason(kind: str, given: str, crm: str) -> str:
    if kind == "same":
        if given.casefold() == crm.casefold():
            return "same company"
        bare = re.sub(r"[^a-z0-9]", "", fold(given)) == re.sub(r"[^a-z0-9]", "", fold(crm))
        return f"company matches {crm} ({'punctuation' if bare else 'suffix'} ignored)"
    if kind == "fuzzy":
        return f"company ≈ {crm} (spelling differs: {given})"
    return f"company '{given}' taken as {crm}"


# --- the convenience entry point ---------------------------------------------------------------------

_CACHE: OrderedDict[str, ContactIndex] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def frame_fingerprint(contacts: pd.DataFrame) -> str:
    """A content hash of the columns matching reads, so an edited frame never reuses a stale index."""
    digest = hashlib.blake2b(digest_size=16)
    for col in ("id", "name", "email", "company", "phone"):
        if col in contacts.columns:
            digest.update(col.encode())
            digest.update(pd.util.hash_array(contacts[col].to_numpy(), categorize=False).tobytes())
    return digest.hexdigest()


def index_for(contacts: pd.DataFrame) -> ContactIndex:
    """The index for this frame's content, from a small LRU cache (built on first use)."""
    key = frame_fingerprint(contacts)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    index = ContactIndex(contacts)
    with _CACHE_LOCK:
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


def match_contact(fields: Mapping[str, object], contacts: pd.DataFrame) -> Match:
    """Match one extracted person against `contacts` (id, name, email, company, phone).

    Builds (or reuses) a `ContactIndex`; for many lookups against the same frame, hold the index.
    """
    return index_for(contacts).match(fields)
