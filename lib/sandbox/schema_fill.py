"""Fill any JSON schema the SDK sends with values read from the user's text; the result always validates.

Values are chosen by property name (email, phone, name, company, title, amount, *_date, next_step,
summary, confidence, evidence, ...) from extract.Note. An array of objects with a name-like property gets
one item per person in the text. Missing values become null where the schema allows it, else a plausible
empty value ("" / 0 / false / the first enum value). A last pass (schema_conform) enforces the bounds.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Any

from .dates import all_dates
from .extract import AMOUNT_RE, EMAIL_RE, Fact, Note, Person, amount_value, phones
from .phrases import FUTURE, clauses
from .schema_conform import conform

MISSING = object()

NAME_KEYS = {
    "name",
    "full_name",
    "fullname",
    "contact_name",
    "person_name",
    "person",
    "contact",
    "customer_name",
}
FIELD_KEYS: list[tuple[str, str]] = [
    (r"e-?mail", "email"),
    (r"phone|mobile|tel\b|telephone|cell", "phone"),
    (r"compan|organi[sz]ation|\borg\b|account|employer|business|firm", "company"),
    (r"title|role|position|job", "title"),
    (r"amount|value|deal_size|budget|price|revenue|\barr\b|\bacv\b|cost", "amount"),
    (r"next_step|next_action|follow_?up|action|task|todo", "next_step"),
]
SYNONYMS: dict[str, tuple[str, ...]] = {
    "closed_won": ("signed", "closed won", "closed the deal", "closed", "won the deal", "purchase order"),
    "closed_lost": (
        "closed lost",
        "lost the deal",
        "went with a competitor",
        "chose a competitor",
        "not moving forward",
    ),
    "negotiation": ("negotiat", "redline", "discount", "contract terms", "legal review"),
    "proposal": ("proposal", "quote"),
    "demo": ("demo", "walkthrough", "trial"),
    "qualified": ("qualified", "budget confirmed", "confirmed budget", "confirmed a budget", "decision maker",
                  "discovery"),
    "lead": ("lead", "intro", "inbound"),
    "positive": ("great", "excited", "happy", "pleased", "enthusiastic", "keen", "love"),
    "negative": ("concern", "unhappy", "frustrat", "angry", "disappoint", "complain"),
    "high": ("urgent", "asap", "high priority", "critical"),
    "low": ("no rush", "low priority", "whenever"),
}


LATE_STAGES = {"proposal", "negotiation", "closed_won", "closed_lost"}


def _clauses_of(text: str) -> list[str]:
    return [c for part in re.split(r"(?<=[.!?])\s+", text) for c in clauses(part)]


class SchemaFiller:
    """fill() walks the schema (objects, arrays, anyOf, $ref/$defs, enums, formats) and returns a value."""

    def __init__(self, schema: dict[str, Any], note: Note) -> None:
        self.root = schema
        self.defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
        self.note = note

    def fill(self) -> Any:
        value = self._value(self.root, "", None, 0)
        value = self._default(self.root, 0) if value is MISSING else value
        return conform(value, self.root, self._resolve, self._default)

    # --- schema plumbing ----------------------------------------------------------------------------
    def _resolve(self, schema: Any, depth: int) -> dict[str, Any]:
        while isinstance(schema, dict) and "$ref" in schema and depth < 50:
            ref = schema["$ref"]
            schema = self.root if ref == "#" else self.defs.get(ref.rsplit("/", 1)[-1], {})
            depth += 1
        return schema if isinstance(schema, dict) else {}

    def _types(self, schema: dict[str, Any]) -> list[str]:
        t = schema.get("type")
        if isinstance(t, list):
            return t
        if t:
            return [t]
        if "properties" in schema:
            return ["object"]
        if "items" in schema:
            return ["array"]
        return []

    def _allows_null(self, schema: dict[str, Any], depth: int) -> bool:
        schema = self._resolve(schema, depth)
        if "null" in self._types(schema) or schema.get("const", 0) is None:
            return True
        if "enum" in schema and None in schema["enum"]:
            return True
        return any(self._allows_null(b, depth + 1) for b in schema.get("anyOf", []) + schema.get("oneOf", []))

    def _default(self, schema: Any, depth: int) -> Any:
        schema = self._resolve(schema, depth)
        if depth > 40:
            return None
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            if self._allows_null(schema, depth):
                return None
            return self._default(branches[0], depth + 1)
        if "allOf" in schema:
            return self._default(self._merge(schema["allOf"], depth), depth + 1)
        types = self._types(schema)
        kind = "null" if "null" in types else (types[0] if types else "string")
        if kind == "object":
            props = schema.get("properties", {})
            return {k: self._default(props[k], depth + 1) for k in schema.get("required", []) if k in props}
        if kind == "array":
            count = min(int(schema.get("minItems", 0) or 0), 3)
            return [self._default(schema.get("items", {}), depth + 1) for _ in range(count)]
        return {"null": None, "boolean": False, "integer": 0, "number": 0}.get(
            kind, self._empty_string(schema)
        )

    def _empty_string(self, schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        return {
            "email": "unknown@example.com",
            "date": self.note.ref_date.isoformat(),
            "date-time": self.note.ref_date.isoformat() + "T09:00:00Z",
            "time": "09:00:00",
            "uri": "https://example.com",
            "hostname": "example.com",
            "uuid": str(uuid.UUID(int=0)),
            "ipv4": "127.0.0.1",
            "ipv6": "::1",
            "duration": "PT0S",
        }.get(fmt, "")

    def _merge(self, parts: list[Any], depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            part = self._resolve(part, depth)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
            for key in ("type", "enum", "format", "items"):
                if key in part and key != "type":
                    merged[key] = part[key]
            if part.get("type") and part.get("type") != "object":
                merged["type"] = part["type"]
        return merged

    # --- values --------------------------------------------------------------------------------
    def _value(self, schema: Any, name: str, person: Person | None, depth: int) -> Any:
        schema = self._resolve(schema, depth)
        if depth > 40:
            return MISSING
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self._enum(schema["enum"], name, person)
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            for branch in branches:
                if "null" in self._types(self._resolve(branch, depth)):
                    continue
                value = self._value(branch, name, person, depth + 1)
                if value is not MISSING:
                    return value
            return MISSING
        if "allOf" in schema:
            return self._value(self._merge(schema["allOf"], depth), name, person, depth + 1)
        declared = self._types(schema)
        if declared == ["null"]:
            return None
        types = [t for t in declared if t != "null"] or ["string"]
        kind = types[0]
        if kind == "object":
            return self._object(schema, name, person, depth)
        if kind == "array":
            return self._array(schema, name, person, depth)
        if kind in ("integer", "number"):
            return self._number(schema, name, person, kind)
        if kind == "boolean":
            return self._boolean(name, person)
        if kind == "null":
            return None
        return self._string(schema, name, person)

    def _object(self, schema: dict[str, Any], name: str, person: Person | None, depth: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        if person is None and any(_key(p) in NAME_KEYS for p in props) and self.note.people:
            person = self.note.people[0]
        out: dict[str, Any] = {}
        quotes: dict[str, str] = {}
        evidence = {p for p, sub in props.items() if _key(p) == "evidence" and self._is_evidence(sub, depth)}
        for prop, sub in props.items():
            if prop in evidence:
                continue
            value = self._value(sub, prop, person, depth + 1)
            if value is not MISSING and value is not None:
                quote = self._quote(prop, person, value)
                if quote:
                    quotes[prop] = self.note.verbatim(quote)
            if value is MISSING:
                if prop not in required:
                    continue
                value = None if self._allows_null(sub, depth) else self._default(sub, depth + 1)
            out[prop] = value
        for prop in evidence:
            out[prop] = self._evidence(props[prop], quotes, depth + 1)
        return {p: out[p] for p in props if p in out}

    def _array(self, schema: dict[str, Any], name: str, person: Person | None, depth: int) -> list[Any]:
        items = self._resolve(schema.get("items", {}), depth)
        item_props = items.get("properties", {})
        low, high = int(schema.get("minItems", 0) or 0), schema.get("maxItems")
        if any(_key(p) in NAME_KEYS for p in item_props) and person is None:
            values = [self._object(items, name, p, depth + 1) for p in self.note.people]
        elif item_props:
            values = [
                self._object(items, name, self._owner(s), depth + 1) for s in self._item_sentences(name)[:3]
            ]
        else:
            values = self._primitive_items(items, name, person, depth)
        values = values[: high if isinstance(high, int) else None]
        while len(values) < low:
            values.append(self._default(items, depth + 1))
        return values

    def _primitive_items(
        self, items: dict[str, Any], name: str, person: Person | None, depth: int
    ) -> list[Any]:
        """Items of an array of scalars: several values for plain strings, else at most one typed value."""
        declared = self._types(items)
        if declared == ["null"]:
            return []
        types = [t for t in declared if t != "null"]
        plain_string = not {"enum", "const", "anyOf", "oneOf", "allOf", "format"} & set(items)
        if plain_string and types in ([], ["string"]):
            return [v for v in self._strings_for(name, person) if isinstance(v, str)]
        if types and types[0] in ("number", "integer") and re.search(FIELD_KEYS[4][0], _key(name)):
            found = [amount_value(m) for m in AMOUNT_RE.finditer(self._context(person))]
            return [int(round(v)) if types[0] == "integer" else v for v in found]
        value = self._value(items, name, person, depth + 1)
        return [] if value is MISSING else [value]

    def _string(self, schema: dict[str, Any], name: str, person: Person | None) -> Any:
        fmt = schema.get("format")
        key = _key(name)
        if fmt is not None and fmt not in ("date", "date-time", "email"):
            return MISSING  # uuid, uri, ...: nothing in a note fits; _default supplies a valid value
        date_like = key.endswith("date") or key in ("due", "deadline", "when")
        if fmt in ("date", "date-time") or (fmt is None and date_like):
            day = self._date(person)
            if day is MISSING:
                return MISSING
            return day.isoformat() + ("T09:00:00Z" if fmt == "date-time" else "")
        if fmt == "email":
            fact = self._fact("email", person)
            return (
                fact.value if fact else (self.note.emails[0] if self.note.emails and not person else MISSING)
            )
        if key in NAME_KEYS or key in ("first_name", "last_name", "owner", "assignee"):
            return self._name_part(key, person)
        if key in ("summary", "notes", "description", "overview", "gist", "context"):
            return self._summary(person)
        for pattern, field in FIELD_KEYS:
            if re.search(pattern, key):
                fact = self._fact(field, person)
                if fact is not None:
                    return _money(fact.value) if field == "amount" else str(fact.value)
                return MISSING
        return MISSING

    def _number(self, schema: dict[str, Any], name: str, person: Person | None, kind: str) -> Any:
        key = _key(name)
        value: Any = MISSING
        if re.search(r"confidence|score|probability|likelihood|certainty", key):
            value = self._confidence(person)
        elif re.search(FIELD_KEYS[4][0], key):
            fact = self._fact("amount", person)
            value = fact.value if fact else MISSING
        elif re.search(r"seats|users|licen[cs]es|quantity|count|number|headcount", key):
            text = self._context(person)
            m = re.search(r"(\d[\d,]*)\s+(?:seats|users|licen[cs]es|people|employees|units)", text)
            value = (
                float(m[1].replace(",", "")) if m else (len(self.note.people) if "people" in key else MISSING)
            )
        if value is MISSING:
            return MISSING
        value = _clamp(float(value), schema)
        return int(round(value)) if kind == "integer" else value

    def _boolean(self, name: str, person: Person | None) -> Any:
        words = [
            w for w in re.split(r"[_\W]+", _key(name)) if len(w) > 2 and w not in ("has", "the", "was", "are")
        ]
        if not words:
            return MISSING
        text = self._context(person).lower()
        return all(w in text for w in words)

    def _enum(self, options: list[Any], name: str, person: Person | None) -> Any:
        text = self._context(person).lower()
        if person is not None and re.search(r"stage|status|pipeline", _key(name)):
            # a deal's stage is read once per account, for the first person named there
            text = " ".join(self.note.sentences[i].text for i in person.deal_context).lower()
        if re.search(r"stage|status|pipeline", _key(name)):
            # a proposal someone "will send" has not been sent: later stages count only what happened
            done = " ".join(c for c in _clauses_of(text) if not FUTURE.search(c))
        else:
            done = text
        best, best_score = MISSING, 0
        for option in options:
            if not isinstance(option, str):
                continue
            phrases = (option.lower().replace("_", " ").replace("-", " "),) + SYNONYMS.get(option.lower(), ())
            where = done if option.lower() in LATE_STAGES else text
            score = sum(len(re.findall(rf"\b{re.escape(p)}", where)) for p in phrases)
            if score and score >= best_score:  # ties go to the later value (pipelines list stages in order)
                best, best_score = option, score
        return best

    # --- facts -------------------------------------------------------------------------------------
    def _fact(self, field: str, person: Person | None) -> Fact | None:
        if person is not None:
            return person.facts.get(field)
        if self.note.people:
            return self.note.people[0].facts.get(field)
        return None

    def _context(self, person: Person | None) -> str:
        return self.note.context_text(person) if person is not None and person.context else self.note.text

    def _name_part(self, key: str, person: Person | None) -> Any:
        if person is None or not person.name:
            return MISSING
        if key == "first_name":
            return person.first
        if key == "last_name":
            return person.last or MISSING
        return person.name

    def _date(self, person: Person | None) -> Any:
        fact = self._fact("next_step_date", person)
        if fact is not None:
            return fact.value
        if person is None and not self.note.people:
            found = [
                d for d in all_dates(self.note.text, self.note.ref_date) if d.value != self.note.ref_date
            ]
            return found[0].value if found else MISSING
        return MISSING

    def _summary(self, person: Person | None) -> Any:
        sentences = [self.note.sentences[i].text for i in person.context] if person else []
        if not sentences:
            sentences = [s.text for s in self.note.sentences if len(s.text.split()) > 3]
        return " ".join(sentences[:2]) if sentences else MISSING

    def _confidence(self, person: Person | None) -> float:
        if person is None:
            return 0.5 if self.note.people else 0.3
        facts = person.facts
        score = 0.5 + 0.2 * ("email" in facts) + 0.15 * ("company" in facts) + 0.05 * ("title" in facts)
        score += 0.05 * ("phone" in facts) + 0.03 * ("amount" in facts)
        return round(min(score, 0.98), 2)

    def _quote(self, prop: str, person: Person | None, value: Any) -> str | None:
        """The verbatim sentence a filled value came from (for `evidence`)."""
        key = _key(prop)
        field = "name" if key in NAME_KEYS else None
        if key.endswith("date"):
            field = "next_step_date"
        for pattern, name in FIELD_KEYS:
            if field is None and re.search(pattern, key):
                field = name
        fact = self._fact(field, person) if field else None
        if fact is not None:
            return fact.evidence
        needle = str(value).replace("_", " ").lower()
        for i in person.context if person else range(len(self.note.sentences)):
            for clause in clauses(self.note.sentences[i].text):  # the shortest part that says it
                words = SYNONYMS.get(str(value).lower(), ()) + (needle,)
                if any(re.search(rf"\b{re.escape(w)}", clause.lower()) for w in words):
                    return _span_around(clause, words)
        return None

    def _is_evidence(self, schema: Any, depth: int) -> bool:
        """An array of objects with a `field` and a quote-like string property."""
        array = self._resolve(schema, depth)
        if "array" not in self._types(array):
            return False
        props = self._resolve(array.get("items", {}), depth).get("properties", {})
        return "field" in props and any(k in props for k in ("quote", "text", "source", "excerpt"))

    def _evidence(self, schema: dict[str, Any], quotes: dict[str, str], depth: int) -> list[Any]:
        array = self._resolve(schema, depth)
        items = self._resolve(array.get("items", {}), depth)
        props = items.get("properties", {})
        field_schema = self._resolve(props.get("field", {}), depth)
        allowed = field_schema.get("enum")
        out = []
        for prop, quote in quotes.items():
            if allowed is not None and prop not in allowed:
                continue
            item: dict[str, Any] = {}
            for key, sub in props.items():
                if key == "field":
                    item[key] = prop
                elif key in ("quote", "text", "source", "excerpt"):
                    item[key] = quote
                elif key in items.get("required", []):
                    item[key] = self._default(sub, depth + 1)
            out.append(item)
        return out

    def _strings_for(self, name: str, person: Person | None) -> list[Any]:
        key = _key(name)
        if "email" in key:
            return list(dict.fromkeys(EMAIL_RE.findall(self._context(person))))
        if "phone" in key:
            return [m[0].strip() for m in phones(self._context(person))]
        if re.search(r"people|names|attendees|contacts|participants", key):
            return [p.name for p in self.note.people]
        if "compan" in key or "organi" in key:
            return list(dict.fromkeys(c[2] for c in self.note.companies))
        return self._item_sentences(name)[:3]

    def _item_sentences(self, name: str) -> list[str]:
        key = _key(name)
        sentences = [s.text for s in self.note.sentences if len(s.text.split()) > 3]
        if re.search(r"action|task|todo|next|step|follow", key):
            chosen = [
                s
                for s in sentences
                if re.search(r"\b(will|next step|to do|follow|send|schedule|by)\b", s, re.I)
            ]
            return chosen or sentences[-1:]
        if re.search(r"decision", key):
            return [
                s
                for s in sentences
                if re.search(r"\b(agreed|decided|approved|signed|confirmed|chose)\b", s, re.I)
            ]
        return sentences

    def _owner(self, sentence: str) -> Person:
        """A person scoped to one sentence (for items like action items): its owner's facts, the sentence's own."""
        index = next((i for i, s in enumerate(self.note.sentences) if s.text == sentence), None)
        owner = next((p for p in self.note.people if re.search(rf"\b{re.escape(p.first)}\b", sentence)), None)
        facts = dict(owner.facts) if owner else {}
        facts["next_step"] = Fact(re.sub(r"^\s*next steps?\s*[:\-–—]\s*", "", sentence, flags=re.I), sentence)
        found = all_dates(sentence, self.note.ref_date)
        if found:
            facts["next_step_date"] = Fact(found[0].value, sentence)
        else:
            facts.pop("next_step_date", None)
        money = AMOUNT_RE.search(sentence)
        if money:
            facts["amount"] = Fact(amount_value(money), sentence)
        context = [index] if index is not None else []
        return Person(owner.name if owner else "", context, owner.mentions if owner else [], facts)


def _span_around(clause: str, words: tuple[str, ...]) -> str:
    """The comma-separated part of `clause` that holds one of `words` (verbatim)."""
    for part in re.split(r",\s+", clause):
        if any(re.search(rf"\b{re.escape(w)}", part.lower()) for w in words):
            return part.strip().rstrip(".")
    return clause


def _key(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def _clamp(value: float, schema: dict[str, Any]) -> float:
    low, high = schema.get("minimum"), schema.get("maximum")
    if isinstance(low, int | float):
        value = max(value, float(low))
    if isinstance(high, int | float):
        value = min(value, float(high))
    return value


def fill_schema(schema: dict[str, Any], text: str, today: date) -> Any:
    """A JSON value valid against `schema`, filled from `text` (relative dates resolved against its date)."""
    return SchemaFiller(schema, Note(text, today)).fill()
