"""Rule-based reading of a note: sentences, people, and per-person facts with the sentence they came from.

Plausible, not intelligent: regular expressions and a few word lists. Every fact keeps `quote`, the
verbatim sentence of the input it was found in, and `span`, the shortest verbatim part of it that supports
the value (the email itself, "VP of Sales", "$48,000", "by Friday"), which is what evidence quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from . import dates as dt
from .phrases import FUTURE, STEP_PREFIX, clauses, date_span, lower_first, strip_dates

UP, LO = "A-ZÀ-ÖØ-Þ", "a-zß-öø-ÿ"
NAME_WORD = rf"(?:[{UP}]['’])?[{UP}][{LO}]+(?:-?[{UP}][{LO}]+)*"
NAME_RUN_RE = re.compile(rf"\b{NAME_WORD}(?:[ \t]+{NAME_WORD})*\b")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE_RE = re.compile(
    r"(?<![\w-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,4}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?![\w-])"
)
_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
AMOUNT_RE = re.compile(
    rf"(?P<cur>[$€£])\s?(?P<n1>{_NUM})(?:\.(?P<d1>\d+))?\s?(?P<m1>[kKmM]|bn|million|thousand|billion)?\b"
    rf"|\b(?P<n2>{_NUM})(?:\.(?P<d2>\d+))?\s?(?P<m2>[kK]|million|thousand)\b(?!\s*(?:seats|users|people|employees|licen[cs]es|units))"
    rf"|\b(?P<n3>{_NUM})(?:\.(?P<d3>\d+))?\s?(?P<c3>USD|EUR|GBP|dollars|euros|pounds)\b"
)
MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
COMPANY_SUFFIXES = (
    "Inc",
    "LLC",
    "Ltd",
    "Corp",
    "Corporation",
    "Co",
    "GmbH",
    "AG",
    "SA",
    "PLC",
    "Group",
    "Holdings",
    "Industries",
    "Labs",
    "Systems",
    "Technologies",
    "Solutions",
    "Partners",
    "Software",
    "Bank",
    "Capital",
    "Ventures",
    "Logistics",
    "Analytics",
    "Dynamics",
    "Networks",
    "Media",
    "Foods",
    "Motors",
    "Energy",
    "Pharma",
    "Robotics",
    "Consulting",
    "Health",
    "Insurance",
    "Airlines",
    "Retail",
)
CAP_WORD = r"[A-Z][\w&'’-]*"
SUFFIX_RE = re.compile(rf"\b((?:{CAP_WORD}\s+){{1,3}}(?:{'|'.join(COMPANY_SUFFIXES)})\b\.?)")
AT_FROM_RE = re.compile(rf"\b(?:at|from)\s+({CAP_WORD}(?:\s+(?:{CAP_WORD}|&))" r"{0,3})")
TITLE_CORE = (
    r"(?:Vice President|VP|SVP|EVP|AVP|Head|Director|Manager|Chief [A-Z][a-z]+ Officer|CEO|CFO|CTO|COO|CMO|CIO"
    r"|CRO|CISO|CPO|President|Founder|Co-?founder|Owner|Partner|Lead|Engineer|Analyst|Buyer|Consultant"
    r"|Specialist|Coordinator|Administrator|Architect|Counsel|Controller|Principal|Executive|Representative)"
)
TITLE_RE = re.compile(
    r"(?:(?:Senior|Sr\.?|Junior|Associate|Assistant|Deputy|Executive|Global|Regional|General|Managing|Sales"
    r"|Marketing|Account|Product|Engineering|Procurement|Operations|IT|Finance|Purchasing|Technical)\s+)*"
    + TITLE_CORE
    + r"(?![\w])"  # "Partner", not the start of "Partnerships"
    + r"(?:,?\s+(?:of|for)\s+(?:the\s+)?[A-Z][\w&]*(?:\s+(?:&|and)\s+[A-Z][\w&]*|\s+[A-Z][\w&]*){0,2})?"
)
FREE_MAIL = {
    "gmail",
    "googlemail",
    "yahoo",
    "hotmail",
    "outlook",
    "live",
    "icloud",
    "me",
    "proton",
    "protonmail",
    "aol",
    "gmx",
}
# Teams and functions: "Sam from Partnerships", "RevOps asked" name a department, never a person or a company.
ROLE_WORDS = {
    w.lower()
    for w in (
        "Partnerships Partnership RevOps SalesOps MarketingOps DevOps SecOps BizOps BizDev Alliances Channel Legal "
        "Security Compliance HR People Talent Recruiting IT Infosec Growth Revenue Data Design Research Strategy "
        "Treasury Accounting Payroll Facilities Logistics Supply Onboarding Implementation Services Enablement"
    ).split()
}
STOP = (
    {
        w.lower()
        for w in (
            "The This That These Those There Then When Where What Which Who Why How Our Their His Her Its We They He "
            "She It I You Your My Me Us Also And But Or So If As At From For With To In On Of By Per Re Fwd Fw Cc "
            "Hi Hello Dear Thanks Thank Regards Best Cheers Please Sincerely Call Calls Meeting Meetings Note Notes "
            "Summary Subject Date Next Step Steps Action Items Item Key Points Decisions Decision Follow Up Attendees "
            "Agenda Today Tomorrow Yesterday Spoke Met Talked Called Emailed Sent Asked Told Discussed Reviewed Agreed "
            "Mr Mrs Ms Dr Prof Sir Madam Team Pro Plan Enterprise Premium Standard Basic Starter Renewal Demo Proposal "
            "Pipeline Deal Deals Budget Pricing Contract Legal Quarter Sales Marketing Procurement Engineering Finance "
            "Operations Product Support Customer Success Account Accounts Ops Head Director Manager Chief Officer "
            "Vice President Lead Founder Partner Owner Senior Junior Global Regional CRM Q1 Q2 Q3 Q4 Inc Ltd LLC Corp "
            "Corporation Co Group Holdings Industries Labs Systems Technologies Solutions Software"
        ).split()
    }
    | ROLE_WORDS
    | set(dt.WEEKDAYS)
    | set(dt.MONTHS)
    | {m[:3] for m in dt.MONTHS}
)
NO_COMPANY = STOP | {
    "monday",
    "noon",
    "night",
    "lunch",
    "dinner",
    "breakfast",
    "home",
    "work",
    "least",
    "most",
    "all",
}
ABBREVIATIONS = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|e\.g|i\.e|approx|No)\.$")
FILLER = {
    "is",
    "the",
    "our",
    "their",
    "a",
    "an",
    "as",
    "who",
    "whos",
    "from",
    "at",
    "of",
    "with",
    "and",
    "works",
}


@dataclass(frozen=True)
class Sentence:
    """A sentence (or bullet line) with its offsets in the original text."""

    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class Fact:
    """A value found in the text, the sentence it came from, and the shortest part of it that supports it."""

    value: Any
    quote: str
    span: str | None = None

    @property
    def evidence(self) -> str:
        return self.span if self.span and self.span in self.quote else self.quote


@dataclass
class Person:
    """Someone named in the note, with what was found about them."""

    name: str
    context: list[int] = field(default_factory=list)  # sentence indices about this person
    mentions: list[int] = field(default_factory=list)  # sentence indices naming them
    facts: dict[str, Fact] = field(default_factory=dict)
    deal_context: list[int] = field(default_factory=list)  # sentences about their company's deal

    @property
    def first(self) -> str:
        return self.name.split()[0]

    @property
    def last(self) -> str | None:
        parts = self.name.split()
        return parts[-1] if len(parts) > 1 else None


WRAPPED_LINE = 60  # a line at least this long that runs on into a plain line is hard-wrapped prose


def unwrap(text: str) -> str:
    """Hard-wrapped prose joined into long lines (a newline becomes a space, so offsets are kept)."""
    chars = list(text)
    start = 0
    for m in re.finditer(r"\n", text):
        line = text[start : m.start()]
        after = text[m.end() : m.end() + 4]
        if len(line.strip()) >= WRAPPED_LINE and after[:1] not in ("", "\n") and not re.match(r"\s*(?:[-*•]|\d+[.)])\s", after):
            chars[m.start()] = " "
        start = m.end()
    return "".join(chars)


def split_sentences(text: str) -> list[Sentence]:
    """Lines, then sentences within a line; bullets and blank lines dropped; offsets kept.

    Hard-wrapped lines are joined first, so a sentence that runs over a line break stays whole.
    """
    out: list[Sentence] = []
    text = unwrap(text)
    for line in re.finditer(r"[^\n]+", text):
        for part in re.finditer(r".+?(?:[.!?](?=\s+[A-Z0-9\"'(\[])|$)", line[0]):
            raw = part[0]
            stripped = raw.strip()
            lead = len(raw) - len(raw.lstrip())
            bullet = re.match(r"^(?:[-*•]|\d+[.)])\s+", stripped)
            if bullet:
                lead += bullet.end()
                stripped = stripped[bullet.end() :]
            if not stripped:
                continue
            start = line.start() + part.start() + lead
            if out and ABBREVIATIONS.search(out[-1].text) and out[-1].end + 1 >= start - 1:
                prev = out.pop()
                out.append(Sentence(text[prev.start : start + len(stripped)], prev.start))
            else:
                out.append(Sentence(stripped, start))
    return out


def amount_value(m: re.Match[str]) -> float:
    """The number behind an AMOUNT_RE match ("$48,000" -> 48000.0, "€12.5k" -> 12500.0)."""
    n = m["n1"] or m["n2"] or m["n3"]
    d = m["d1"] or m["d2"] or m["d3"]
    mult = (m["m1"] or m["m2"] or "").lower()
    value = float(n.replace(",", "") + ("." + d if d else ""))
    return value * MULTIPLIERS.get(mult, 1.0)


def phones(text: str) -> list[re.Match[str]]:
    """Phone-number matches with 9 to 15 digits that are not dates."""
    found = []
    for m in PHONE_RE.finditer(text):
        digits = re.sub(r"\D", "", m[0])
        if 9 <= len(digits) <= 15 and not dt.ISO_RE.fullmatch(m[0].strip()):
            found.append(m)
    return found


def _clean_company(raw: str) -> str | None:
    words = raw.strip().rstrip(".,;:").split()
    while words and words[0].lower().strip("'’") in STOP and words[0] not in COMPANY_SUFFIXES:
        words = words[1:]
    while words and words[-1] in ("&", "and", "of"):
        words = words[:-1]
    name = re.sub(r"['’]s$", "", " ".join(words))
    if not name or name.lower() in NO_COMPANY or not name[0].isupper():
        return None
    return name


class Note:
    """Everything the reply builders need from one input text."""

    def __init__(self, text: str, today: date) -> None:
        self.text = text
        self.sentences = split_sentences(text)
        self.ref_date = dt.reference_date(text, today)
        self.emails = [m[0] for m in EMAIL_RE.finditer(text)]
        self.companies = self._companies()
        self.people = self._people()
        for person in self.people:
            self._fill_email(person)
        self._assign_context()
        for person in self.people:
            self._fill(person)
        self._share_deals()

    # --- companies and people -------------------------------------------------------------------
    def _companies(self) -> list[tuple[int, int, str]]:
        spans: list[tuple[int, int, str]] = []
        for regex in (SUFFIX_RE, AT_FROM_RE):
            for m in regex.finditer(self.text):
                name = _clean_company(m[1])
                if name:
                    start = self.text.find(name, m.start(1))
                    start = m.start(1) if start < 0 else start
                    spans.append((start, start + len(name), name))
        return sorted(set(spans))

    def _in_company(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in self.companies)

    def _people(self) -> list[Person]:
        names: list[str] = []
        for m in NAME_RUN_RE.finditer(self.text):
            words, offset = m[0].split(), m.start()
            run: list[str] = []
            for word in [*words, ""]:
                if word and word.lower() not in STOP and len(run) < 3:
                    run.append(word)
                    continue
                if len(run) >= 2:
                    full = " ".join(run)
                    at = self.text.find(full, offset)
                    if not self._in_company(at, at + len(full)) and not self._tied_to_domain(full):
                        names.append(full)
                run = [word] if word and word.lower() not in STOP else []
        names += self._single_names_with_email()
        names += self._single_names_at_company()
        names += self._names_from_emails(names)
        people: list[Person] = []
        for name in names:
            if not any(p.name == name or name in p.name.split() for p in people):
                people.append(Person(name))
        # A company spotted only through "at/from X" that is really a person named elsewhere is not a company.
        person_words = {w for p in people for w in p.name.split()}
        self.companies = [
            c for c in self.companies if c[2] not in person_words and c[2] not in {p.name for p in people}
        ]
        return people

    def _tied_to_domain(self, full: str) -> bool:
        # "Acme Corp" style runs without a suffix can still be a company if an email domain spells it.
        squashed = re.sub(r"\W", "", full).lower()
        return any(email.split("@")[1].split(".")[0] == squashed for email in self.emails)

    def _single_names_with_email(self) -> list[str]:
        found = []
        for m in re.finditer(rf"\b({NAME_WORD})\s*[(<]\s*({EMAIL_RE.pattern})", self.text):
            if m[1].lower() not in STOP:
                found.append(m[1])
        return found

    def _single_names_at_company(self) -> list[str]:
        """A first name right before "at/from <a company found in the note>": "Sarah at Umbrella"."""
        found = []
        starts = {s for s, _e, _name in self.companies}
        for m in re.finditer(rf"\b({NAME_WORD})\s+(?:at|from)\s+", self.text):
            if m[1].lower() not in STOP and m.end() in starts:
                found.append(m[1])
        return found

    def _names_from_emails(self, known: list[str]) -> list[str]:
        found = []
        for email in self.emails:
            local = email.split("@")[0].lower()
            if any(part.lower() in local for name in known for part in name.split()):
                continue
            bits = [b for b in re.split(r"[._-]", local) if b.isalpha() and len(b) > 1]
            if len(bits) >= 2 and bits[0] not in (
                "info",
                "sales",
                "support",
                "hello",
                "team",
                "admin",
                "billing",
            ):
                found.append(" ".join(b.capitalize() for b in bits[:2]))
        return found

    def _mentions(self, person: Person, sentence: str) -> bool:
        if "email" in person.facts and person.facts["email"].value in sentence:
            return True
        return self._named_in(person, sentence)

    def _named_in(self, person: Person, sentence: str) -> bool:
        words = [person.name, person.first] + ([person.last] if person.last else [])
        return any(re.search(rf"(?<![\w@.]){re.escape(w)}\b(?!@)", sentence) for w in words)

    def _assign_context(self) -> None:
        current: list[Person] = []
        for i, sentence in enumerate(self.sentences):
            named = [p for p in self.people if self._mentions(p, sentence.text)]
            if named:
                current = named
                for p in named:
                    p.mentions.append(i)
            elif dt.DATE_LINE_RE.match(sentence.text):
                continue
            for p in current:
                p.context.append(i)

    # --- per-person facts ----------------------------------------------------------------------
    def verbatim(self, quote: str) -> str:
        """`quote` as it stands in the original text (sentences are read from hard-wrapped lines joined)."""
        words = quote.split()
        if not words or quote in self.text:
            return quote
        m = re.search(r"\s+".join(re.escape(w) for w in words), self.text)
        return m[0] if m else quote

    def context_text(self, person: Person) -> str:
        return " ".join(self.sentences[i].text for i in person.context)

    def _fill(self, person: Person) -> None:
        first = self.sentences[person.mentions[0]].text if person.mentions else self.text.strip()
        person.facts["name"] = Fact(person.name, first, person.name if person.name in first else None)
        for i in person.context:
            s = self.sentences[i].text
            if "phone" not in person.facts and (found := phones(s)):
                person.facts["phone"] = Fact(found[0][0].strip(), s, found[0][0].strip())
            if "amount" not in person.facts and (money := list(AMOUNT_RE.finditer(s))):
                # the last figure is the total ("60 at $800 comes to $48,000") or the revision ("$92k → $88k")
                person.facts["amount"] = Fact(amount_value(money[-1]), s, money[-1][0].strip())
        self._fill_company_and_title(person)
        self._fill_next_step(person)

    def _fill_email(self, person: Person) -> None:
        taken = {p.facts["email"].value for p in self.people if "email" in p.facts}
        keys = [w.lower() for w in person.name.split() if len(w) > 1]
        for email in self.emails:
            if email not in taken and any(k in email.split("@")[0].lower() for k in keys):
                person.facts["email"] = Fact(email, self._sentence_with(email), email)
                return
        for sentence in self.sentences:
            s = sentence.text
            if not self._named_in(person, s):
                continue
            for email in EMAIL_RE.findall(s):
                if email not in taken and not self._email_belongs_to_other(email, person):
                    person.facts["email"] = Fact(email, s, email)
                    return

    def _email_belongs_to_other(self, email: str, person: Person) -> bool:
        local = email.split("@")[0].lower()
        return any(
            p is not person and any(w.lower() in local for w in p.name.split() if len(w) > 1)
            for p in self.people
        )

    def _sentence_with(self, needle: str) -> str:
        return next((s.text for s in self.sentences if needle in s.text), needle)

    def _windows(self, person: Person):
        """(text before the name, text after it up to another person, the sentence) for each mention."""
        for i in person.mentions:
            s = self.sentences[i].text
            m = re.search(rf"{re.escape(person.name)}|\b{re.escape(person.first)}\b", s)
            if not m:
                continue
            after = s[m.end() :]
            for other in self.people:
                if other is not person:
                    cut = re.search(rf"\b{re.escape(other.first)}\b", after)
                    after = after[: cut.start()] if cut else after
            yield s[: m.start()], after, s

    def _fill_company_and_title(self, person: Person) -> None:
        companies = [c[2] for c in self.companies]
        for before, after, sentence in self._windows(person):
            title = _clean_title(_title_after(after, companies) or _title_before(before))
            if title and "title" not in person.facts:
                person.facts["title"] = Fact(title, sentence, title)
            company = self._company_in(after) or _company_in_parens(after) or _company_after_comma(after)
            if company and "company" not in person.facts:
                person.facts["company"] = Fact(company, sentence, company)
        for i in person.context:
            s = self.sentences[i].text
            pronoun = re.match(r"^(?:He|She|They)\s+(?:is|are|was|were)\s+(?:the|our|their|a|an)\s+", s)
            if pronoun and "title" not in person.facts and (t := TITLE_RE.match(s, pronoun.end())):
                person.facts["title"] = Fact(_clean_title(t[0]), s, _clean_title(t[0]))
            if "company" not in person.facts and (company := self._company_in(s)):
                person.facts["company"] = Fact(company, s, company)
        if "company" not in person.facts and (near := self._company_before(person)):
            person.facts["company"] = near
        if "company" not in person.facts and "email" in person.facts:
            domain = person.facts["email"].value.split("@")[1].split(".")[0]
            if domain.lower() not in FREE_MAIL:
                person.facts["company"] = Fact(domain.capitalize(), person.facts["email"].quote,
                                               person.facts["email"].value)

    def _company_before(self, person: Person) -> Fact | None:
        """The note's one company, named before the person ("Demo with Acme Corp. John ..."); with
        several companies in the note, a guess would too often be wrong, so none."""
        if not person.mentions or len({name for _s, _e, name in self.companies}) != 1:
            return None
        start = self.sentences[person.mentions[0]].start
        before = [(s, name) for s, _e, name in self.companies if s < start]
        if not before:
            return None
        at, name = max(before)
        return Fact(name, next((x.text for x in self.sentences if x.start <= at < x.end), name), name)

    def _share_deals(self) -> None:
        """Deal facts belong to the first person named at each company: one deal per account and note."""
        groups: dict[str, list[Person]] = {}
        only = {name for _s, _e, name in self.companies}
        for person in self.people:
            if "company" not in person.facts and len(only) == 1 and person.mentions:
                # "their CFO, Dev Patel" in a note about one account: Dev works there
                name = next(iter(only))
                quote = next((x.text for x in self.sentences if name in x.text), name)
                person.facts["company"] = Fact(name, quote, name)
            company = person.facts.get("company")
            key = re.sub(r"\W|inc|corp|ltd|llc|gmbh", "", str(company.value).lower()) if company else person.name
            groups.setdefault(key, []).append(person)
        for members in groups.values():
            owner = members[0]
            owner.deal_context = sorted({i for m in members for i in m.context})
            for other in members[1:]:
                for field_name in ("amount", "next_step", "next_step_date"):
                    fact = other.facts.pop(field_name, None)
                    if fact is not None and field_name not in owner.facts:
                        owner.facts[field_name] = fact

    def _company_in(self, text: str) -> str | None:
        hits = [(text.find(name), name) for _s, _e, name in self.companies if name in text]
        return min(hits)[1] if hits else None

    def _fill_next_step(self, person: Person) -> None:
        """The next concrete action, in a few words, and its date: a "Next step:" line first, then the first
        thing someone will do (with a date, else without), then a dated request ("wants a demo by Friday")."""
        candidates: list[tuple[int, str]] = []  # (rank, clause)
        for i in person.context:
            for clause in clauses(self.sentences[i].text):
                if dt.DATE_LINE_RE.match(clause):
                    continue
                dated = [d for d in dt.all_dates(clause, self.ref_date) if d.value != self.ref_date]
                if STEP_PREFIX.match(clause) or re.search(r"\bnext steps?\b", clause, re.I):
                    candidates.append((0, clause))
                elif FUTURE.search(clause):
                    candidates.append((1 if dated else 3, clause))
                elif dated and re.search(r"\b(wants?|to|schedule|send|follow|demo|call|meet|review|sign)\b",
                                         clause, re.I):
                    candidates.append((2, clause))
        if not candidates:
            return
        _rank, chosen = min(candidates, key=lambda c: c[0])
        body = STEP_PREFIX.sub("", chosen)
        future = FUTURE.search(body)
        action = body[future.end():] if future else body
        task, due, phrase = strip_dates(action, self.ref_date)
        span = body.rstrip(" .")
        person.facts["next_step"] = Fact(lower_first(task) if future else task, chosen, span)
        when = [d for d in dt.all_dates(chosen, self.ref_date) if d.value != self.ref_date]
        # "Tuesday 2026-12-08" is one date: a weekday right before a written-out date only names it
        written = dt.absolute_dates(chosen, self.ref_date.year)
        when = [d for d in when if not any(0 <= a.start - (d.start + len(d.phrase)) <= 2 for a in written)]
        if when:
            person.facts["next_step_date"] = Fact(when[0].value, chosen, date_span(chosen, when[0].phrase))

    # --- helpers for other builders --------------------------------------------------------------
    def sentences_matching(self, pattern: str) -> list[str]:
        return [s.text for s in self.sentences if re.search(pattern, s.text, re.I)]

    def entities(self) -> list[str]:
        """Names and companies, people first: what a lookup tool would be asked about."""
        seen = [p.name for p in self.people] + [c[2] for c in self.companies]
        return list(dict.fromkeys(seen))


def _clean_title(title: str | None) -> str | None:
    """A title without the punctuation around it ("VP of Operations," -> "VP of Operations")."""
    if not title:
        return None
    return title.strip().strip(",;:-–—()").strip() or None


def _title_after(after: str, companies: list[str]) -> str | None:
    gap = after
    for company in companies:
        gap = gap.replace(company, " ")
    gap = EMAIL_RE.sub(" ", gap)
    paren = re.match(r"^[\s,]*\(([^)]*)\)", gap)
    if paren and TITLE_RE.search(paren[1]) and "@" not in paren[1]:
        # "(Director, Ops)" is one title; "(VP Sales, no relation, he joked)" is a title and an aside
        parts = [p.strip() for p in paren[1].split(",")]
        kept = [parts[0]]
        for part in parts[1:]:  # a department goes with the title; a company or an aside does not
            if not part or not all(w.lower() in STOP or w.lower() in ROLE_WORDS for w in part.split()):
                break
            kept.append(part)
        return ", ".join(kept)
    m = TITLE_RE.search(gap)
    if not m:
        return None
    between = re.sub(r"[\s,;:()\[\]<>\-–—]+", " ", gap[: m.start()]).lower().split()
    return m[0].strip() if all(w in FILLER for w in between) else None


def _title_before(before: str) -> str | None:
    matches = list(TITLE_RE.finditer(before))
    if not matches:
        return None
    m = matches[-1]
    between = re.sub(r"[\s,;:\-–—]+", " ", before[m.end() :]).lower().split()
    return m[0].strip() if all(w in FILLER for w in between) else None


def _company_after_comma(after: str) -> str | None:
    m = re.match(r"^\s*,\s*([A-Z][\w&'’-]*(?:\s+[A-Z][\w&'’-]*){0,3})\s*(?:,|$)", after)
    if m and not TITLE_RE.search(m[1]):
        return _clean_company(m[1])
    return None


def _company_in_parens(after: str) -> str | None:
    m = re.match(r"^\s*\(([^)@]+)\)", after)
    if m and not TITLE_RE.search(m[1]):
        return _clean_company(m[1])
    return None
