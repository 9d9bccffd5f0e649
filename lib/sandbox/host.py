"""What the HTTP front ends (app.py, admin.py, control.py) need from the simulator, as a Protocol.

The front ends are typed against `Host`, never against `simulator.Simulator`, so the simulator can build
them without an import cycle: simulator -> app -> admin/control -> host, and nothing points back.
`Prepared` (an admitted request ready to be paced out) lives here for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from .clock import RealClock, VirtualClock
from .completion import Completion
from .config import SandboxConfig
from .ledger import Ledger
from .ratelimit import RateLimiter
from .replies import Reply, Rule, StreamFault
from .sse import SSEEvent
from .validation import MessagesRequest


@dataclass
class Prepared:
    """An admitted Messages request, ready to be paced out: the answer, its timing and any fault."""

    req: MessagesRequest
    completion: Completion
    headers: dict[str, str]
    key: str
    t0: float
    ttft_s: float
    tokens_per_s: float
    fault: StreamFault | None
    disconnect: bool
    events: list[SSEEvent]

    def deadline(self, token_index: int) -> float:
        """When output token `token_index` (0-based) is due."""
        return self.t0 + self.ttft_s + token_index / self.tokens_per_s

    @property
    def end_time(self) -> float:
        return self.deadline(max(0, self.completion.output_tokens - 1))


class Host(Protocol):
    """The simulator as the front ends see it."""

    config: SandboxConfig
    clock: RealClock | VirtualClock
    ledger: Ledger
    limiter: RateLimiter

    @property
    def journal(self) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def script(self, *replies: Reply | dict[str, Any] | str, api_key: str | None = None) -> None: ...
    def add_rule(self, reply: Reply | dict[str, Any] | str, **match: Any) -> Rule: ...
    def configure(self, **changes: Any) -> SandboxConfig: ...
    def today(self) -> date: ...
    def new_request_id(self) -> str: ...
    def journal_open(self, entry: dict[str, Any]) -> dict[str, Any]: ...
    def journal_status(self, path: str, status: int) -> None: ...
    def record_decision(self, decision: str) -> None: ...
    def prepare_message(
        self, api_key: str, body: Any, version: str, arrived: float | None = None
    ) -> Prepared: ...
    def finish_message(self, prepared: Prepared, sent_tokens: int, decision: str = "ok") -> None: ...
    def count_tokens(self, api_key: str, body: Any, version: str) -> tuple[int, dict[str, str]]: ...
    def batch_op(self, op: str, *args: Any, version: str = "2026-10-21") -> Any: ...
