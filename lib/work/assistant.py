"""The CRM assistant: a tool-use loop over read-only CRM tools, with a context budget and prompt caching.

One question is one `Turn`:

1. Before sending, the context (tools + system + the turns still sent + the new question) is measured
   with count_tokens. Above `COMPACT_AT` of the budget, the oldest turns are folded into a summary
   written by Claude (or, if that call fails, simply trimmed) until the context is under `TARGET` of
   it. Turns are the unit, so a tool_use is never separated from its tool_result and the context
   always starts with a plain user question.
2. The loop: call Claude (feature "assistant"); on stop_reason tool_use, run every tool_use block of
   the reply (parallel calls included), append the assistant message unchanged, then ONE user message
   whose content is all the tool_result blocks; repeat until Claude stops asking for tools, or until
   `max_rounds` calls, after which the turn ends with a clear notice (the last round's tools are
   still answered, so the history stays valid for the next question).
3. Caching: the last tool definition and the house guide carry cache_control, and the request has
   the automatic top-level cache_control, which puts a breakpoint on the last message: every call
   after the first reads tools, system and the conversation so far from the cache (3 breakpoints).

Every call is streamed (`Assistant.stream`): the page sees each round as it happens, Claude's text
as it is written, the tools it asks for (name, input), then each tool's result. A Stop (or a rerun)
ends the turn where it is: the text that arrived is kept as the answer, tools not yet run are
answered "not run" (the history stays valid), the turn is stored with STOPPED_NOTICE, and the call
cut short is logged with status aborted. `ask` is the same loop, read to the end.

The tools only read; propose_change returns a proposal that `to_extraction` turns into what the
Extract page reviews. Nothing is written to the CRM from here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from lib.claude import prompts
from lib.claude.gateway import CallResult, Gateway, TextStream
from lib.core.errors import BudgetExceeded, ClaudeError, InputRejected, ScribeError
from lib.crm.records import FieldName
from lib.work.assistant_tools import PROPOSE_CHANGE, CrmTools, contacts_in
from lib.work.conversations import (
    SCRIBE_NOTE,
    CallUsage,
    Conversation,
    ConversationStore,
    Proposal,
    ToolCall,
    Turn,
)
from lib.work.extraction import NoteExtraction
from lib.work.schemas import Evidence, ExtractedPerson

MAX_ROUNDS = 6  # Messages calls per question
MAX_TOKENS = 2000  # per call
SUMMARY_MAX_TOKENS = 800
COMPACT_AT = 0.8  # of the context budget: fold older turns before the context passes it
TARGET = 0.5  # of the budget: what folding aims for
MAX_QUESTION_CHARS = 8000
RESULT_CHARS_IN_SUMMARY = 600
AUTO_CACHE = {"type": "ephemeral"}  # top-level: a breakpoint on the last block, moving with the conversation
OUTCOME_KIND = "assistant_turn"


def cap_message(rounds: int) -> str:
    return (f"Stopped after {rounds} rounds of tool calls without a final answer. The lookups so far are shown "
            "above; ask a narrower question (one contact, one deal) to get an answer.")


STOP_NOTICES = {
    "max_tokens": "The answer was cut short at the length limit.",
    "refusal": "Claude declined to answer this question.",
    "pause_turn": "Claude paused before finishing; ask again to continue.",
    "model_context_window_exceeded": "The conversation no longer fits the model's context window.",
}


STOPPED_NOTICE = "Stopped: you pressed Stop before the answer was finished; what arrived so far is kept."
STOP_WAIT_S = 10.0  # how long a Stop from another run waits for the reader to wind the turn down


def block_params(message: Any) -> list[dict[str, Any]]:
    """The reply's content blocks as request params, unchanged (thinking signatures and tool ids kept)."""
    return [block.model_dump(mode="json", exclude_none=True) for block in message.content]


def _not_run(call: dict[str, Any], why: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call["id"], "is_error": True, "content": f"Not run: {why}."}


def _cut_short(stop_reason: str | None) -> str:
    return f"the reply stopped ({stop_reason}) before this call was complete"


# -- what a streamed turn tells the page, in order -------------------------------------------------


@dataclass(frozen=True)
class AnswerText:
    """A piece of Claude's text as it arrives; `round` is which call of the turn wrote it."""

    round: int
    text: str


