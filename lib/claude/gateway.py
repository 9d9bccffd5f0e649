"""The gateway to Claude: the only module that imports `anthropic`.

Every call names its feature and user. The SDK does the HTTP work and the retries (`max_retries`,
honouring `retry-after`); a recording transport under the SDK's http client sees every attempt
(status, headers, retry count) and writes one usage-log row per attempt:

- an attempt that fails (429, 5xx, 4xx, connection error) is logged by the transport at once;
- an attempt that succeeds is logged by the gateway when the reply is complete, with the final
  usage (never the cumulative `message_delta` numbers added up), cost, latency and TTFT.

Logging never breaks the user's work: a row the database refuses goes to a fallback file and the
result carries a warning. SDK errors become the domain errors of `lib.core.errors`. The API key is
handed to the SDK and nowhere else.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anthropic
import httpx2
import pydantic

from lib.core.errors import (
    AuthenticationFailed,
    ClaudeError,
    ClaudeUnavailable,
    InvalidRequest,
    Overloaded,
    RateLimited,
    ReplyInvalid,
    StreamInterrupted,
)
from lib.usage import pricing
from lib.usage.log import UsageLog, UsageRecord

_RL_DIMENSIONS = {"requests": "requests", "input-tokens": "input_tokens", "output-tokens": "output_tokens"}


# -- per-call context: which logical call an HTTP attempt belongs to -----------------------------


@dataclass
class Attempt:
    """One HTTP attempt as the transport saw it."""

    number: int
    started: float
    status: int | None = None
    request_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class CallContext:
    """What the transport needs to log an attempt, and what it saw."""

    call_id: str
    feature: str
    user: str
    model: str
    backend: str
    batch_id: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log_success: Callable[[Attempt], None] | None = None

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


_current_call: ContextVar[CallContext | None] = ContextVar("scribe_current_call", default=None)
# Warnings of the last budget check in this thread (see Gateway._admit), until a call context takes them.
_admission_warnings: ContextVar[tuple[str, ...]] = ContextVar("scribe_admission_warnings", default=())
# Told (status or None for a connection error, headers) about every HTTP attempt made in this context;
# the bulk runner's rate limiter listens here (see `observe_attempts`).
_attempt_observer: ContextVar[Callable[[int | None, dict[str, str]], None] | None] = ContextVar(
    "scribe_attempt_observer", default=None)


@dataclass
class CallResult:
    """What a finished (or stopped) call produced and cost."""

    call_id: str
    backend: str
    model: str
    text: str = ""
    stop_reason: str | None = None
    request_id: str | None = None
    record: UsageRecord | None = None
    row_id: int | None = None
    incomplete: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def cost_usd(self) -> Decimal | None:
        return self.record.cost_usd if self.record else None

    @property
    def ttft_ms(self) -> float | None:
        return self.record.ttft_ms if self.record else None


# -- reading what the API sent back --------------------------------------------------------------


def rate_limit_fields(headers: Any) -> dict[str, int | None]:
    """The anthropic-ratelimit-* limit/remaining headers as usage-log columns."""
    out: dict[str, int | None] = {}
    for header_dim, column_dim in _RL_DIMENSIONS.items():
        for kind in ("limit", "remaining"):
            raw = headers.get(f"anthropic-ratelimit-{header_dim}-{kind}")
            out[f"rl_{column_dim}_{kind}"] = int(raw) if raw and raw.strip().isdigit() else None
    return out


def retry_after_seconds(headers: Any) -> float | None:
    raw = headers.get("retry-after")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def usage_fields(usage: Any) -> dict[str, Any]:
    """Token counts by kind from an SDK Usage object (absent split: all writes count as 5m)."""
    created = usage.cache_creation_input_tokens or 0
    split = usage.cache_creation
    write_5m = split.ephemeral_5m_input_tokens if split else created
    write_1h = split.ephemeral_1h_input_tokens if split else 0
    return {
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_input_tokens": usage.cache_read_input_tokens or 0,
        "cache_creation_input_tokens": created,
        "cache_write_5m_tokens": write_5m or 0,
        "cache_write_1h_tokens": write_1h or 0,
        "service_tier": usage.service_tier,
        "speed": getattr(usage, "speed", None),
        "inference_geo": getattr(usage, "inference_geo", None),
    }


def _error_type(response: httpx2.Response) -> tuple[str | None, str | None]:
    """(error.type, error.message) from an error body, tolerating non-JSON bodies."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:200] or None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("type"), error.get("message")
    return None, None


