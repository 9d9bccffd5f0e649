"""Plain-text replies built from the input: note summaries, follow-up emails, tool answers, generic answers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from . import dates as dt
from .actions import DECISION_RE, RISK_RE, Action, find_actions
from .extract import Note, Person
from .layout import Layout, render_item
from .phrases import STEP_PREFIX, clauses

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


def is_note(text: str, layout: Layout) -> bool:
    """The instructions ask for a summary (or give its sections), or the input is a long multi-sentence note."""
    if layout.task == "summary" or re.search(r"^\s*summari[sz]e\b", text, re.I):
        return True
    return len(text) > 280 and len(re.findall(r"[.!?\n]", text)) >= 3


def wants_email(layout: Layout) -> bool:
    """The task is to write an email or letter (read from the instructions' form: layout.read_layout)."""
    return layout.task == "email"


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
    """Tool results only: a long raw value is cut at a word boundary (never a note's sentence)."""
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rsplit(" ", 1)[0] + "…"


def _sentence(text: str) -> str:
    """A clause as a sentence of its own: capital first letter, closing full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _owner_label(action: Action, team: str) -> str:
    if action.team:
        return team
    return action.owner.name if action.owner else "Unassigned"


def _classify(note: Note) -> dict[str, list[str]]:
    """The note's statements by kind: actions (as clauses), decisions, risks, points. Each clause once."""
    actions = find_actions(note)
    action_clauses = {a.clause for a in actions}
    out: dict[str, list[str]] = {"decisions": [], "risks": [], "points": []}
    for sentence in note.sentences:
        if not _is_content(sentence.text):
            continue
        for clause in clauses(sentence.text):
            if clause in action_clauses:
                continue
            if DECISION_RE.search(clause):
                out["decisions"].append(_sentence(clause))
            elif RISK_RE.search(clause):
                out["risks"].append(_sentence(clause))
            elif len(clause.split()) > 3:
                out["points"].append(_sentence(clause))
    return out


def summary(note: Note, layout: Layout | None = None) -> str:
    """The summary in the layout the instructions ask for (their headings, bullet form and budget); without
    one, Summary / Key points / Decisions / Action items. Built from the note's own clauses, never cut."""
    layout = layout or Layout()
    if layout.headings:
        return _summary_in_sections(note, layout)
    kinds = _classify(note)
    actions = find_actions(note)
    points = (kinds["points"] + kinds["risks"])[:4]
    who = ", ".join(_person_label(p) for p in note.people[:3])
    body = [s.text for s in note.sentences if _is_content(s.text)]
    lines = [f"Summary: conversation with {who}." if who
             else f"Summary: {_sentence(body[0]) if body else 'no details given.'}"]
    lines += ["", "Key points:"] + ([f"- {s}" for s in points] or ["- None recorded."])
    lines += ["", "Decisions:"] + ([f"- {s}" for s in kinds["decisions"][:3]] or ["- None recorded."])
    lines += ["", "Action items:"]
    team = layout.team or "Us"
    for a in actions[:4]:
        if layout.item_template:
            lines.append(render_item(layout.item_template, _owner_label(a, team), a.task,
                                     a.due.isoformat() if a.due else None))
            continue
        when = f" (due {a.due.isoformat()})" if a.due else ""
        task = _sentence(STEP_PREFIX.sub("", a.clause))
        lines.append(f"- {_owner_label(a, team)}: {task}{when}")
    if not actions:
        lines.append("- None recorded.")
    return "\n".join(lines)


def _summary_in_sections(note: Note, layout: Layout) -> str:
    kinds = _classify(note)
    actions = find_actions(note)
    team = layout.team or "us"
    empty = layout.empty or "None."
    items: dict[str, list[str]] = {}
    for a in actions:
        due = a.due.isoformat() if a.due else None
        if layout.item_template:
            line = render_item(layout.item_template, _owner_label(a, team), a.task, due)
        else:
            line = f"- {_owner_label(a, team)}: {a.task}" + (f" (by {due})" if due else "")
        items.setdefault("actions", []).append(line)
    items["decisions"] = [f"- {s}" for s in kinds["decisions"]]
    items["risks"] = [f"- {s}" for s in kinds["risks"]]
    items["people"] = [f"- {_person_label(p)}" for p in note.people]
    has_risks = any(kind == "risks" for _h, kind in layout.headings)
    items["points"] = [f"- {s}" for s in kinds["points"] + ([] if has_risks else kinds["risks"])]
    items["other"] = []
    wanted = [kind for _h, kind in layout.headings]
    budget = layout.max_bullets
    if budget is not None:  # trim the least telling sections first: points, then risks, people, decisions
        total = sum(len(items.get(k, [])) for k in wanted)
        for kind in ("points", "risks", "people", "decisions", "actions"):
            while total > budget and kind in wanted and len(items[kind]) > (1 if kind != "points" else 0):
                items[kind].pop()
                total -= 1
    blocks = []
    for heading, kind in layout.headings:
        lines = items.get(kind) or [empty]
        blocks.append(heading + "\n" + "\n".join(lines))
        if kind in ("points", "other"):
            items[kind] = []  # a second section of the same kind does not repeat them
    return "\n\n".join(blocks)


def _is_content(sentence: str) -> bool:
    """A real sentence, not a header line ("Call notes - Acme renewal") or a "Date:" line."""
    if dt.DATE_LINE_RE.match(sentence):
        return False
    words = len(sentence.split())
    return words >= 8 or (words > 3 and sentence.rstrip()[-1:] in ".!?")


def _person_label(person: Person) -> str:
    company = person.facts.get("company")
    return f"{person.name} ({company.value})" if company else person.name


def _to_you(sentence: str, person: Person) -> str:
    """A note's sentence about the recipient, addressed to them ("Laura confirmed" -> "You confirmed")."""
    out = re.sub(rf"\b(?:{re.escape(person.name)}|{re.escape(person.first)})['’]s\b", "your", sentence)
    out = re.sub(rf"^(?:{re.escape(person.name)}|{re.escape(person.first)}|They)\b", "You", out)
    if out != sentence:
        out = re.sub(r"\btheir\b", "your", out)
    out = re.sub(rf"\b(?:{re.escape(person.name)}|{re.escape(person.first)})\b", "you", out)
    return out


LOG_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}\s+[\w-]+:\s*")