@dataclass(frozen=True)
class ToolsAsked:
    """A tool round starts: the tools Claude asked for, with their input (not run yet)."""

    round: int
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class ToolAnswered:
    """One tool of the round has run: `call` carries what went back to Claude (content, is_error)."""

    round: int
    call: ToolCall


TurnEvent = AnswerText | ToolsAsked | ToolAnswered


def close_turn(turn: Turn, why: str) -> None:
    """Make the turn end with an assistant message, so the next question starts a clean user turn.

    A turn cut short (round cap, error, empty reply) would otherwise end with the user's question or
    its tool results, and the next question would be merged into that message. The closing text is
    Scribe's, marked as such, and is not shown as Claude's words.
    """
    if turn.messages[-1]["role"] == "user":
        turn.messages.append({"role": "assistant", "content": [{"type": "text", "text": SCRIBE_NOTE + why}]})


def starts_turn(message: dict[str, Any]) -> bool:
    """A user message with no tool_result blocks: a place where the sent context may begin."""
    content = message["content"]
    return message["role"] == "user" and (
        isinstance(content, str) or not any(b.get("type") == "tool_result" for b in content))


@dataclass
class Assistant:
    """Answers questions over the CRM for one user with one model; see the module docstring."""

    gateway: Gateway
    tools: CrmTools
    model: str
    user: str
    budget: int
    store: ConversationStore | None = None
    max_rounds: int = MAX_ROUNDS

    # -- measuring the context -------------------------------------------------------------------

    def request_parts(self, conv: Conversation) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(tools, system) as sent for this conversation."""
        return prompts.assistant_tools(), prompts.assistant_system(conv.summary)

    def count(self, conv: Conversation, messages: list[dict[str, Any]] | None = None) -> int:
        """count_tokens of tools + system + messages (the context sent so far, by default)."""
        tools, system = self.request_parts(conv)
        messages = conv.context_messages() if messages is None else messages
        if not messages:  # the API needs one message; measure the empty chat with a one-character one
            messages = [{"role": "user", "content": "?"}]
        return self.gateway.count_tokens(model=self.model, messages=messages, system=system, tools=tools)

    # -- one question -----------------------------------------------------------------------------

    def ask(self, conv: Conversation, question: str) -> Turn:
        """Answer one question (running tools as needed); the turn is appended to conv and stored."""
        turn_stream = self.stream(conv, question)
        for _ in turn_stream:
            pass
        return turn_stream.turn

    def stream(self, conv: Conversation, question: str) -> TurnStream:
        """The same turn as `ask`, as it happens: iterate the TurnStream for its events (see TurnEvent).

        A bad question is refused here, before anything is sent."""
        question = (question or "").strip()
        if not question:
            raise InputRejected("The question is empty.", "Type a question about a contact, a deal or the pipeline.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputRejected(f"The question is {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}.",
                                "Ask a shorter question; paste long notes on the Extract page instead.")
        return TurnStream(self, conv, question)

    def _run_tool(self, call: dict[str, Any], turn: Turn, result: CallResult) -> dict[str, Any]:
        output = self.tools.run(call["name"], call.get("input") or {})
        if call["name"] == PROPOSE_CHANGE and output.proposal is not None:
            p = output.proposal
            turn.proposals.append(Proposal(
                tool_use_id=call["id"], contact_id=p["contact_id"], name=p["name"], email=p["email"],
                company=p["company"], changes=p["changes"], current=p["current"], reason=p["reason"],
                question=turn.question, usage=turn.calls[-1], result=result))
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call["id"], "content": output.content}
        if output.is_error:
            block["is_error"] = True
        return block

    def _count_quietly(self, conv: Conversation) -> int | None:
        try:
            return self.count(conv)
        except ClaudeError:
            return None  # the count is informative only; the turn itself is done

    def _store(self, conv: Conversation, turn: Turn) -> None:
        if self.store is not None:
            self.store.save_turn(conv, turn)
        for usage in turn.calls:
            self.gateway.usage_log.set_outcome(usage.call_id, OUTCOME_KIND, f"{conv.id}#{turn.seq}")

    # -- memory -----------------------------------------------------------------------------------

    def fit_context(self, conv: Conversation, pending: list[dict[str, Any]]) -> str | None:
        """Fold the oldest sent turns into the summary while the context would pass COMPACT_AT of the budget.

        Returns a note for the page (what was summarised or trimmed), or None when nothing had to go.
        """
        if self.count(conv, conv.context_messages() + pending) <= self.budget * COMPACT_AT:
            return None
        first = conv.context_start
        end = first
        while end < len(conv.turns):
            end += 1
            kept = [m for t in conv.turns[end:] for m in t.messages] + pending
            if self.count(conv, kept) + SUMMARY_MAX_TOKENS <= self.budget * TARGET:
                break
        if end == first:
            return None  # nothing older to fold: the new question alone is this big
        note = self._fold(conv, first, end)
        if self.store is not None:
            self.store.save(conv)
        return note

    def _fold(self, conv: Conversation, first: int, end: int) -> str:
        folded = conv.turns[first:end]
        label = f"turn {folded[0].seq}" if len(folded) == 1 else f"turns {folded[0].seq}–{folded[-1].seq}"
        try:
            summary = self.summarise(conv, folded)
            note = f"Earlier {label} were summarised by Claude to keep the context under {self.budget:,} tokens."
        except ScribeError as err:
            summary = ((conv.summary + "\n") if conv.summary else "") + (
                f"({label.capitalize()} were dropped from the context without a summary: {err.message})")
            note = f"Earlier {label} were trimmed from the context (the summary call failed: {err.message})."
        conv.summary = summary
        conv.context_start = end
        return note

    def summarise(self, conv: Conversation, turns: list[Turn]) -> str:
        """One Claude call (feature assistant) that folds turns, and the previous summary, into a new one."""
        message = [{"role": "user", "content": transcript(conv.summary, turns)}]
        _, result = self.gateway.create(feature="assistant", user=self.user, model=self.model,
                                        max_tokens=SUMMARY_MAX_TOKENS, system=prompts.assistant_summary_system(),
                                        messages=message)
        self.gateway.usage_log.set_outcome(result.call_id, "assistant_summary", conv.id)
        if not result.text.strip():
            raise InputRejected("Claude returned an empty summary.")
        return result.text.strip()


class TurnStream:
    """One question being answered: iterate it once for its TurnEvents; `.turn` is the turn so far.

    The loop is the module docstring's (every tool_result first, in one user message; the round cap;
    the same storage); each round is one streamed call. The turn is stored when the loop ends, or when
    it is cut short: `close()` from the thread that iterates (a Stop click interrupts the page's run,
    whose `finally` calls it), or `stop()` from another thread (the next run, if the old one is still
    reading). Either way the text that arrived is kept, the cut call is logged as aborted, and the
    turn ends with STOPPED_NOTICE. Errors before the turn starts (a budget that refuses the first call,
    a failed count) are raised from the iteration and nothing is stored; later errors are the turn's.
    """

    def __init__(self, assistant: Assistant, conv: Conversation, question: str):
        self.assistant = assistant
        self.conv = conv
        self.turn = Turn(seq=len(conv.turns) + 1, question=question,
                         messages=[{"role": "user", "content": [{"type": "text", "text": question}]}])
        self.stopped = False
        self._reply: TextStream | None = None  # the round being read
        self._chunks: Iterator[str] | None = None
        self._tool_round: tuple[list, list, list] | None = None  # (content, calls, results) while tools run
        self._events = self._run()
        self._iterating = False
        self._stop_requested = threading.Event()
        self._done = threading.Event()
        self._end_lock = threading.Lock()

    @property
    def finished(self) -> bool:
        """The turn is over (stored, or refused before it started)."""
        return self._done.is_set()

    @property
    def kept(self) -> bool:
        """The turn is in the conversation (it started: it was not refused before the first call)."""
        return any(t is self.turn for t in self.conv.turns)

    def __iter__(self) -> Iterator[TurnEvent]:
        if self._iterating:
            raise RuntimeError("a TurnStream can be iterated once")
        self._iterating = True
        return self._events

    def close(self) -> None:
        """End the turn here, from the thread that was iterating (idempotent)."""
        self._stop_requested.set()
        self._events.close()  # the loop's `finally` stores the turn; a no-op if it never started or has ended
        self._done.set()

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """From another thread: stop reading, and wait until the reader has stored the turn."""
        self._stop_requested.set()
        reply = self._reply
        if reply is not None:
            reply.stop(wait_s)  # the reader's stream ends at its next event; the loop then winds down
        if not self._done.wait(wait_s if self._iterating else 0):
            try:
                self.close()  # the reader is gone (its run was interrupted): end the turn from here
            except ValueError:
                pass  # still running in the reader's thread: it ends the turn when it wakes

    # -- the loop -----------------------------------------------------------------------------------

    def _run(self) -> Iterator[TurnEvent]:
        conv, turn = self.conv, self.turn
        keep = False
        with conv.lock:
            turn.seq = len(conv.turns) + 1
            try:
                turn.memory_note = self.assistant.fit_context(conv, turn.messages)
                keep = True
                yield from self._rounds()
            except BudgetExceeded as err:
                if not turn.calls and self._reply is None:  # refused before anything was asked
                    keep = False
                    raise
                turn.error = err
            except ScribeError as err:  # a failed call: shown with the turn
                if not keep:
                    raise
                turn.error = err
            finally:
                self._end(keep)

    def _rounds(self) -> Iterator[TurnEvent]:
        a, conv, turn = self.assistant, self.conv, self.turn
        tools, system = a.request_parts(conv)
        for round_number in range(1, a.max_rounds + 1):
            if self._stop_requested.is_set():
                return
            reply = a.gateway.stream_text(
                feature="assistant", user=a.user, model=a.model, max_tokens=MAX_TOKENS,
                messages=conv.context_messages() + turn.messages, system=system, tools=tools,
                cache_control=AUTO_CACHE)
            self._reply, self._chunks = reply, iter(reply)
            for chunk in self._chunks:
                yield AnswerText(round_number, chunk)
            message = reply.message
            if message is None:  # stopped from another thread: `_end` keeps what arrived
                return
            self._reply = self._chunks = None
            self._note_call(reply.result)
            content = block_params(message)
            calls = [b for b in content if b["type"] == "tool_use"]
            if message.stop_reason != "tool_use" or not calls:
                self._final_reply(message.stop_reason, content, calls)
                return
            results: list[dict[str, Any]] = []
            self._tool_round = (content, calls, results)
            yield ToolsAsked(round_number, tuple(ToolCall(id=c["id"], name=c["name"], input=c.get("input") or {})
                                                 for c in calls))
            for call in calls:
                block = a._run_tool(call, turn, reply.result)
                results.append(block)
                yield ToolAnswered(round_number, ToolCall(id=call["id"], name=call["name"],
                                                          input=call.get("input") or {}, content=block["content"],
                                                          is_error=bool(block.get("is_error"))))
            self._tool_round = None
            # appended together: the assistant turn unchanged, then every tool_result, first and in one message
            turn.messages += [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
            if round_number == a.max_rounds:
                turn.notice = cap_message(a.max_rounds)

    def _final_reply(self, stop_reason: str | None, content: list[dict[str, Any]],
                     calls: list[dict[str, Any]]) -> None:
        turn = self.turn
        turn.notice = STOP_NOTICES.get(stop_reason or "")
        if content:  # an empty reply is not sent back (the API refuses empty assistant turns)
            turn.messages.append({"role": "assistant", "content": content})
            if calls:  # a reply cut short while calling a tool: answer the calls, do not run them
                turn.messages.append({"role": "user", "content": [_not_run(c, _cut_short(stop_reason))
                                                                  for c in calls]})
        elif turn.notice is None:
            turn.notice = "Claude returned an empty answer."

    def _note_call(self, result: CallResult | None) -> None:
        if result is None or result.record is None:
            return  # nothing was admitted: the failed attempt is logged by the gateway on its own
        self.turn.calls.append(CallUsage.of(result))
        self.turn.warnings += [w for w in result.warnings if w not in self.turn.warnings]

    # -- the end: whatever happened, the turn is left valid and stored -----------------------------------

    def _end(self, keep: bool) -> None:
        with self._end_lock:
            if self._done.is_set():
                return
            try:
                cut = self._keep_what_arrived()
                if cut and self.turn.error is None:
                    self.stopped = True
                    self.turn.notice = STOPPED_NOTICE
                if keep:
                    self._store()
            finally:
                self._done.set()

    def _keep_what_arrived(self) -> bool:
        """A round in progress when the turn ended: its text kept, its tools answered. True if there was one."""
        turn = self.turn
        if self._reply is not None:
            reply, chunks = self._reply, self._chunks
            self._reply = self._chunks = None
            if chunks is not None:
                chunks.close()  # closes the SDK stream; the call is logged as aborted with what it used
            reply.close()
            self._note_call(reply.result)
            if reply.text.strip():
                turn.messages.append({"role": "assistant", "content": [{"type": "text", "text": reply.text}]})
            return True
        if self._tool_round is not None:
            content, calls, results = self._tool_round
            self._tool_round = None
            answered = {r["tool_use_id"] for r in results}
            turn.messages += [{"role": "assistant", "content": content},
                              {"role": "user", "content": results + [_not_run(c, "the rep stopped the turn")
                                                                     for c in calls if c["id"] not in answered]}]
            return True
        return False

    def _store(self) -> None:
        a, conv, turn = self.assistant, self.conv, self.turn
        close_turn(turn, turn.notice or (f"No answer: {turn.error.message}" if turn.error else "No answer."))
        conv.turns.append(turn)
        conv.title = conv.title or _title(turn.question)
        conv.model = a.model
        turn.context_tokens = conv.context_tokens = a._count_quietly(conv)
        a._store(conv, turn)


def transcript(summary: str | None, turns: list[Turn]) -> str:
    """Turns as plain text for the summary call (tool pairs rendered inline: nothing to keep paired)."""
    lines = []
    if summary:
        lines += ["<earlier_summary>", summary, "</earlier_summary>", ""]
    lines.append("<conversation>")
    for turn in turns:
        lines.append(f"Rep: {turn.question}")
        for step in turn.steps():
            if isinstance(step, str):
                lines.append(f"Assistant: {step}")
            else:
                result = step.content if len(step.content) <= RESULT_CHARS_IN_SUMMARY else (
                    step.content[:RESULT_CHARS_IN_SUMMARY] + "…")
                status = "error" if step.is_error else "result"
                lines.append(f"Tool {step.name}({json.dumps(step.input, ensure_ascii=False)}) {status}: {result}")
        if turn.notice:
            lines.append(f"(Note: {turn.notice})")
    lines.append("</conversation>")
    return "\n".join(lines)


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= 60 else line[:59] + "…"


def mentioned_contacts(turn: Turn) -> list[tuple[int, str]]:
    """The contacts the turn's tools found whose name the answer mentions, in the answer's order:
    (contact id, name), for links to their records. Proposals count as found."""
    found = contacts_in([c.content for c in turn.tool_calls() if not c.is_error])
    for proposal in turn.proposals:
        found.setdefault(proposal.contact_id, proposal.name)
    text = "\n".join(s for s in turn.steps() if isinstance(s, str)).casefold()
    at = {cid: text.find(name.casefold()) for cid, name in found.items()}
    return [(cid, found[cid]) for cid in sorted((c for c in at if at[c] >= 0), key=at.get)]


def usage_summary(turn: Turn) -> str:
    """One line under an answer: calls, tokens by kind (cache reads included), cost."""
    if not turn.calls:
        return "No calls made."
    total = {k: sum(getattr(c, k) for c in turn.calls) for k in
             ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")}
    cost = turn.total_cost()
    cost_text = "price unknown" if cost is None else (f"${cost:.4f}" if cost < Decimal("0.01") else f"${cost:,.2f}")
    return " · ".join([
        f"{len(turn.calls)} call(s)", f"{total['input_tokens']:,} in", f"{total['output_tokens']:,} out",
        f"cache read {total['cache_read_input_tokens']:,}", f"cache write {total['cache_creation_input_tokens']:,}",
        cost_text, turn.calls[-1].model])


# -- proposals go to the Extract page's review --------------------------------------------------


def to_extraction(proposal: Proposal, today: date | None = None) -> NoteExtraction:
    """The proposal as one extracted person the Extract page reviews; the rep's request is the evidence."""
    changes = dict(proposal.changes)
    identity = {"name": proposal.name, "email": proposal.email, "company": proposal.company}
    values = {**identity, **{k: v for k, v in changes.items() if v is not None}}
    evidence = [Evidence(field=FieldName(f), quote=proposal.question) for f in changes]
    person = ExtractedPerson(**values, confidence=1.0, evidence=evidence)
    return NoteExtraction(note=proposal.question, note_date=today or date.today(),  # noqa: DTZ011 - the rep's day
                          people=[person], result=proposal.call_result)