# -- the recording transport --------------------------------------------------------------------


class RecordingTransport(httpx2.BaseTransport):
    """Wraps the SDK's HTTP transport; sees every attempt of every call made in a CallContext."""

    def __init__(self, inner: httpx2.BaseTransport, on_failure: Callable[[CallContext, Attempt, str, str | None,
                                                                          float | None], None]):
        self.inner = inner
        self.on_failure = on_failure
        self.latest_rate_limits: dict[str, str] | None = None  # the last Messages response's headers

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        ctx = _current_call.get()
        if ctx is None:  # count_tokens, models: not billed, not logged
            return self.inner.handle_request(request)
        attempt = Attempt(number=int(request.headers.get("x-stainless-retry-count", "0") or 0),
                          started=time.perf_counter())
        ctx.attempts.append(attempt)
        observer = _attempt_observer.get()
        try:
            response = self.inner.handle_request(request)
        except httpx2.TransportError as exc:
            self.on_failure(ctx, attempt, "connection_error", type(exc).__name__, None)
            if observer is not None:
                observer(None, {})
            raise
        attempt.status = response.status_code
        attempt.request_id = response.headers.get("request-id")
        attempt.headers = dict(response.headers)
        limits = {k: v for k, v in attempt.headers.items() if k.startswith("anthropic-ratelimit-")}
        if limits:
            self.latest_rate_limits = limits
        if observer is not None:
            observer(response.status_code, attempt.headers)
        if response.status_code >= 400:
            response.read()  # small error body; the SDK reads it again from the cache
            error_type, _ = _error_type(response)
            self.on_failure(ctx, attempt, str(response.status_code), error_type,
                            retry_after_seconds(response.headers))
        elif "text/event-stream" not in response.headers.get("content-type", ""):
            # A JSON body can still break after the headers (dropped connection): log that attempt
            # here, since no reply will reach the gateway. Streams log their own breaks.
            response.stream = _BodyWatch(response.stream, lambda exc: self.on_failure(
                ctx, attempt, "connection_error", type(exc).__name__, None))
        return response

    def close(self) -> None:
        self.inner.close()


# -- the gateway --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfiguredLimit:
    """One group of the organisation's configured rate limits: limiter type -> value (per minute)."""

    group: str
    group_type: str
    models: tuple[str, ...]
    limits: dict[str, int]


