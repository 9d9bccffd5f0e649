"""Simulator: owns all state (clock, buckets, cache, scripts, batches, threads, journal) and the Messages engine."""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, NamedTuple

from . import catalogue
from .batches import BatchStore
from .cache import CachePlan, PromptCache
from .clock import RealClock, VirtualClock, to_datetime
from .completion import build_completion
from .config import RATE_FIELDS, SandboxConfig
from .errors import ApiError, error_body
from .host import Prepared
from .ids import digest, hash_key, make_id
from .journal import Journal, Stats
from .ledger import Ledger
from .prompt import build_prompt
from .ratelimit import RateLimiter
from .replies import Reply, Rule, ScriptBook, StreamFault, builtin_reply
from .sse import plan_events
from .threads import ThreadStore
from .tokens import canonical_json
from .validation import MessagesRequest, validate_count_tokens, validate_messages

SPEND_LIMIT_MESSAGE = (
    "You have reached your specified API usage limits (the monthly spend limit of your usage tier). "
    "You will regain access when the limit is raised or the next month starts."
)


class Draws(NamedTuple):
    """The per-request random numbers behind the seeded faults (drawn first, always in this order)."""

    spend: float
    fail: float
    overload: float
    midstream: float
    disconnect: float


class Simulator:
    """An offline Claude Messages API. Start it with serve()/start(); drive it with script(), configure(), ..."""

    def __init__(self, config: SandboxConfig | None = None, **overrides: Any) -> None:
        base = config or SandboxConfig()
        self.config = SandboxConfig.model_validate({**base.model_dump(), **overrides})
        self._initial = self.config.model_copy(deep=True)
        self.clock = VirtualClock() if self.config.virtual_clock else RealClock()
        self._lock = threading.RLock()
        self.limiter = RateLimiter(self.config)
        self.cache = PromptCache()
        self.scripts = ScriptBook()
        self.batches = BatchStore()
        self.threads = ThreadStore()
        self.ledger = Ledger()  # what was billed, for the Admin API's cost report (admin.py)
        self._journal = Journal(self.config.journal_limit)
        self._stats = Stats()
        self._seen: Counter[str] = Counter()
        self._requests = 0
        self._nonce = os.urandom(8).hex()  # request-ids are unique across simulators; bodies stay seeded
        self._server: Any = None
        self.base_url: str | None = None
        from .app import build_app  # late: the front ends are built per simulator (they know only host.Host)

        self.app = build_app(self)

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port) in a daemon thread; return the base URL once it answers."""
        from .server import ThreadedServer

        if self._server is not None:
            return self.base_url or ""
        self._server = ThreadedServer(self.app, host, port)
        self.base_url = self._server.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            self.base_url = None

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """`with sim.serve() as base_url:` — start(), then stop() on exit."""
        url = self.start(host, port)
        try:
            yield url
        finally:
            self.stop()

    @property
    def sim(self) -> Simulator:
        """The simulator itself (so fixtures can hand out either `.sim` or the object)."""
        return self

    # --- control -----------------------------------------------------------------------------------
    def script(self, *replies: Reply | dict[str, Any] | str, api_key: str | None = None) -> None:
        """Queue replies (global, or only for requests made with `api_key`); each is used once, in order."""
        specs = [Reply.of(r) for r in replies]
        with self._lock:
            self.scripts.push(specs, hash_key(api_key) if api_key else None)

    def add_rule(self, reply: Reply | dict[str, Any] | str, **match: Any) -> Rule:
        """Answer requests matching contains/regex/tool/has_tools/has_tool_result/model with `reply` (times=None: always)."""
        rule = Rule(reply=Reply.of(reply), **match)
        with self._lock:
            self.scripts.add_rule(rule)
        return rule

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change config live; rate-limit changes rebuild the buckets (fresh and full)."""
        if "virtual_clock" in changes and changes["virtual_clock"] != self.config.virtual_clock:
            raise ValueError("virtual_clock cannot change on a running simulator; create a new Simulator")
        with self._lock:
            new = SandboxConfig.model_validate({**self.config.model_dump(), **changes})
            rates_changed = any(getattr(new, f) != getattr(self.config, f) for f in RATE_FIELDS)
            self.config = new
            if rates_changed:
                self.limiter.rebuild(new)
            else:
                self.limiter.config = new
            self._journal.resize(new.journal_limit)
            return new

    def restore_config(self) -> SandboxConfig:
        """Back to the configuration the simulator was created with."""
        return self.configure(**self._initial.model_dump())

    def reset(self) -> None:
        """Fresh state: buckets, cache, scripts, journal, batches, stats, counters (and the virtual clock)."""
        with self._lock:
            self.limiter.rebuild(self.config)
            self.cache.clear()
            self.scripts.clear()
            self.batches.clear()
            self.threads.clear()
            self.ledger.clear()
            self._journal.clear()
            self._stats.clear()
            self._seen.clear()
            self._requests = 0
            self.clock.reset()

    @property
    def journal(self) -> list[dict[str, Any]]:
        """Every API request so far (oldest first): time, key (masked), method, path, retry count, status, ..."""
        with self._lock:
            return self._journal.entries()

    def stats(self) -> dict[str, Any]:
        """Requests by status and path, 429s, decisions, tokens by kind, pending scripts, cache size."""
        with self._lock:
            snap = self._stats.snapshot()
            snap["scripts"] = self.scripts.pending()
            snap["cache_entries"] = len(self.cache)
            snap["batches"] = len(self.batches)
            snap["clock"] = {"virtual": self.clock.virtual, "now": to_datetime(self.clock.now()).isoformat()}
            return snap

    # --- plumbing used by the HTTP layer ---------------------------------------------------------
    def new_request_id(self) -> str:
        with self._lock:
            self._requests += 1
            return make_id("req_011C", self._nonce, self.config.seed, self._requests, length=20)

    def journal_open(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._journal.add(entry)

    def journal_status(self, path: str, status: int) -> None:
        with self._lock:
            self._stats.record_status(path, status)

    def record_decision(self, decision: str) -> None:
        with self._lock:
            self._stats.decisions[decision] += 1

    def today(self) -> date:
        return to_datetime(self.clock.now()).date()

    def _occurrence(self, kind: str, body: Any) -> str:
        """hash(seed, canonical request, n) where n counts earlier identical requests: stable under concurrency."""
        canon = canonical_json(
            {k: v for k, v in body.items() if k != "stream"} if isinstance(body, dict) else body
        )
        request_hash = digest(kind, canon).hex()
        n = self._seen[request_hash]
        self._seen[request_hash] += 1
        return digest(self.config.seed, request_hash, n).hex()

    # --- Messages ----------------------------------------------------------------------------------
    def prepare_message(
        self, api_key: str, body: Any, version: str, arrived: float | None = None
    ) -> Prepared:
        """Validate, check spend limit and buckets, resolve the reply, apply faults; raise ApiError to refuse.

        `arrived` (sim clock) is when the request reached the server; pacing deadlines count from it.
        """
        with self._lock:
            body, thread = self.threads.expand(body)
        req = validate_messages(body, version)
        key = hash_key(api_key)
        with self._lock:
            now = self.clock.now()
            base = self._occurrence("messages", body)
            rng = random.Random(base)
            draws = Draws(*(rng.random() for _ in range(5)))
            self._check_spend_limit(key, now, draws)
            self._check_rate_limit_fault(key, now, base)
            plan, headers = self._admit(key, req, now)
            reply = self._resolve(key, req)
            error = self._error_for(reply, draws)
            if error is not None:
                # Refused after admission: the request counts, its tokens do not.
                self.limiter.refund_input(key, plan.uncached + plan.written, now)
                self.limiter.refund_output(key, req.max_tokens, now)
                error.headers = {**self.limiter.headers(key, now), **error.headers}
                raise error
            self.cache.commit(plan, now)
            t0 = now if arrived is None else min(arrived, now)
            prepared = self._admitted(req, reply, plan, key, headers, t0, rng, draws, base)
            if thread is not None:
                content = prepared.completion.message_json()["content"]
                self.threads.hold(prepared.completion.message_id, body, content, thread)
            return prepared

    def _check_spend_limit(self, key: str, now: float, draws: Draws) -> None:
        if self.config.spend_limit_reached or draws.spend < self.config.spend_limit_rate:
            # No retry-after (as the real API's spend-limit 429); x-should-retry: false so the SDK does not retry.
            raise ApiError(
                429,
                SPEND_LIMIT_MESSAGE,
                headers={**self.limiter.headers(key, now), "x-should-retry": "false"},
                details={"error_code": "enforced_spend_limit_reached"},
                decision="spend_limit",
            )

    def _check_rate_limit_fault(self, key: str, now: float, base: str) -> None:
        # Its own seeded draw, so that turning it on leaves every other draw (and reply) unchanged.
        if self.config.rate_limit_rate and random.Random(base + ":rate_limit").random() < self.config.rate_limit_rate:
            raise ApiError(
                429,
                "Number of requests has exceeded your per-minute rate limit (sandbox fault).",
                headers={**self.limiter.headers(key, now), "retry-after": "1", "x-should-retry": "true"},
                decision="fault_rate_limited",
            )

    def _admit(self, key: str, req: MessagesRequest, now: float) -> tuple[CachePlan, dict[str, str]]:
        """Plan the cache reads/writes, then take room in the buckets (or raise the 429)."""
        prompt = _prompt_of(req)
        minimum = catalogue.cache_minimum(req.model, self.config.cache_min_tokens)
        plan = self.cache.plan(key, req.model, prompt, minimum, now)
        admission = self.limiter.admit(key, plan.uncached + plan.written, req.max_tokens, now)
        headers = self.limiter.headers(key, now)
        if not admission.ok:
            self._refuse(admission, headers)
        return plan, headers

    def _refuse(self, admission: Any, headers: dict[str, str]) -> None:
        if admission.never:
            # Never fits: a retry cannot help, so tell the SDK not to retry.
            raise ApiError(
                429, admission.never, headers={**headers, "x-should-retry": "false"}, decision="never_fits"
            )
        blocked = ", ".join(admission.blocked_by)
        raise ApiError(
            429,
            f"This request would exceed your rate limit ({blocked}); retry after {admission.retry_after} s.",
            # The real API sends x-should-retry: true with its rate-limit 429s (seen in captured responses).
            headers={**headers, "retry-after": str(admission.retry_after), "x-should-retry": "true"},
            decision="rate_limited",
        )

    def _resolve(self, key: str, req: MessagesRequest) -> Reply:
        scripted = self.scripts.take(key, req)
        if scripted is not None and (scripted.has_content or scripted.error is not None):
            return scripted
        built = builtin_reply(req, self.today())
        if scripted is None:
            return built
        # A spec without content (only usage/timing/fault/stop_reason) decorates the built-in reply.
        return scripted.model_copy(update={"blocks": built.blocks})

    def _error_for(self, reply: Reply, draws: Draws) -> ApiError | None:
        if reply.error is not None:
            e = reply.error
            message = e.message or _default_message(e.status)
            return ApiError(
                e.status,
                message,
                type=e.type,
                headers=e.headers,
                details=e.details,
                decision="scripted_error",
            )
        if draws.fail < self.config.fail_rate:
            return ApiError(500, "Internal server error", decision="fault_api_error")
        if draws.overload < self.config.overload_rate:
            return ApiError(529, "Overloaded", decision="fault_overloaded")
        return None

    def _admitted(
        self,
        req: MessagesRequest,
        reply: Reply,
        plan: CachePlan,
        key: str,
        headers: dict[str, str],
        t0: float,
        rng: random.Random,
        draws: Draws,
        base: str,
    ) -> Prepared:
        """Build the answer and its timing; streams may get a seeded mid-stream fault."""
        completion = build_completion(req, reply, base, plan, "standard")
        default_ttft, default_tps = catalogue.timing(req.spec)
        timing = reply.timing
        ttft_ms = next(
            v for v in (timing and timing.ttft_ms, self.config.ttft_ms, default_ttft) if v is not None
        )
        tps = next(
            v
            for v in (timing and timing.tokens_per_s, self.config.tokens_per_s, default_tps)
            if v is not None
        )
        ttft_s = ttft_ms / 1000.0 * (1 + self.config.jitter * (2 * rng.random() - 1))
        events = plan_events(completion, rng) if req.stream else []
        fault, disconnect = reply.fault, False
        if fault is None and req.stream and len(events) > 2:
            if draws.midstream < self.config.midstream_error_rate:
                fault = StreamFault(kind="error", after_events=rng.randint(1, len(events) - 1))
            elif draws.disconnect < self.config.disconnect_rate:
                fault = StreamFault(kind="disconnect", after_events=rng.randint(1, len(events) - 1))
        if fault is not None and req.stream:
            fault = fault.model_copy(update={"after_events": min(fault.after_events, len(events) - 1)})
        if not req.stream:
            dropped = fault is not None and fault.kind == "disconnect"
            disconnect = dropped or draws.disconnect < self.config.disconnect_rate
            fault = None  # `event: error` faults only exist in streams
        if req.stream:
            self._stats.streams += 1
        return Prepared(req, completion, headers, key, t0, ttft_s, float(tps), fault, disconnect, events)

    def finish_message(self, prepared: Prepared, sent_tokens: int, decision: str = "ok") -> None:
        """Refund the unused output reservation and count the tokens actually produced."""
        with self._lock:
            now = self.clock.now()
            self.limiter.refund_output(prepared.key, prepared.req.max_tokens - sent_tokens, now)
            usage = dict(prepared.completion.usage)
            usage["output_tokens"] = sent_tokens
            self._stats.record_usage(usage)
            self.ledger.record(now, prepared.req.model, usage)
            self._stats.decisions[decision] += 1

    # --- count_tokens --------------------------------------------------------------------------------
    def count_tokens(self, api_key: str, body: Any, version: str) -> tuple[int, dict[str, str]]:
        """Input tokens of a request (the same counter as usage); uses its own requests bucket, never the cache."""
        req = validate_count_tokens(body, version)
        key = hash_key(api_key)
        with self._lock:
            now = self.clock.now()
            admission = self.limiter.admit_count_tokens(key, now)
            headers = self.limiter.count_tokens_headers(key, now)
            if not admission.ok:
                self._refuse(admission, headers)
        prompt = _prompt_of(req)
        return prompt.total, headers

    # --- batches ---------------------------------------------------------------------------------------
    def _run_batch_item(self, params: Any, version: str) -> dict[str, Any]:
        try:
            if isinstance(params, dict) and params.get("stream"):
                raise ApiError(400, "stream: batch requests cannot be streamed")
            req = validate_messages(params, version)
            base = self._occurrence("batch_item", params)
            reply = self._resolve("batch", req)
            if reply.error is not None:
                e = reply.error
                raise ApiError(e.status, e.message or _default_message(e.status), type=e.type)
        except ApiError as err:
            return {"type": "errored", "error": error_body(err.type, err.message, None, err.details)}
        prompt = build_prompt(
            tools=req.tools,
            system=req.system,
            messages=req.messages,
            output_schema=req.output_schema,
            auto_cache=None,
        )
        completion = build_completion(req, reply, base, CachePlan(uncached=prompt.total), "batch")
        self._stats.record_usage(completion.usage, batch=True)
        self.ledger.record(self.clock.now(), req.model, completion.usage, "batch")
        return {"type": "succeeded", "message": completion.message_json()}

    def batch_op(self, op: str, *args: Any, version: str = "2026-10-21") -> Any:
        """Run a BatchStore operation under the lock with the clock and item runner filled in."""
        with self._lock:
            now, run = self.clock.now(), self._run_batch_item
            if op == "create":
                body, cfg = args[0], self.config
                batch_id = make_id("msgbatch_01", self._occurrence("batch", body), length=22)
                return self.batches.create(
                    body, batch_id, now, cfg.batch_delay_s, cfg.max_batch_requests, version
                )
            return getattr(self.batches, op)(*args, now, run)


def _default_message(status: int) -> str:
    return {
        400: "Invalid request",
        401: "invalid x-api-key",
        403: "Your API key does not have permission to use the specified resource.",
        404: "Not found",
        413: "Request exceeds the maximum allowed number of bytes.",
        429: "Number of requests has exceeded your per-minute rate limit.",
        500: "Internal server error",
        529: "Overloaded",
    }.get(status, "Error")


def _prompt_of(req: MessagesRequest):
    """The prompt as counted: the same parts for count_tokens, admission (ITPM) and usage."""
    return build_prompt(tools=req.tools, system=req.system, messages=req.messages,
                        output_schema=req.output_schema, auto_cache=req.cache_control)
