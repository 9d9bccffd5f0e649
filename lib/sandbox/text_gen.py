"""Plain-text replies built from the input: note summaries, follow-up emails, tool answers, generic answers."""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any

from . import dates as dt
from .extract import Note, Person

QUESTION_WORDS = (
    "what",
    "who",
    "when",
    "where",
    "why",
    "how",
    "which",
    "can",
    "could",
    "would",
    "will",
    "is",
    "are",
    "do",
    "does",
    "did",
    "should",
    "find",
    "look",
    "lookup",
    "show",
    "get",
    "list",
    "tell",
    "check",
    "give",
    "search",
)
STOPWORDS = set(
    "a an the and or but of to in on at for with about from by is are was were be been do does did what who when "
    "where why how which can could would will should please me my our your their this that these those it its i we "
    "you they he she there here tell show give find look up get list check search any some more most just best way "
    "good need want know like".split()
)
DECISION_RE = r"\b(agreed|decided|approved|signed|confirmed|chose|will go with|committed)\b"
ACTION_RE = r"\b(next steps?|will|follow[- ]?up|send|schedule|to do|action)\b"
PAST_RE = r"\b(sent|was|were|had|did|met|spoke|signed|discussed|agreed|called)\b"


@dataclass
class ToolOutcome:
    """One tool_result in the last user turn, with the call it answers."""

    name: str
    input: dict[str, Any]
    content: str
    is_error: bool


def block_text(content: Any) -> str:
    """Text of a message content (string or blocks), tool results excluded."""
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")


def is_question(text: str) -> bool:
    first = text.strip().split(maxsplit=1)[0].lower().strip(",.:") if text.strip() else ""
    return text.strip().endswith("?") or first in QUESTION_WORDS


def is_note(text: str, system: str) -> bool:
    """Long, multi-sentence input, or a system prompt that asks for a summary."""
    if re.search(r"summar", system, re.I) or re.search(r"^\s*summari[sz]e\b", text, re.I):
        return True
    return len(text) > 280 and len(re.findall(r"[.!?\n]", text)) >= 3


def wants_email(text: str, system: str) -> bool:
    ask = system + "\n" + "\n".join(text.splitlines()[:3])
    return bool(
        re.search(r"\b(e-?mail|follow[- ]?up)\b", ask, re.I)
        and re.search(r"\b(write|draft|compose|email|send)\b", ask, re.I)
    )


def topic(text: str, words: int = 8) -> str:
    """The subject of a question: its first line without the question words."""
    line = text.strip().splitlines()[0] if text.strip() else "your request"
    tokens = re.findall(r"[\w'’@.-]+", line)
    while tokens and tokens[0].lower() in STOPWORDS:
        tokens.pop(0)
    tokens = tokens[:words]
    while tokens and tokens[-1].lower() in STOPWORDS:
        tokens.pop()
    return " ".join(tokens).rstrip(".") or "your request"


def keywords(text: str, n: int = 3) -> list[str]:
    seen: dict[str, int] = {}
    for w in re.findall(r"[A-Za-z][\w'-]{3,}", text):
        if w.lower() not in STOPWORDS:
            seen[w] = seen.get(w, 0) + 1
    return [w for w, _ in sorted(seen.items(), key=lambda kv: -kv[1])[:n]]


def _short(sentence: str, limit: int = 180) -> str:
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


def _owner(sentence: str, note: Note) -> str:
    for person in note.people:
        if re.search(rf"\b{re.escape(person.first)}\b", sentence):
            return person.name
    return "Us" if re.search(r"\b(we|I|our)\b", sentence, re.I) else "Unassigned"


def summary(note: Note) -> str:
    """Key points / Decisions / Action items, built from the note's own sentences."""
    body = [s.text for s in note.sentences if _is_content(s.text)]
    actions = [
        s
        for s in body
        if re.search(ACTION_RE, s, re.I)
        or (dt.relative_dates(s, note.ref_date) and not re.search(PAST_RE, s))
    ]
    decisions = [s for s in body if re.search(DECISION_RE, s, re.I)]
    points = [s for s in body if s not in actions][:4] or body[:3]
    who = ", ".join(_person_label(p) for p in note.people[:3])
    lines = [
        f"Summary: conversation with {who}."
        if who
        else f"Summary: {_short(body[0]) if body else 'no details given.'}"
    ]
    lines += ["", "Key points:"] + [f"- {_short(s)}" for s in points]
    lines += ["", "Decisions:"] + ([f"- {_short(s)}" for s in decisions[:3]] or ["- None recorded."])
    lines += ["", "Action items:"]
    for s in actions[:4]:
        due = dt.all_dates(s, note.ref_date)
        when = f" (due {due[0].value.isoformat()})" if due else ""
        task = re.sub(r"^\s*next steps?\s*[:\-–—]\s*", "", s, flags=re.I)
        lines.append(f"- {_owner(s, note)}: {_short(task)}{when}")
    if not actions:
        lines.append("- None recorded.")
    return "\n".join(lines)