class Gateway:
    """One per process: the SDK client, the usage log, and the rules every call follows."""

    def __init__(
        self,
        usage_log: UsageLog,
        *,
        api_key: str,
        base_url: str | None,
        backend: str,
        max_retries: int = 2,
        timeout_s: float = 120.0,
        budget_check: Callable[[str, str, str], Any] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        transport: httpx2.BaseTransport | None = None,
    ):
        self.usage_log = usage_log
        self.backend = backend
        self.base_url = base_url
        self.now = now
        self.budget_check = budget_check
        self._model_info: dict[str, dict[str, Any]] = {}
        recording = RecordingTransport(transport or httpx2.HTTPTransport(), self._log_failed_attempt)
        self._recording = recording
        self.client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=max_retries,
            timeout=timeout_s,
            http_client=anthropic.DefaultHttpxClient(transport=recording),
        )

    @property
    def is_sandbox(self) -> bool:
        return self.backend == "sandbox"

    # -- calls ----------------------------------------------------------------------------------

    def stream_text(self, *, feature: str, user: str, model: str, max_tokens: int,
                    messages: list[dict[str, Any]], system: Any = None, **params: Any) -> TextStream:
        """A streamed text reply; iterate it (e.g. with st.write_stream), then read `.result`."""
        model = self._admit(feature, user, model)
        ctx = self._context(feature, user, model)
        kwargs = _drop_none(model=model, max_tokens=max_tokens, messages=messages, system=system, **params)
        return TextStream(self, ctx, kwargs)

    def parse(self, *, feature: str, user: str, model: str, max_tokens: int, output_format: type,
              messages: list[dict[str, Any]], system: Any = None, **params: Any) -> tuple[Any, CallResult]:
        """Structured output validated by pydantic: (parsed object, result).

        The request is what `messages.parse` sends (the SDK's `transform_schema` of the model); it is
        sent through `create` so that a reply failing validation still has its message and usage,
        which are logged (it was billed) before ReplyInvalid is raised with the raw text.
        """
        message, result = self.create(feature=feature, user=user, model=model, max_tokens=max_tokens,
                                      messages=messages, system=system,
                                      output_config=output_config_for(output_format), **params)
        try:
            parsed = pydantic.TypeAdapter(output_format).validate_json(result.text)
        except pydantic.ValidationError as exc:
            raise ReplyInvalid(
                f"Claude's reply did not match the expected fields ({exc.error_count()} problem(s)).",
                raw_text=result.text, result=result, request_id=result.request_id,
            ) from exc
        return parsed, result

    def create(self, *, feature: str, user: str, model: str, max_tokens: int,
               messages: list[dict[str, Any]], **params: Any) -> tuple[anthropic.types.Message, CallResult]:
        """A plain (non-streamed) Messages call, e.g. one round of the tool-use loop."""
        model = self._admit(feature, user, model)
        ctx = self._context(feature, user, model)
        kwargs = _drop_none(model=model, max_tokens=max_tokens, messages=messages, **params)
        with self._calling(ctx):
            message = self.client.messages.create(**kwargs)
        text = "".join(b.text for b in message.content if b.type == "text")
        return message, self._finish(ctx, message, text=text, ttft_ms=None)

    def count_tokens(self, *, model: str, messages: list[dict[str, Any]], system: Any = None,
                     tools: list[dict[str, Any]] | None = None, output_config: dict[str, Any] | None = None) -> int:
        """Input tokens of a prompt, as the API counts them (free; not logged)."""
        kwargs = _drop_none(model=model, messages=messages, system=system, tools=tools, output_config=output_config)
        with _translate_errors():
            return self.client.messages.count_tokens(**kwargs).input_tokens

    def list_models(self) -> list[dict[str, Any]]:
        """Every model the Models API lists, newest first, as plain dicts."""
        with _translate_errors():
            return [m.model_dump(mode="json") for m in self.client.models.list(limit=100)]

    def model_info(self, model: str) -> dict[str, Any]:
        """The Models API's entry for one model (kept for the process: it rarely changes)."""
        if model not in self._model_info:
            with _translate_errors():
                self._model_info[model] = self.client.models.retrieve(model).model_dump(mode="json")
        return self._model_info[model]

    def cost_report(self, admin_key: str, *, starting_at: datetime, ending_at: datetime,
                    transport: httpx2.BaseTransport | None = None) -> list[dict[str, Any]]:
        """Anthropic's cost report for [starting_at, ending_at): the raw pages, daily buckets grouped by
        description (model, token type, service tier), every page fetched.

        GET /v1/organizations/cost_report (Admin API) is not wrapped by SDK 2.14, so it goes through the
        SDK's generic `client.get` on a short-lived client built with the admin key, at this gateway's
        base URL (the sandbox serves the same endpoint). The key is sent as x-api-key only, never logged;
        the SDK retries as usual; nothing is written to the usage log (the report costs nothing).
        Ranges longer than 31 days (the API's cap) are fetched 31 days at a time.
        """
        http_client = anthropic.DefaultHttpxClient(transport=transport) if transport is not None else None
        client = anthropic.Anthropic(api_key=admin_key, base_url=self.base_url, max_retries=2, timeout=60,
                                     http_client=http_client,
                                     default_headers={"X-Api-Key": admin_key, "Authorization": anthropic.omit})
        pages: list[dict[str, Any]] = []
        try:
            with client, _translate_errors():
                start = starting_at
                while start < ending_at:
                    end = min(ending_at, start + timedelta(days=31))
                    pages += self._cost_report_pages(client, start, end)
                    start = end
        except AuthenticationFailed as err:
            raise AuthenticationFailed(f"Anthropic refused the admin key: {err.message}",
                                       "Check ANTHROPIC_ADMIN_KEY: it must be an Admin API key (sk-ant-admin…).",
                                       request_id=err.request_id) from err
        return pages

    def configured_rate_limits(self, admin_key: str, *, model: str | None = None) -> list[ConfiguredLimit]:
        """The organisation's configured Messages API limits (Rate Limits API, Admin key), per group.

        `GET /v1/organizations/rate_limits` through the SDK's `organization.rate_limits.list()`, at this
        gateway's base URL; the key is never logged; nothing is written to the usage log (it costs nothing)."""
        client = anthropic.Anthropic(api_key=admin_key, base_url=self.base_url, max_retries=2, timeout=30)
        try:
            with client, _translate_errors():
                entries = list(client.organization.rate_limits.list(**({"model": model} if model else {})))
        except AuthenticationFailed as err:
            raise AuthenticationFailed(f"Anthropic refused the admin key: {err.message}",
                                       "Check ANTHROPIC_ADMIN_KEY: it must be an Admin API key (sk-ant-admin…).",
                                       request_id=err.request_id) from err
        return [ConfiguredLimit(group=getattr(e.group, "display_name", None) or e.group.id,
                                group_type=e.group.type, models=tuple(e.models or ()),
                                limits={v.type: int(v.value) for v in e.limits}) for e in entries]

    @staticmethod
    def _cost_report_pages(client: anthropic.Anthropic, start: datetime, end: datetime) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"starting_at": _rfc3339(start), "ending_at": _rfc3339(end), "bucket_width": "1d",
                                  "group_by": ["description"], "limit": 31}
        pages = []
        while True:
            page = client.get("/v1/organizations/cost_report", cast_to=object, options={"params": params})
            if not isinstance(page, dict):
                raise InvalidRequest("The cost report came back in an unexpected shape.")
            pages.append(page)
            if not page.get("has_more") or not page.get("next_page"):
                return pages
            params = {**params, "page": page["next_page"]}

    # -- internals --------------------------------------------------------------------------------

    def _admit(self, feature: str, user: str, model: str) -> str:
        """Budgets are checked before anything is sent; the check may step the model down.

        `budget_check` returns the model to use, or an object with `.model` and `.warnings` (a
        lib.usage.budgets.Verdict); its warnings wait here and go into the next call context this thread
        builds, so they reach the call's result (and the page) with the call's other warnings.
        """
        _admission_warnings.set(())
        if self.budget_check is None:
            return model
        verdict = self.budget_check(feature, user, model)
        if isinstance(verdict, str):
            return verdict
        _admission_warnings.set(tuple(verdict.warnings))
        return verdict.model

    def _context(self, feature: str, user: str, model: str, batch_id: str | None = None) -> CallContext:
        ctx = CallContext(call_id=uuid.uuid4().hex, feature=feature, user=user or "unknown",
                          model=model, backend=self.backend, batch_id=batch_id)
        ctx.warnings.extend(_admission_warnings.get())
        _admission_warnings.set(())
        return ctx

    def _calling(self, ctx: CallContext) -> _Calling:
        return _Calling(ctx)

    def _record(self, ctx: CallContext, attempt: Attempt | None, **values: Any) -> UsageRecord:
        headers = attempt.headers if attempt else {}
        latency = (time.perf_counter() - attempt.started) * 1000 if attempt else None
        base = {
            "ts": self.now(), "call_id": ctx.call_id, "backend": ctx.backend, "model": ctx.model,
            "feature": ctx.feature, "user": ctx.user, "batch_id": ctx.batch_id,
            "attempt": attempt.number if attempt else 0,
            "request_id": attempt.request_id if attempt else None,
            "latency_ms": latency, **rate_limit_fields(headers),
        }
        base.update(values)
        return UsageRecord(**base)

    def _write(self, ctx: CallContext, record: UsageRecord) -> int | None:
        row_id, warning = self.usage_log.write_or_fallback(record)
        if warning:
            ctx.warnings.append(warning)
        return row_id

    def _log_failed_attempt(self, ctx: CallContext, attempt: Attempt, status: str,
                            error_type: str | None, retry_after: float | None) -> None:
        record = self._record(ctx, attempt, status=status, error_type=error_type,
                              retry_after_s=retry_after, cost_usd=Decimal(0))
        self._write(ctx, record)

    def _finish(self, ctx: CallContext, message: Any, *, text: str, ttft_ms: float | None,
                status: str = "ok", error_type: str | None = None, estimated_output: int | None = None
                ) -> CallResult:
        """Log the successful attempt with the message's final usage; build the result."""
        usage = message.usage
        fields = usage_fields(usage)
        if estimated_output is not None:
            fields["output_tokens"] = max(fields["output_tokens"], estimated_output)
        cost = pricing.cost_usd(ctx.model, fields | {"cache_creation": {
            "ephemeral_5m_input_tokens": fields["cache_write_5m_tokens"],
            "ephemeral_1h_input_tokens": fields["cache_write_1h_tokens"]}},
            batch=fields["service_tier"] == "batch", at=self.now())
        if cost is None:
            ctx.warnings.append(f"Price unknown for model {ctx.model}: tokens are logged, cost is not.")
        record = self._record(ctx, ctx.last, status=status, error_type=error_type, ttft_ms=ttft_ms,
                              stop_reason=message.stop_reason, cost_usd=cost,
                              usage_estimated=estimated_output is not None, **fields)
        if ctx.last is None:  # e.g. a batch result: no HTTP attempt of its own
            record.request_id = getattr(message, "id", None)
        row_id = self._write(ctx, record)
        return CallResult(call_id=ctx.call_id, backend=ctx.backend, model=ctx.model, text=text,
                          stop_reason=message.stop_reason, request_id=record.request_id, record=record,
                          row_id=row_id, incomplete=status != "ok", warnings=list(ctx.warnings))

    # -- bulk work: a no-retry sibling, rate-limit headers, Message Batches ----------------------

    def with_max_retries(self, max_retries: int) -> Gateway:
        """This gateway (same usage log, transport, budgets) with its own SDK retry count.

        The bulk runner uses `max_retries=0`, so its rate limiter sees every 429 and owns the waiting;
        the shared recording transport still logs every attempt.
        """
        sibling = copy.copy(self)
        sibling.client = self.client.with_options(max_retries=max_retries)
        return sibling

    def close(self) -> None:
        """Close the SDK client's connections (siblings share them)."""
        self.client.close()

    def rate_limit_headers(self) -> dict[str, str] | None:
        """The anthropic-ratelimit-* headers of the last Messages response this process saw, if any."""
        latest = self._recording.latest_rate_limits
        return dict(latest) if latest else None

    def create_batch(self, requests: list[dict[str, Any]], *, user: str, model: str) -> BatchInfo:
        """Submit Message Batch requests (`{"custom_id", "params"}`); budgets are checked first."""
        chosen = self._admit("batch", user, model)
        if chosen != model:
            requests = [{**r, "params": {**r["params"], "model": chosen}} for r in requests]
        with _translate_errors():
            return BatchInfo.of(self.client.messages.batches.create(requests=requests))

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        with _translate_errors():
            return BatchInfo.of(self.client.messages.batches.retrieve(batch_id))

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        with _translate_errors():
            return BatchInfo.of(self.client.messages.batches.cancel(batch_id))

    def batch_results(self, batch_id: str) -> Iterator[BatchResultLine]:
        """The result lines of an ended batch (any order; match them by custom_id)."""
        with _translate_errors():
            for line in self.client.messages.batches.results(batch_id):
                yield BatchResultLine.of(line)

    def log_batch_result(self, line: BatchResultLine, *, batch_id: str, user: str, model: str) -> CallResult:
        """Log a succeeded batch result: its usage, service tier batch, the batch id, cost at half price."""
        message = line.message
        if message.usage.service_tier != "batch":  # batch pricing applies whatever the usage says
            message = message.model_copy(update={"usage": message.usage.model_copy(update={"service_tier": "batch"})})
        ctx = self._context("batch", user, getattr(message, "model", None) or model, batch_id=batch_id)
        return self._finish(ctx, message, text=line.text, ttft_ms=None)


