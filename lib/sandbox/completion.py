"""Turn a reply spec into the final message: ids, stop sequences, max_tokens truncation, usage, JSON.

Output tokens are the pieces of tokens.split_output over each block's text (thinking text, text, and the
tool input's JSON); output_tokens is the number of pieces actually returned (and, in a stream, sent).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .cache import CachePlan
from .ids import make_id, signature
from .replies import Reply
from .tokens import split_output
from .validation import MessagesRequest


@dataclass
class OutBlock:
    """A content block of the answer and its output tokens (text pieces or JSON fragments)."""

    type: str
    tokens: list[str]
    text: str = ""
    id: str = ""
    name: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    signature: str = ""

    def json(self) -> dict[str, Any]:
        if self.type == "text":
            return {"type": "text", "text": self.text}
        if self.type == "thinking":
            return {"type": "thinking", "thinking": self.text, "signature": self.signature}
        return {
            "type": "tool_use",
            "id": self.id,
            "name": self.name,
            "input": self.input,
            "caller": {"type": "direct"},
        }


@dataclass
class Completion:
    """The finished answer: message id, blocks, stop reason and usage."""

    message_id: str
    model: str
    blocks: list[OutBlock]
    stop_reason: str
    stop_sequence: str | None
    usage: dict[str, Any]

    @property
    def output_tokens(self) -> int:
        return sum(len(b.tokens) for b in self.blocks)

    def message_json(self, *, streaming_start: bool = False) -> dict[str, Any]:
        usage = dict(self.usage)
        if streaming_start:
            usage["output_tokens"] = 1
            usage.pop("output_tokens_details", None)
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [] if streaming_start else [b.json() for b in self.blocks],
            "stop_reason": None if streaming_start else self.stop_reason,
            "stop_sequence": None if streaming_start else self.stop_sequence,
            "stop_details": None,
            "container": None,
            "usage": usage,
        }


def _blocks(reply: Reply, base: str) -> list[OutBlock]:
    specs = reply.blocks if reply.blocks is not None else []
    if reply.text is not None and reply.blocks is None:
        return [OutBlock("text", split_output(reply.text), text=reply.text)]
    out = []
    for n, b in enumerate(specs):
        if b.type == "text":
            out.append(OutBlock("text", split_output(b.text), text=b.text))
        elif b.type == "thinking":
            sig = b.signature or signature(base, n)
            out.append(OutBlock("thinking", split_output(b.thinking), text=b.thinking, signature=sig))
        else:
            tool_id = b.id or make_id("toolu_01", base, n, length=22)
            rendered = json.dumps(b.input, ensure_ascii=False)
            out.append(OutBlock("tool_use", split_output(rendered), id=tool_id, name=b.name, input=b.input))
    return out


def _cut_at_stop_sequence(blocks: list[OutBlock], stops: list[str]) -> tuple[list[OutBlock], str | None]:
    for k, block in enumerate(blocks):
        if block.type != "text" or not stops:
            continue
        hits = [(block.text.find(s), s) for s in stops if s in block.text]
        if hits:
            pos, seq = min(hits)
            text = block.text[:pos]
            cut = OutBlock("text", split_output(text), text=text)
            return blocks[:k] + ([cut] if text else []), seq
    return blocks, None


def _truncate(blocks: list[OutBlock], budget: int) -> tuple[list[OutBlock], bool]:
    out: list[OutBlock] = []
    for block in blocks:
        if len(block.tokens) <= budget:
            out.append(block)
            budget -= len(block.tokens)
            continue
        if block.type in ("text", "thinking") and budget > 0:
            kept = block.tokens[:budget]
            out.append(OutBlock(block.type, kept, text="".join(kept), signature=block.signature))
        # A tool call cut short would carry invalid JSON; like a truncated stream, it is dropped.
        return out, True
    return out, False


def build_completion(
    req: MessagesRequest, reply: Reply, base: str, cache: CachePlan, service_tier: str
) -> Completion:
    """Apply stop sequences, then max_tokens, to the reply's blocks; compute the final usage."""
    blocks, stop_seq = _cut_at_stop_sequence(_blocks(reply, base), req.stop_sequences)
    blocks, truncated = _truncate(blocks, req.max_tokens)
    if truncated:
        stop_reason, stop_seq = "max_tokens", None
    elif stop_seq is not None:
        stop_reason = "stop_sequence"
    elif reply.stop_reason is not None:
        stop_reason = reply.stop_reason
    else:
        stop_reason = "tool_use" if any(b.type == "tool_use" for b in blocks) else "end_turn"
    usage: dict[str, Any] = {
        "input_tokens": cache.uncached,
        "cache_creation_input_tokens": cache.written,
        "cache_read_input_tokens": cache.read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache.write_5m,
            "ephemeral_1h_input_tokens": cache.write_1h,
        },
        "output_tokens": sum(len(b.tokens) for b in blocks),
        "service_tier": service_tier,
        "inference_geo": "global",
    }
    thinking = sum(len(b.tokens) for b in blocks if b.type == "thinking")
    if thinking:
        usage["output_tokens_details"] = {"thinking_tokens": thinking}
    if reply.usage:
        usage.update(reply.usage)
    return Completion(make_id("msg_01", base, length=22), req.model, blocks, stop_reason, stop_seq, usage)
