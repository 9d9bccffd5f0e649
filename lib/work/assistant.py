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

The tools only read; propose_change returns a proposal that `to_extraction` turns into what the
Extract page reviews. Nothing is written to the CRM from here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from lib.claude import prompts
from lib.claude.gateway import CallResult, Gateway
from lib.core.errors import BudgetExceeded, ClaudeError, InputRejected, ScribeError
from lib.crm.records import FieldName
from lib.work.assistant_tools import PROPOSE_CHANGE, CrmTools
from lib.work.conversations import SCRIBE_NOTE, CallUsage, Conversation, ConversationStore, Proposal, Turn
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


def block_params(message: Any) -> list[dict[str, Any]]:
    """The reply's content blocks as request params, unchanged (thinking signatures and tool ids kept)."""
    return [block.model_dump(mode="json", exclude_none=True) for block in message.content]


def _not_run(call: dict[str, Any], stop_reason: str | None) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": call["id"], "is_error": True,
            "content": f"Not run: the reply stopped ({stop_reason}) before this call was complete."}


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
        question = (question or "").strip()
        if not question:
            raise InputRejected("The question is empty.", "Type a question about a contact, a deal or the pipeline.")
        if len(question) > MAX_QUESTION_CHARS:
            raise InputRejected(f"The question is {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}.",
                                "Ask a shorter question; paste long notes on the Extract page instead.")
        with conv.lock:
            turn = Turn(seq=len(conv.turns) + 1, question=question,
                        messages=[{"role": "user", "content": [{"type": "text", "text": question}]}])
            turn.memory_note = self.fit_context(conv, turn.messages)
            try:
                self._loop(conv, turn)
            except BudgetExceeded as err:
                if not turn.calls:  # refused before anything was asked: nothing to keep as a conversation
                    raise
                turn.error = err
            except ScribeError as err:  # a failed call: shown with the turn
                turn.error = err
            close_turn(turn, turn.notice or (f"No answer: {turn.error.message}" if turn.error else "No answer."))
            conv.turns.append(turn)
            conv.title = conv.title or _title(question)
            conv.model = self.model
            turn.context_tokens = conv.context_tokens = self._count_quietly(conv)
            self._store(conv, turn)
        return turn

    def _loop(self, conv: Conversation, turn: Turn) -> None:
        tools, system = self.request_parts(conv)
        for round_number in range(1, self.max_rounds + 1):
            message, result = self.gateway.create(
                feature="assistant", user=self.user, model=self.model, max_tokens=MAX_TOKENS,
                messages=conv.context_messages() + turn.messages, system=system, tools=tools,
                cache_control=AUTO_CACHE)
            turn.calls.append(CallUsage.of(result))
            turn.warnings += [w for w in result.warnings if w not in turn.warnings]
            content = block_params(message)
            calls = [b for b in content if b["type"] == "tool_use"]
            if message.stop_reason != "tool_use" or not calls:
                turn.notice = STOP_NOTICES.get(message.stop_reason or "")
                if content:  # an empty reply is not sent back (the API refuses empty assistant turns)
                    turn.messages.append({"role": "assistant", "content": content})
                    if calls:  # a reply cut short while calling a tool: answer the calls, do not run them
                        turn.messages.append({"role": "user", "content": [_not_run(c, message.stop_reason)
                                                                          for c in calls]})
                elif turn.notice is None:
                    turn.notice = "Claude returned an empty answer."
                return
            results = [self._run_tool(call, turn, result) for call in calls]
            # appended together: the assistant turn unchanged, then every tool_result, first and in one message
            turn.messages += [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
            if round_number == self.max_rounds:
                turn.notice = cap_message(self.max_rounds)

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
