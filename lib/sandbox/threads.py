"""Server-held conversations (beta `message-threads`): `thread: create` holds a request and its reply under the
reply's id; `thread: continue` sends only the new messages. The SDK's beta tool_runner relies on this."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .errors import ApiError, invalid

CREATE_ONLY = (
    "system",
    "tools",
)  # taken from the thread on a continue; a continue that repeats them is refused


class ThreadStore:
    """The last `limit` held conversations. Not thread-safe on its own: the Simulator locks around calls."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._held: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._continued: set[str] = set()

    def clear(self) -> None:
        self._held.clear()
        self._continued.clear()

    def expand(self, body: Any) -> tuple[Any, str | None]:
        """(the full request body, the previous_message_id it continues or "" for a create, None when unthreaded)."""
        if not isinstance(body, dict) or body.get("thread") is None:
            return body, None
        thread, rest = body["thread"], {k: v for k, v in body.items() if k != "thread"}
        kind = thread.get("type") if isinstance(thread, dict) else None
        if kind == "create":
            return rest, ""
        if kind != "continue" or not isinstance(thread.get("previous_message_id"), str):
            raise invalid(
                'thread: expected {"type": "create"} or {"type": "continue", "previous_message_id": ...}'
            )
        previous = thread["previous_message_id"]
        held = self._held.get(previous)
        if held is None:
            raise ApiError(
                404, f"thread: no thread holds {previous}", details={"error_code": "thread_not_found"}
            )
        if previous in self._continued:
            raise ApiError(
                400,
                f"thread: {previous} has already been continued",
                details={"error_code": "thread_already_continued"},
            )
        repeated = [f for f in CREATE_ONLY if f in rest]
        if repeated:
            raise invalid(f"{repeated[0]}: taken from the thread on a continue; do not send it again")
        messages = rest.get("messages", [])
        full = {**rest, **{f: held[f] for f in CREATE_ONLY if f in held}}
        full["messages"] = held["messages"] + (messages if isinstance(messages, list) else [])
        return full, previous

    def hold(
        self, message_id: str, full_body: dict[str, Any], reply_content: list[dict[str, Any]], previous: str
    ) -> None:
        """Keep the conversation so far (request + reply) under the reply's id."""
        if previous:
            self._continued.add(previous)
        held = {f: full_body[f] for f in CREATE_ONLY if f in full_body}
        held["messages"] = list(full_body.get("messages", [])) + [
            {"role": "assistant", "content": reply_content}
        ]
        self._held[message_id] = held
        while len(self._held) > self.limit:
            self._held.popitem(last=False)