class _Calling:
    """Makes `ctx` the current call for the transport, and turns SDK errors into domain errors."""

    def __init__(self, ctx: CallContext):
        self.ctx = ctx
        self._token = None
        self._errors = _translate_errors()

    def __enter__(self) -> CallContext:
        self._token = _current_call.set(self.ctx)
        self._errors.__enter__()
        return self.ctx

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            return bool(self._errors.__exit__(exc_type, exc, tb))
        finally:
            _current_call.reset(self._token)


class TextStream:
    """Iterates the text of a streamed reply; logs its usage when it ends, or when it is cut short.

    Use `for chunk in stream` (or `st.write_stream(stream)`), then `stream.result`. If iteration
    stops early (a Stop button, a rerun), call `close()`: the partial text stays in `.text`, the
    result is marked incomplete, and the attempt is logged with the output counted so far.
    When the reply is complete, `.message` is the SDK's final Message: all its content blocks (a
    tool-use round's tool_use blocks, with their parsed input), not only the text; None otherwise.
    """

    def __init__(self, gateway: Gateway, ctx: CallContext, kwargs: dict[str, Any]):
        self.gateway = gateway
        self.ctx = ctx
        self.kwargs = kwargs
        self.text = ""
        self.result: CallResult | None = None
        self.message: anthropic.types.Message | None = None
        self.error: ClaudeError | None = None
        self._sdk_stream: Any = None
        self._ttft_ms: float | None = None
        self._iterating = False
        # A Stop click reruns the page in a new run while the old one may still be reading: the new
        # run asks this stream to stop and waits for it, so it never shows a half-finished object.
        self._stop_requested = threading.Event()
        self._done = threading.Event()
        self._finish_lock = threading.Lock()

    @property
    def finished(self) -> bool:
        return self.result is not None

    def __iter__(self) -> Iterator[str]:
        if self._iterating or self.finished:
            raise RuntimeError("a TextStream can be iterated once")
        self._iterating = True
        manager = self.gateway.client.messages.stream(**self.kwargs)
        try:
            with _Calling(self.ctx):  # the request and its retries happen on entering the manager
                stream = self._sdk_stream = manager.__enter__()
            with _translate_errors():
                for event in stream:
                    if self._stop_requested.is_set():
                        return  # the finally below logs what was used
                    if event.type == "text":
                        self._mark_first_token()
                        self.text += event.text
                        yield event.text
                message = stream.get_final_message()
            with self._finish_lock:
                if not self.finished:  # a stop() from another thread may have logged it a moment ago: once only
                    self.message = message
                    self.result = self.gateway._finish(self.ctx, message, text=self.text, ttft_ms=self._ttft_ms)
        except ClaudeError as exc:
            self.error = exc
            if isinstance(exc, StreamInterrupted):
                self._finish_partial("stream_error", exc.error_type)
            raise
        finally:
            if not self.finished:
                self._finish_partial("aborted", None)
            if self._sdk_stream is not None:
                manager.__exit__(None, None, None)
            self._done.set()

    def _mark_first_token(self) -> None:
        if self._ttft_ms is None and self.ctx.last is not None:
            self._ttft_ms = (time.perf_counter() - self.ctx.last.started) * 1000

    def close(self) -> None:
        """Log a stream that was cut short (idempotent; a no-op once finished)."""
        if not self.finished:
            self._finish_partial("aborted", None)

    def stop(self, wait_s: float = 5.0) -> None:
        """From another thread: stop reading, wait until the reader has logged what was used."""
        self._stop_requested.set()
        if self._iterating:
            self._done.wait(wait_s)
        self.close()

    def _finish_partial(self, status: str, error_type: str | None) -> None:
        with self._finish_lock:
            self._finish_partial_locked(status, error_type)

    def _finish_partial_locked(self, status: str, error_type: str | None) -> None:
        if self.finished:
            return
        if self._sdk_stream is None:  # nothing was admitted: the transport already logged it
            self.result = CallResult(call_id=self.ctx.call_id, backend=self.ctx.backend, model=self.ctx.model,
                                     incomplete=True, warnings=list(self.ctx.warnings))
            return
        snapshot = self._sdk_stream.current_message_snapshot
        estimated = _estimate_tokens(self.text)
        self.result = self.gateway._finish(self.ctx, snapshot, text=self.text, ttft_ms=self._ttft_ms,
                                           status=status, error_type=error_type, estimated_output=estimated)


