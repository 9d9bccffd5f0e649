"""Reply specs, scripted queues and rules, and the built-in replies (resolution: queue -> rules -> built-in).

A reply spec (`Reply`) is plain data, so tests can build it in Python or post it as JSON to
/_sandbox/script:

    {"text": "Hello"}                                   one text block
    {"blocks": [{"type": "thinking", "thinking": "..."},
                {"type": "text", "text": "..."},
                {"type": "tool_use", "name": "lookup", "input": {"email": "a@b.co"}}],
     "stop_reason": "tool_use"}                         explicit blocks (ids are generated when missing)
    {"error": {"status": 529}}                          an HTTP error (type and message from the status)
    {"error": {"status": 429, "headers": {"retry-after": "1"}}}
    {"fault": {"kind": "error", "after_events": 4}}     `event: error` after 4 SSE events
    {"fault": {"kind": "disconnect", "after_events": 4}}  connection dropped after 4 events
    {"usage": {"output_tokens": 7}}                     usage overrides (merged into the computed usage)
    {"timing": {"ttft_ms": 50, "tokens_per_s": 500}}    per-reply timing

Fields combine: e.g. {"text": "...", "fault": {...}}. A reply without text/blocks gets built-in content.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .extract import Note
from .layout import instructions_of, read_layout
from .schema_fill import fill_schema
from .text_gen import (
    ToolOutcome,
    block_text,
    follow_up_email,
    generic_answer,
    is_note,
    summary,
    thinking_text,
    tool_answer,
    wants_email,
)
from .tokens import canonical_json
from .tool_gen import plan_calls, plan_change
from .validation import MessagesRequest

StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]


class ReplyBlock(BaseModel):
    """One content block of a scripted reply."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["text", "thinking", "tool_use"]
    text: str = ""
    thinking: str = ""
    signature: str | None = None
    id: str | None = None
    name: str = ""
    input: dict[str, Any] = Field(default_factory=dict)


class ReplyError(BaseModel):
    """Answer with this HTTP error instead of a message."""

    model_config = ConfigDict(extra="forbid")
    status: int = Field(ge=400, le=599)
    type: str | None = None
    message: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    details: dict[str, Any] | None = None


class StreamFault(BaseModel):
    """Break a stream after `after_events` SSE events: an `event: error`, or a dropped connection."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["error", "disconnect"]
    after_events: int = Field(3, ge=1)
    error_type: str = "overloaded_error"
    message: str = "Overloaded"


class ReplyTiming(BaseModel):
    """Per-reply timing; None falls back to config, then the model's profile."""

    model_config = ConfigDict(extra="forbid")
    ttft_ms: float | None = Field(None, ge=0)
    tokens_per_s: float | None = Field(None, gt=0)


class Reply(BaseModel):
    """A reply spec: content, stop reason, usage/timing overrides, an HTTP error or a stream fault."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = None
    blocks: list[ReplyBlock] | None = None
    stop_reason: StopReason | None = None
    usage: dict[str, int] | None = None
    timing: ReplyTiming | None = None
    error: ReplyError | None = None
    fault: StreamFault | None = None

    @classmethod
    def of(cls, value: Reply | dict[str, Any] | str) -> Reply:
        """Coerce a Reply, a dict (JSON spec) or a plain string (one text block)."""
        if isinstance(value, Reply):
            return value
        if isinstance(value, str):
            return cls(text=value)
        return cls.model_validate(value)

    @property
    def has_content(self) -> bool:
        return self.text is not None or self.blocks is not None


class Rule(BaseModel):
    """Answer matching requests with `reply`; every given condition must hold. times=None: unlimited."""

    model_config = ConfigDict(extra="forbid")
    reply: Reply
    contains: str | None = None  # case-insensitive substring of the last user text
    regex: str | None = None  # re.search on the last user text
    tool: str | None = None  # a tool with this name is offered
    has_tool_result: bool | None = None  # the last user turn carries tool_result blocks (or not)
    has_tools: bool | None = None  # any tool is offered (or none): match a request by its structure
    model: str | None = None
    times: int | None = Field(None, ge=1)

    def matches(self, req: MessagesRequest, text: str, has_results: bool) -> bool:
        if self.contains is not None and self.contains.lower() not in text.lower():
            return False
        if self.regex is not None and not re.search(self.regex, text):
            return False
        if self.tool is not None and self.tool not in {t.get("name") for t in req.tools}:
            return False
        if self.has_tool_result is not None and self.has_tool_result != has_results:
            return False
        if self.has_tools is not None and self.has_tools != bool(req.tools):
            return False
        return self.model is None or self.model == req.model


class ScriptBook:
    """Scripted replies: a global queue, queues per (hashed) API key, and rules. Thread-safety: caller's lock."""

    def __init__(self) -> None:
        self.queue: deque[Reply] = deque()
        self.per_key: dict[str, deque[Reply]] = {}
        self.rules: list[Rule] = []

    def clear(self) -> None:
        self.queue.clear()
        self.per_key.clear()
        self.rules.clear()

    def push(self, replies: list[Reply], key_hash: str | None = None) -> None:
        target = self.per_key.setdefault(key_hash, deque()) if key_hash else self.queue
        target.extend(replies)

    def add_rule(self, rule: Rule) -> None:
        self.rules.append(rule)

    def take(self, key_hash: str, req: MessagesRequest) -> Reply | None:
        """The next scripted reply for this request, or None for the built-in one."""
        own = self.per_key.get(key_hash)
        if own:
            return own.popleft()
        if self.queue:
            return self.queue.popleft()
        text, results = last_user(req)
        for rule in self.rules:
            if rule.matches(req, text, bool(results)):
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self.rules.remove(rule)
                return rule.reply
        return None

    def pending(self) -> dict[str, int]:
        return {
            "queue": len(self.queue),
            "per_key": sum(len(q) for q in self.per_key.values()),
            "rules": len(self.rules),
        }


