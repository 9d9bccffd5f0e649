"""The layout a request's instructions ask for, read from their form, not from phrases written for the sandbox.

Instructions are the system prompt's last block (stable preambles come first and are cached; they may
mention anything) and the first lines of the user's turn. What is read is generic:

* the task: does it ask to write/draft an email or letter (or give a "Subject:" line to start with), to
  summarise, or nothing in particular;
* Markdown headings it lists (`## Key points` on a line of its own), in order: the sections to write;
* a quoted bullet template (`"- [owner] what, by YYYY-MM-DD"`): the form of each action item, with its
  owner, task and date slots, and the team's own label for the owner (`owner = a name or "us"`);
* the phrase for an empty section (`Write "None recorded." under a section ...`);
* a bullet budget (`at most 5 bullets`, `8 to 12 bullets`) and a word budget (`under 90 words`);
* for letters: the subject template, the closing (`close with "Best regards,"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OWNER_SLOT = re.compile(r"<owner>|\{owner\}|\[owner\]|\bowner\b|<who>|\[who\]|<name>|\[name\]", re.I)
TASK_SLOT = re.compile(r"<(?:task|action|what)>|\{(?:task|action|what)\}|\[(?:task|action|what)\]|\bwhat\b|\btask\b",
                       re.I)
DATE_SLOT = re.compile(r"YYYY-MM-DD|<(?:due )?date>|\{(?:due_)?date\}|\[(?:due )?date\]", re.I)
DATE_SEGMENT = re.compile(
    r"\s*[,;]?\s*\(?\s*(?:by|due|on|before|until)?:?\s*(?:YYYY-MM-DD|<(?:due )?date>|\{(?:due_)?date\}|"
    r"\[(?:due )?date\])\s*\)?", re.I)


@dataclass
class Layout:
    """What the instructions ask for. Empty fields: the instructions do not say (defaults apply)."""

    task: str = "none"  # "email" | "summary" | "none"
    headings: list[tuple[str, str]] = field(default_factory=list)  # (the heading line as written, its kind)
    item_template: str | None = None
    team: str | None = None
    empty: str | None = None
    max_bullets: int | None = None
    max_words: int | None = None
    subject_prefix: str | None = None
    closing: str | None = None
    plain_text: bool = False


def instructions_of(system_last: str, user_text: str) -> str:
    return system_last + "\n" + "\n".join(user_text.strip().splitlines()[:2])


def read_layout(instructions: str) -> Layout:
    out = Layout()
    out.headings = [(m[0].strip(), heading_kind(m[2])) for m in
                    re.finditer(r"(?m)^[ \t]*(#{1,6})[ \t]+(\S[^\n]*?)[ \t]*$", instructions)]
    quoted = re.findall(r"[\"“]([^\"”\n]{2,120})[\"”]", instructions)
    for q in quoted:
        if re.match(r"^\s*[-*•]\s", q) and (OWNER_SLOT.search(q) or TASK_SLOT.search(q)):
            out.item_template = q.strip()
            break
    team = re.search(r"\bowner\b[^.\n]{0,80}?\bor\s+[\"“]([^\"”]{1,20})[\"”]", instructions, re.I)
    out.team = team[1] if team else None
    empty = re.search(r"\b(?:write|put|say)\s+[\"“]([^\"”]{1,40})[\"”]\s+(?:under|for|in)\s+(?:a|an|any|each|every|the)?"
                      r"\s*(?:empty\s+)?section", instructions, re.I)
    out.empty = empty[1] if empty else None
    if m := re.search(r"\bat most (\d+) bullets?", instructions, re.I):
        out.max_bullets = int(m[1])
    elif m := re.search(r"\b(\d+) (?:to|-|–) (\d+) bullets?", instructions, re.I):
        out.max_bullets = int(m[2])
    if m := re.search(r"\b(?:under|at most|no more than|fewer than) (\d+) words", instructions, re.I):
        out.max_words = int(m[1])
    elif m := re.search(r"\b(\d+) (?:to|-|–) (\d+) words", instructions, re.I):
        out.max_words = int(m[2])
    subject = next((q for q in quoted if re.match(r"^\s*Subject\s*:", q, re.I)), None)
    out.subject_prefix = subject.split(":", 1)[0].strip() + ": " if subject else None
    if m := re.search(r"\b(?:close|end|sign off|finish)\s+with\s+[\"“]([^\"”\n]{1,40})[\"”]", instructions, re.I):
        out.closing = m[1]
    out.plain_text = bool(re.search(r"\bplain text\b[^.\n]{0,30}\bno markdown\b|\bno markdown\b", instructions, re.I))
    if out.subject_prefix or re.search(
            r"\b(?:write|draft|compose|prepare)\b[^.\n]{0,60}?\b(?:e-?mail|letter|reply)\b", instructions, re.I):
        out.task = "email"
    elif out.headings or re.search(r"\bsummar(?:y|ise|ize|ising|izing)\b", instructions, re.I):
        out.task = "summary"
    return out


def heading_kind(title: str) -> str:
    t = title.lower()
    for kind, pattern in (
        ("actions", r"action|next step|to-?dos?|tasks?|follow[- ]?ups?|owners?"),
        ("decisions", r"decision|agreed|agreements?|outcomes?|resolutions?"),
        ("risks", r"risks?|concerns?|objections?|blockers?|issues?|open questions?"),
        ("people", r"attendees|participants|people|contacts|who"),
        ("points", r"key points?|highlights?|summary|overview|discussion|notes?|context|takeaways?|details"),
    ):
        if re.search(pattern, t):
            return kind
    return "other"


def render_item(template: str, owner: str, task: str, due: str | None) -> str:
    """One bullet in the template's form; without a date, the template's date part is left out."""
    line = template if due else DATE_SEGMENT.sub("", template)
    line = _fill(line, OWNER_SLOT, owner)
    line = _fill(line, TASK_SLOT, task)
    if due:
        line = _fill(line, DATE_SLOT, due)
    return line


def _fill(line: str, slot: re.Pattern[str], value: str) -> str:
    m = slot.search(line)
    if not m:
        return line
    token = m[0]
    if token.startswith("[") and token.endswith("]"):  # [owner]: a bracketed label, the brackets stay
        return line[: m.start()] + f"[{value}]" + line[m.end():]
    return line[: m.start()] + value + line[m.end():]