def _estimate_tokens(text: str) -> int:
    """Rough output size of a stream cut short (the API never sent its final count)."""
    return (len(text.encode("utf-8")) + 3) // 4


class _translate_errors:  # noqa: N801 - used like a function in `with` statements
    """SDK exceptions in, domain errors out; the hint says what to do."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None or isinstance(exc, ClaudeError):
            return False
        domain = translate(exc)
        if domain is None:
            return False
        raise domain from exc


def translate(exc: BaseException) -> ClaudeError | None:
    """The domain error for an SDK or transport exception, or None if it is not one of those."""
    request_id = getattr(exc, "request_id", None)
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code == 200:
        # an `event: error` in the middle of a stream
        err = StreamInterrupted(f"The reply stopped part-way: {exc.message}", request_id=request_id)
        err.error_type = getattr(exc, "type", None) or (exc.body or {}).get("error", {}).get("type")
        return err
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return AuthenticationFailed(f"Claude rejected the API key ({exc.status_code}).", request_id=request_id)
    if isinstance(exc, anthropic.RateLimitError):
        wait = retry_after_seconds(exc.response.headers)
        what = "Rate limit reached" if wait is not None else "Rate or spend limit reached"
        return RateLimited(f"{what} ({_api_message(exc)}), still after the automatic retries.",
                           request_id=request_id, retry_after_s=wait)
    if isinstance(exc, anthropic.InternalServerError):
        return Overloaded(f"Claude is overloaded or failing ({exc.status_code}: {_api_message(exc)}), "
                          "still after the automatic retries.", request_id=request_id)
    if isinstance(exc, anthropic.APIStatusError):
        return InvalidRequest(f"Claude refused the request ({exc.status_code}): {_api_message(exc)}",
                              request_id=request_id)
    if isinstance(exc, anthropic.APIConnectionError):
        return ClaudeUnavailable(f"Could not reach Claude ({type(exc).__name__}).")
    if isinstance(exc, httpx2.TransportError):  # the connection dropped while a stream was read
        err = StreamInterrupted(f"The connection dropped part-way through the reply ({type(exc).__name__}).")
        err.error_type = "disconnect"
        return err
    return None


def _api_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return str(error.get("message") or exc.message)


def output_config_for(output_format: type) -> dict[str, Any]:
    """The `output_config` that `messages.parse(output_format=...)` would send (also for batches)."""
    return {"format": {"type": "json_schema", "schema": anthropic.transform_schema(output_format)}}


def _drop_none(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, Z suffix (naive datetimes are UTC, as in the usage log)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- bulk work: attempt observers, batch objects --------------------------------------------------


@contextmanager
def observe_attempts(callback: Callable[[int | None, dict[str, str]], None]) -> Iterator[None]:
    """Call `callback(status, headers)` for every HTTP attempt of the calls made inside the block.

    `status` is None when the connection failed before a response. Per thread (a ContextVar), so each
    bulk worker hears only its own calls.
    """
    token = _attempt_observer.set(callback)
    try:
        yield
    finally:
        _attempt_observer.reset(token)


class _BodyWatch(httpx2.SyncByteStream):
    """A response body that reports, once, a connection that broke while it was read."""

    def __init__(self, inner: httpx2.SyncByteStream, on_error: Callable[[httpx2.TransportError], None]):
        self.inner = inner
        self.on_error = on_error
        self._reported = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.inner
        except httpx2.TransportError as exc:
            if not self._reported:
                self._reported = True
                self.on_error(exc)
            raise

    def close(self) -> None:
        self.inner.close()


@dataclass
class BatchInfo:
    """A Message Batch as the API last described it."""

    id: str
    processing_status: str  # in_progress | canceling | ended
    request_counts: dict[str, int]
    created_at: datetime | None = None
    ended_at: datetime | None = None
    expires_at: datetime | None = None

    @classmethod
    def of(cls, batch: Any) -> BatchInfo:
        return cls(id=batch.id, processing_status=batch.processing_status,
                   request_counts=batch.request_counts.model_dump(), created_at=batch.created_at,
                   ended_at=batch.ended_at, expires_at=batch.expires_at)


@dataclass
class BatchResultLine:
    """One line of a batch's results: succeeded (with its message), errored, canceled or expired."""

    custom_id: str
    type: str
    text: str = ""
    message: Any = None  # the SDK Message, for Gateway.log_batch_result
    error_type: str | None = None
    error_message: str | None = None

    @classmethod
    def of(cls, line: Any) -> BatchResultLine:
        result = line.result
        if result.type == "succeeded":
            text = "".join(b.text for b in result.message.content if b.type == "text")
            return cls(custom_id=line.custom_id, type="succeeded", text=text, message=result.message)
        if result.type == "errored":
            error = getattr(result.error, "error", None)
            return cls(custom_id=line.custom_id, type="errored", error_type=getattr(error, "type", None),
                       error_message=getattr(error, "message", None))
        return cls(custom_id=line.custom_id, type=result.type)