def _is_field(clause: str) -> bool:
    """A record's "Key: value" line ("Stage: proposal", "Amount: $48,000"), not a statement."""
    m = re.match(r"^[A-Za-z][\w /-]{0,24}:\s*(.*)$", clause)
    return bool(m) and len(m[1].split()) <= 6 and not re.search(r"\b(?:will|is|are|was|were|has|had)\b", m[1])


def _day(d: date) -> str:
    return d.strftime("%A, %B ") + str(d.day)


def follow_up_email(note: Note, instruction: str, layout: Layout | None = None) -> str:
    """Subject line, greeting by first name, a recap of what was discussed, the next steps with their dates,
    the closing the instructions name; kept within their word budget."""
    layout = layout or Layout()
    person = next((p for p in note.people if p.first in instruction.split("\n")[0]), None)
    person = person or (note.people[0] if note.people else None)
    first = person.first if person else "there"
    company = person.facts.get("company") if person else None
    prefix = layout.subject_prefix or "Subject: "
    subject = f"{prefix}Following up on our conversation{' - ' + company.value if company else ''}"
    facts = [note.sentences[i].text for i in person.context] if person else [s.text for s in note.sentences]
    ask = instruction.strip().splitlines()[0] if instruction.strip() else ""
    actions = [a for a in find_actions(note) if a.clause not in ask]  # the request itself is no next step
    action_clauses = {a.clause for a in actions}
    recap = []
    for c in (c for f in facts for c in clauses(f)):
        c = LOG_PREFIX.sub("", c)  # "2026-11-18 call: Demo went well" -> "Demo went well"
        if c in action_clauses or dt.DATE_LINE_RE.match(c) or _is_field(c):
            continue
        if re.search(r"[$€£]|\d|proposal|demo|budget|pricing|contract|agreed|pilot", c, re.I):
            recap.append(_to_you(c, person) if person else c)
    recap = recap[:3]
    steps = []
    for a in actions:
        if not (a.team or a.owner is person):
            continue
        by = a.due_phrase and (a.due_phrase.lower().startswith("by ")
                               or re.search(rf"\bby\s+{re.escape(a.due_phrase)}", a.clause))
        prep = "by" if by else "on"
        when = f" {prep} {_day(a.due)}" if a.due else ""
        if a.noted:
            steps.append(f"Next step: {a.task[:1].upper()}{a.task[1:]}{when}.")
        else:
            steps.append(("I will " if a.team else "You will ") + a.task + when + ".")
    closing = layout.closing or "Best regards,"
    budget = layout.max_words
    while True:
        lines = [subject, "", f"Hi {first},", "", "Thank you for taking the time to speak with me."]
        if recap:
            lines.append("To recap: " + " ".join(_sentence(r) for r in recap))
        if steps:
            lines += ["", ("" if steps[0].startswith("Next step:") else "Next steps: ") + " ".join(steps[:3])]
        lines += ["", "Please let me know if anything has changed on your side.", "", closing]
        words = len(" ".join(lines[2:]).split())
        if budget is None or words <= budget or not (recap or len(steps) > 1):
            return "\n".join(lines)
        if len(recap) > 0:
            recap.pop()
        else:
            steps.pop()


