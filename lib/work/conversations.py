"""Assistant conversations: what was asked and answered, kept whole in the database (all their SQL lives here).

A conversation is a list of turns. A turn is one question and everything it led to: the API messages
it appended (the user's question, then per tool round the assistant's message unchanged and one user
message of tool_result blocks, then the final answer), the calls it cost, the changes it proposed,
and any notice (round cap reached, answer cut short, error). A turn always starts with a plain user
question and ends with an assistant message (Scribe closes a turn cut short with a marked note), so
it never ends between a tool_use and its tool_result and the context sent to Claude can start at any
turn: older turns are folded into `summary`, and `context_start` says where the sent context begins.
The stored conversation keeps every turn regardless.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from lib.claude.gateway import CallResult
from lib.core.db import Database
from lib.core.errors import ScribeError

SCRIBE_NOTE = "[Scribe] "  # starts the text Scribe adds to close a turn cut short; not Claude's words


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ToolCall:
    """One tool_use block and the tool_result that answered it."""

    id: str
    name: str
    input: dict[str, Any]
    content: str = ""
    is_error: bool = False

    @property
    def label(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.input.items())
        if len(args) > 80:
            args = args[:79] + "…"
        return f"{self.name}({args})" + (" · error" if self.is_error else "")


@dataclass
class CallUsage:
    """What one Messages call of a turn cost (a summary of its usage-log row)."""

    call_id: str
    model: str
    backend: str
    request_id: str | None = None
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: str | None = None  # Decimal as text; None = price unknown

    @classmethod
    def of(cls, result: CallResult) -> CallUsage:
        r = result.record
        return cls(call_id=result.call_id, model=result.model, backend=result.backend, request_id=result.request_id,
                   stop_reason=result.stop_reason, input_tokens=r.input_tokens if r else 0,
                   output_tokens=r.output_tokens if r else 0,
                   cache_read_input_tokens=r.cache_read_input_tokens if r else 0,
                   cache_creation_input_tokens=r.cache_creation_input_tokens if r else 0,
                   cost_usd=str(r.cost_usd) if r and r.cost_usd is not None else None)

    def as_result(self) -> CallResult:
        """A CallResult naming this call (without its usage record), e.g. for a reopened proposal."""
        return CallResult(call_id=self.call_id, backend=self.backend, model=self.model, request_id=self.request_id,
                          stop_reason=self.stop_reason)


@dataclass
class Proposal:
    """A change the assistant proposed (never saved from the chat; the Extract page reviews it)."""

    tool_use_id: str
    contact_id: int
    name: str
    email: str | None
    company: str | None
    changes: dict[str, Any]
    current: dict[str, Any]
    question: str
    usage: CallUsage
    reason: str | None = None
    result: CallResult | None = field(default=None, repr=False)  # in memory only

    @property
    def call_result(self) -> CallResult:
        return self.result or self.usage.as_result()


@dataclass
class Turn:
    """One question and everything it led to."""

    seq: int
    question: str
    messages: list[dict[str, Any]]
    ts: datetime = field(default_factory=_now)
    calls: list[CallUsage] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    notice: str | None = None  # round cap reached, answer cut short…
    memory_note: str | None = None  # what was summarised or trimmed before this turn
    error: ScribeError | None = None
    context_tokens: int | None = None
    warnings: list[str] = field(default_factory=list)  # from the calls (e.g. a budget stepped the model down)

    @property
    def answer(self) -> str:
        """The text of the last assistant message ('' when Scribe closed the turn)."""
        last = next((m for m in reversed(self.messages) if m["role"] == "assistant"), None)
        text = _text_of(last["content"]) if last else ""
        return "" if text.startswith(SCRIBE_NOTE) else text

    def steps(self) -> list[str | ToolCall]:
        """The assistant's side in order: text blocks and tool calls (each with its result)."""
        results = {b["tool_use_id"]: b for m in self.messages if m["role"] == "user" for b in _blocks(m)
                   if b.get("type") == "tool_result"}
        steps: list[str | ToolCall] = []
        for message in self.messages:
            if message["role"] != "assistant":
                continue
            for block in _blocks(message):
                if block.get("type") == "text" and block.get("text"):
                    if not block["text"].startswith(SCRIBE_NOTE):
                        steps.append(block["text"])
                elif block.get("type") == "tool_use":
                    answer = results.get(block["id"], {})
                    steps.append(ToolCall(id=block["id"], name=block["name"], input=block.get("input") or {},
                                          content=_text_of(answer.get("content", "")),
                                          is_error=bool(answer.get("is_error"))))
        return steps

    def tool_calls(self) -> list[ToolCall]:
        return [s for s in self.steps() if isinstance(s, ToolCall)]

    def total_cost(self) -> Decimal | None:
        costs = [c.cost_usd for c in self.calls]
        return None if any(c is None for c in costs) else sum((Decimal(c) for c in costs), Decimal(0))