def _is_content(sentence: str) -> bool:
    """A real sentence, not a header line ("Call notes - Acme renewal") or a "Date:" line."""
    if dt.DATE_LINE_RE.match(sentence):
        return False
    words = len(sentence.split())
    return words >= 8 or (words > 3 and sentence.rstrip()[-1:] in ".!?")


def _person_label(person: Person) -> str:
    company = person.facts.get("company")
    return f"{person.name} ({company.value})" if company else person.name


def follow_up_email(note: Note, instruction: str) -> str:
    """Subject line, greeting by first name, the facts discussed, the next step."""
    person = next((p for p in note.people if p.first in instruction.split("\n")[0]), None)
    person = person or (note.people[0] if note.people else None)
    first = person.first if person else "there"
    company = person.facts.get("company") if person else None
    subject = f"Following up on our conversation{' - ' + company.value if company else ''}"
    facts = [note.sentences[i].text for i in person.context] if person else [s.text for s in note.sentences]
    recap = [s for s in facts if re.search(r"[$€£]|\d|proposal|demo|budget|pricing|contract", s, re.I)][:2]
    lines = [f"Subject: {subject}", "", f"Hi {first},", "", "Thank you for taking the time to speak with me."]
    if recap:
        lines.append("To recap what we discussed: " + " ".join(_short(s) for s in recap))
    step = person.facts.get("next_step") if person else None
    if step:
        when = person.facts.get("next_step_date")
        date_text = f" on {when.value.strftime('%A, %B %-d')}" if when else ""
        lines += ["", f"As a next step: {_short(step.value)} I will follow up{date_text} to confirm."]
    lines += ["", "Please let me know if anything has changed on your side.", "", "Best regards,"]
    return "\n".join(lines)


def generic_answer(text: str) -> str:
    """A short, plain answer that echoes the question's subject (the same question, the same answer)."""
    subject = topic(text)
    keys = keywords(text) or [subject]
    templates = (
        "Here is a short answer to your question about {s}.\n\nThe main things to consider are {k}. Each of them depends on the "
        "details you have at hand, so start with what you already know and note what is still open. If you share "
        "names, dates or amounts, I can be more specific.",
        "On {s}: the key points are {k}. A good next step is to write down what is confirmed, what is assumed, "
        "and who owns each open question. Send me more detail and I can give a more precise answer.",
    )
    return templates[zlib.crc32(text.encode("utf-8")) % len(templates)].format(s=subject, k=", ".join(keys))


def _result_facts(content: str) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        return _short(" ".join(content.split()), 300)
    if isinstance(data, dict):
        pairs = [
            f"{k}: {v}" for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None
        ][:8]
        return "; ".join(pairs) or _short(content, 300)
    if isinstance(data, list):
        return "; ".join(_result_facts(json.dumps(x)) if isinstance(x, dict) else str(x) for x in data[:5])
    return str(data)


def _describe(inputs: dict[str, Any]) -> str:
    return ", ".join(str(v) for v in inputs.values() if isinstance(v, str | int | float)) or "the request"


def tool_answer(outcomes: list[ToolOutcome]) -> str:
    """An answer that quotes the tool results (and says so when a tool failed)."""
    lines = ["Here is what I found:", ""]
    for o in outcomes:
        if o.is_error:
            lines.append(f"- The {o.name} tool failed for {_describe(o.input)}: {_short(o.content, 200)}")
        else:
            lines.append(f"- {_describe(o.input)} ({o.name}): {_result_facts(o.content)}")
    if any(o.is_error for o in outcomes):
        lines += ["", "I could not complete every lookup because a tool returned an error."]
    else:
        lines += ["", "Let me know if you would like me to draft a follow-up."]
    return "\n".join(lines)


def thinking_text(text: str, plan: str) -> str:
    """A short reasoning summary for thinking blocks."""
    return f"The user is asking about {topic(text)}. I will {plan}, keeping the answer short and grounded in their text."