GENERIC = (
    ("how", "To {s}, start from the outcome you want, take the smallest step that moves it forward, and check "
            "the result before the next one."),
    ("good", "A good approach to {s}: be clear about the goal, keep it short and specific, and ask before you "
             "assume."),
    ("what", "About {s}: it depends on the context; the usual starting point is what is already agreed and "
             "what is still open."),
    ("yesno", "It depends on the details: if what you know so far supports it, yes; if not, check it first."),
)


def generic_answer(text: str) -> str:
    """A short plain answer to a question nobody scripted: it takes up the question's own subject."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    low = line.lower()
    if re.match(r"^(?:hi|hello|hey|good (?:morning|afternoon|evening))\b", low):
        if re.search(r"\bwho are you\b|\bwhat are you\b", low):
            return "Hello! I'm an AI assistant. How can I help you today?"
        return "Hello! How can I help you today?"
    if m := re.match(r"^(?:tell me about|describe|explain)\s+(.+?)[.?!]*$", line, re.I):
        return (f"I have no details about {m[1]} in this conversation. Share what you know, or the record, "
                "and I can summarise it.")
    subject = topic(text)
    gerund = re.sub(r"^(?:to\s+)?(\w+?)(e?)\b", lambda m: _ing(m[1] + m[2]), subject, count=1)
    if re.match(r"^(?:what is|what's|whats) (?:a |the )?(?:good|best|right) (?:way|approach) to ", low) or \
            re.match(r"^(?:what is|what's) (?:a |the )?best way", low):
        return GENERIC[1][1].format(s=gerund)
    if low.startswith("how"):
        verb = re.sub(r"^how (?:do|can|should|could|would) (?:i|we|you) ", "", low).rstrip("?. ")
        return GENERIC[0][1].format(s=verb or subject)
    if re.match(r"^(?:who|when|where|which)\b", low):
        return f"Nothing in this conversation says {line.rstrip('?.! ')[:1].lower()}{line.rstrip('?.! ')[1:]}; " \
               "the record, or whoever owns it, would know."
    if m := re.match(r"^what (?:is|are)\s+(.+?)[?.!]*$", line, re.I):
        return GENERIC[2][1].format(s=m[1])
    if re.match(r"^(?:is|are|can|could|should|does|do|did|will|would)\b", low):
        return GENERIC[3][1]
    return GENERIC[2][1].format(s=subject)


def _ing(verb: str) -> str:
    if verb.endswith("ing"):
        return verb
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


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