def last_user(req: MessagesRequest) -> tuple[str, list[dict[str, Any]]]:
    """(text of the last user turn, its tool_result blocks)."""
    message = next(m for m in reversed(req.messages) if m["role"] == "user")
    results = [b for b in message["content"] if b["type"] == "tool_result"]
    return _unwrap_tags(block_text(message["content"])), results


def _unwrap_tags(text: str) -> str:
    """Drop XML-style wrapper tags (<note>…</note>) that prompts put around data; keep what is inside."""
    return re.sub(r"</?[A-Za-z_][\w-]*>", "", text).strip()


def _turn_so_far(req: MessagesRequest) -> tuple[str, list[str], set[str]]:
    """(the user's request that started this turn, the tool results since, the tools already called)."""
    results: list[str] = []
    called: set[str] = set()
    for message in reversed(req.messages):
        blocks = message["content"]
        if message["role"] == "assistant":
            called |= {b["name"] for b in blocks if b["type"] == "tool_use"}
            continue
        texts = [b for b in blocks if b["type"] != "tool_result"]
        results += [r["content"] if isinstance(r.get("content"), str) else block_text(r.get("content") or [])
                    for r in blocks if r["type"] == "tool_result"]
        if texts:
            return _unwrap_tags(block_text(texts)), results, called
    return "", results, called


def _outcomes(req: MessagesRequest, results: list[dict[str, Any]]) -> list[ToolOutcome]:
    calls = {
        b["id"]: b
        for m in req.messages
        if m["role"] == "assistant"
        for b in m["content"]
        if b["type"] == "tool_use"
    }
    out = []
    for r in results:
        call = calls.get(r["tool_use_id"], {})
        content = r.get("content", "")
        text = content if isinstance(content, str) else block_text(content)
        out.append(
            ToolOutcome(call.get("name", "tool"), call.get("input", {}), text, bool(r.get("is_error")))
        )
    return out


def builtin_reply(req: MessagesRequest, today: date) -> Reply:
    """Content built from the request: forced tool call, structured JSON, tool call, tool answer, or text."""
    text, results = last_user(req)
    # The task is the last system block: stable preambles come first (that is what gets cached), so a
    # house guide that merely mentions emails must not turn a summary request into an email. What kind of
    # text to write is read from the form of the instructions (layout.py), never from a product's phrases.
    system = req.system[-1].get("text", "") if req.system else ""
    forced = (req.tool_choice or {}).get("type") in ("any", "tool")
    calls = plan_calls(req.tools, req.tool_choice, text, bool(results), today)
    blocks: list[ReplyBlock] = []
    if req.output_schema is not None and not forced:
        value = fill_schema(req.output_schema, text, today)
        blocks.append(ReplyBlock(type="text", text=canonical_json(value)))
        plan = "extract the fields the schema asks for from the text"
    elif calls:
        if not forced:
            targets = [str(v) for _t, i in calls for v in list(i.values())[:1] if isinstance(v, str) and v]
            names = ", ".join(dict.fromkeys(t["name"] for t, _i in calls))
            preface = (
                f"I'll look up {', '.join(dict.fromkeys(targets))}." if targets else f"I'll check {names}."
            )
            blocks.append(ReplyBlock(type="text", text=preface))
        blocks += [ReplyBlock(type="tool_use", name=t["name"], input=i) for t, i in calls]
        plan = "call the tool that fits the question"
    elif results and (change := plan_change(req.tools, *_turn_so_far(req), today)):
        blocks.append(ReplyBlock(type="text", text="I'll propose that change for your review."))
        blocks += [ReplyBlock(type="tool_use", name=t["name"], input=i) for t, i in change]
        plan = "propose the change the user asked for"
    elif results:
        blocks.append(ReplyBlock(type="text", text=tool_answer(_outcomes(req, results))))
        plan = "answer from the tool results"
    else:
        note = Note(text, today)
        layout = read_layout(instructions_of(system, text))
        if wants_email(layout):
            body, plan = follow_up_email(note, text, layout), "draft a short follow-up email"
        elif is_note(text, layout):
            body, plan = summary(note, layout), "summarise the note"
        else:
            body, plan = generic_answer(text), "give a brief answer"
        blocks.append(ReplyBlock(type="text", text=body))
    if req.wants_thinking:
        omitted = (req.thinking or {}).get("display") == "omitted"
        blocks.insert(0, ReplyBlock(type="thinking", thinking="" if omitted else thinking_text(text, plan)))
    return Reply(blocks=blocks)