@dataclass
class Conversation:
    """Every turn, plus what stands in for the turns no longer sent (summary, context_start)."""

    id: str
    user: str
    title: str = ""
    model: str | None = None
    turns: list[Turn] = field(default_factory=list)
    summary: str | None = None
    context_start: int = 0
    context_tokens: int | None = None
    created_at: datetime = field(default_factory=_now)
    # one question at a time: a Streamlit rerun can start while the previous run is still waiting on Claude
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def new(cls, user: str, model: str | None = None) -> Conversation:
        return cls(id=uuid.uuid4().hex, user=user, model=model)

    def context_messages(self) -> list[dict[str, Any]]:
        """The messages sent to Claude: the turns from context_start on (each starts with a user question)."""
        return [m for turn in self.turns[self.context_start:] for m in turn.messages]

    def all_messages(self) -> list[dict[str, Any]]:
        return [m for turn in self.turns for m in turn.messages]


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


# -- storage -------------------------------------------------------------------------------------


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _details(turn: Turn) -> str:
    proposals = []
    for p in turn.proposals:
        record = {k: v for k, v in p.__dict__.items() if k not in ("result", "usage")}
        record["usage"] = p.usage.__dict__
        proposals.append(record)
    error = {"message": turn.error.message, "hint": turn.error.hint} if turn.error else None
    return json.dumps({"calls": [c.__dict__ for c in turn.calls], "proposals": proposals, "notice": turn.notice,
                       "memory_note": turn.memory_note, "error": error, "context_tokens": turn.context_tokens,
                       "warnings": turn.warnings},
                      default=str)


def _turn(seq: int, ts: datetime, question: str, messages: str, details: str) -> Turn:
    data = json.loads(details)
    proposals = [Proposal(**{**p, "usage": CallUsage(**p["usage"])}) for p in data.get("proposals", [])]
    error = data.get("error")
    return Turn(seq=seq, question=question, messages=json.loads(messages), ts=ts.replace(tzinfo=UTC),
                calls=[CallUsage(**c) for c in data.get("calls", [])], proposals=proposals,
                notice=data.get("notice"), memory_note=data.get("memory_note"),
                error=ScribeError(error["message"], error.get("hint")) if error else None,
                context_tokens=data.get("context_tokens"), warnings=data.get("warnings", []))


class ConversationStore:
    """Reads and writes the conversations tables of one Database."""

    def __init__(self, db: Database):
        self.db = db

    def save(self, conv: Conversation) -> None:
        """Insert or update the conversation's own row (title, memory, token count)."""
        self.db.cursor().execute(
            """INSERT INTO conversations (id, "user", title, model, created_at, updated_at, summary, context_start,
                                          context_tokens)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET title = excluded.title, model = excluded.model,
                   updated_at = excluded.updated_at, summary = excluded.summary,
                   context_start = excluded.context_start, context_tokens = excluded.context_tokens""",
            [conv.id, conv.user, conv.title or "Untitled", conv.model, _naive(conv.created_at), _naive(_now()),
             conv.summary, conv.context_start, conv.context_tokens])

    def save_turn(self, conv: Conversation, turn: Turn) -> None:
        """Store a finished turn (and the conversation row) in one transaction."""
        with self.db.transaction() as tx:
            tx.execute(
                """INSERT INTO conversation_turns VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (conversation_id, seq) DO UPDATE SET messages = excluded.messages,
                       details = excluded.details""",
                [conv.id, turn.seq, _naive(turn.ts), turn.question, json.dumps(turn.messages), _details(turn)])
            self.save(conv)  # this thread's cursor is the transaction's

    def list(self, user: str | None = None, limit: int = 50) -> pd.DataFrame:
        """Conversations, newest first: id, user, title, updated_at, turns."""
        sql = """SELECT c.id, c."user", c.title, c.updated_at, count(t.seq) AS turns
                 FROM conversations c LEFT JOIN conversation_turns t ON t.conversation_id = c.id
                 WHERE NOT c.archived AND (? IS NULL OR c."user" = ?)
                 GROUP BY c.id, c."user", c.title, c.updated_at ORDER BY c.updated_at DESC LIMIT ?"""
        return self.db.cursor().execute(sql, [user, user, limit]).df()

    def load(self, conv_id: str) -> Conversation | None:
        cur = self.db.cursor()
        row = cur.execute(
            """SELECT id, "user", title, model, created_at, summary, context_start, context_tokens
               FROM conversations WHERE id = ?""", [conv_id]).fetchone()
        if row is None:
            return None
        turns = cur.execute(
            """SELECT seq, ts, question, messages, details FROM conversation_turns
               WHERE conversation_id = ? ORDER BY seq""", [conv_id]).fetchall()
        return Conversation(id=row[0], user=row[1], title=row[2], model=row[3], created_at=row[4].replace(tzinfo=UTC),
                            summary=row[5], context_start=row[6], context_tokens=row[7],
                            turns=[_turn(*t) for t in turns])
