"""Server-sent events for a streamed message, paced against absolute deadlines, and the ASGI response.

Order (claude-api.md §2): message_start -> per block: content_block_start, (one ping after the first
block start), deltas, content_block_stop -> message_delta (stop_reason, cumulative usage) -> message_stop.
Each delta carries 1-3 output tokens (the very first carries 1) and is sent when its last token is due:
t0 + ttft + k / tokens_per_s for token k (0-based), so lateness never accumulates.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from .completion import Completion, OutBlock


@dataclass
class SSEEvent:
    """One event, and (for deltas) the index of the last output token it carries."""

    name: str
    data: dict[str, Any]
    token_at: int | None = None
    tokens: int = 0

    def frame(self) -> bytes:
        return f"event: {self.name}\ndata: {json.dumps(self.data, separators=(',', ':'), ensure_ascii=False)}\n\n".encode()


def _start_block(block: OutBlock) -> dict[str, Any]:
    if block.type == "text":
        return {"type": "text", "text": ""}
    if block.type == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": {}, "caller": {"type": "direct"}}


def _delta(block: OutBlock, piece: str) -> dict[str, Any]:
    if block.type == "text":
        return {"type": "text_delta", "text": piece}
    if block.type == "thinking":
        return {"type": "thinking_delta", "thinking": piece}
    return {"type": "input_json_delta", "partial_json": piece}


def plan_events(completion: Completion, rng: random.Random) -> list[SSEEvent]:
    """All events of the stream, in order, with pacing information on the deltas."""
    events = [
        SSEEvent(
            "message_start",
            {"type": "message_start", "message": completion.message_json(streaming_start=True)},
        )
    ]
    last_token = -1
    for index, block in enumerate(completion.blocks):
        events.append(
            SSEEvent(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": _start_block(block)},
            )
        )
        if index == 0:
            events.append(SSEEvent("ping", {"type": "ping"}))
        if block.type == "tool_use":
            events.append(_delta_event(index, block, ""))  # the real API often opens with an empty fragment
        pos = 0
        while pos < len(block.tokens):
            size = 1 if last_token < 0 else rng.randint(1, 3)
            group = block.tokens[pos : pos + size]
            pos += len(group)
            last_token += len(group)
            event = _delta_event(index, block, "".join(group))
            event.token_at, event.tokens = last_token, len(group)
            events.append(event)
        if block.type == "thinking":
            delta = {"type": "signature_delta", "signature": block.signature}
            events.append(
                SSEEvent(
                    "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                )
            )
        events.append(SSEEvent("content_block_stop", {"type": "content_block_stop", "index": index}))
    if not completion.blocks:
        events.append(SSEEvent("ping", {"type": "ping"}))
    usage = completion.usage
    final_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    if "output_tokens_details" in usage:
        final_usage["output_tokens_details"] = usage["output_tokens_details"]
    delta = {
        "stop_reason": completion.stop_reason,
        "stop_sequence": completion.stop_sequence,
        "stop_details": None,
    }
    events.append(SSEEvent("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}))
    events.append(SSEEvent("message_stop", {"type": "message_stop"}))
    return events


def _delta_event(index: int, block: OutBlock, piece: str) -> SSEEvent:
    return SSEEvent(
        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": _delta(block, piece)}
    )


class Abort:
    """Yielded by a body iterator to drop the connection without finishing the response."""


ABORT = Abort()


class PacedResponse:
    """An ASGI response that streams chunks, can drop the connection (ABORT), and notices client disconnects.

    `on_close(completed: bool)` runs once at the end: completed is False after an abort or a disconnect.
    """

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        body: AsyncIterator[bytes | Abort],
        on_close: Callable[[bool], None],
    ) -> None:
        self.status = status
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.body = body
        self.on_close = on_close

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        completed = False
        try:
            await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
            async with anyio.create_task_group() as group:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(watch)
                completed = await self._pump(send)
                group.cancel_scope.cancel()
        finally:
            self.on_close(completed)

    async def _pump(self, send: Callable) -> bool:
        async for chunk in self.body:
            if isinstance(chunk, Abort):
                # Returning without the final body message makes the server close the socket mid-response.
                return False
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
