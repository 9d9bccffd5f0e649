"""The ASGI app: Messages API routes under /v1, the control plane under /_sandbox (starlette)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from . import catalogue
from .admin import admin_routes
from .batches import batch_json, paginate
from .clock import to_datetime
from .control import control_routes
from .errors import ApiError, error_body, invalid
from .ids import mask_key
from .sse import ABORT, Abort, PacedResponse
from .validation import check_version

if TYPE_CHECKING:
    from .host import Host as Simulator
    from .host import Prepared


class Front:
    """ASGI middleware: a request-id on every response, and a journal entry for every /v1 request."""

    def __init__(self, app: Any, sim: Simulator) -> None:
        self.app = app
        self.sim = sim

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = self.sim.clock.now()  # TTFT counts from here, so time spent queued behind others counts too
        rid = self.sim.new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["arrived"] = arrived
        path = scope["path"]
        entry = self._open(scope, rid) if path.startswith("/v1/") else None
        state["journal"] = entry if entry is not None else {}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"request-id" for k, _ in headers):
                    headers.append((b"request-id", rid.encode("ascii")))
                message = {**message, "headers": headers}
                if entry is not None:
                    entry["status"] = message["status"]
                    self.sim.journal_status(path, message["status"])
            await send(message)

        await self.app(scope, receive, send_with_id)

    def _open(self, scope: dict[str, Any], rid: str) -> dict[str, Any]:
        headers = Headers(scope=scope)
        retry = headers.get("x-stainless-retry-count")
        now = self.sim.clock.now()
        return self.sim.journal_open(
            {
                "time": to_datetime(now).isoformat(timespec="milliseconds"),
                "t": now,
                "key": mask_key(_api_key(headers)),
                "method": scope["method"],
                "path": scope["path"],
                "retry_count": int(retry) if retry and retry.isdigit() else None,
                "anthropic_version": headers.get("anthropic-version"),
                "request_id": rid,
                "status": None,
                "decision": None,
                "model": None,
                "stream": None,
                "body": None,
            }
        )


def _api_key(headers: Headers) -> str | None:
    # x-api-key wins when both are sent (as reported for the real API); SDK 2.14 sends Bearer.
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip()
    return None


class Api:
    """Route handlers bound to one Simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    # --- shared steps ---------------------------------------------------------------------------
    def _auth(self, request: Request) -> tuple[str, str]:
        key = _api_key(request.headers)
        if key is None:
            raise ApiError(401, "x-api-key header is required (or Authorization: Bearer <key>)")
        if key.startswith("sk-invalid"):
            raise ApiError(401, "invalid x-api-key")
        return key, check_version(request.headers.get("anthropic-version"))

    async def _body(self, request: Request, limit: int) -> Any:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
        if size > limit:
            raise ApiError(413, f"Request exceeds the maximum allowed number of bytes ({size} > {limit}).")
        try:
            body = json.loads(b"".join(chunks) or b"null")
        except ValueError as err:
            raise invalid(f"There was an error parsing the body of your request: {err}") from err
        journal = request.state.journal
        if journal and isinstance(body, dict):
            journal.update(model=body.get("model"), stream=bool(body.get("stream")))
            if self.sim.config.journal_bodies:
                journal["body"] = body
        return body

    @staticmethod
    def _decide(request: Request, decision: str) -> None:
        if request.state.journal:
            request.state.journal["decision"] = decision

    # --- Messages ---------------------------------------------------------------------------------
    async def messages(self, request: Request) -> Any:
        key, version = self._auth(request)
        body = await self._body(request, self.sim.config.max_request_bytes)
        prepared = self.sim.prepare_message(key, body, version, arrived=request.state.arrived)
        rid = request.state.request_id
        if prepared.req.stream:
            headers = {
                **prepared.headers,
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
            }
            progress: dict[str, Any] = {"sent": 0, "settled": False}

            def settle(outcome: str) -> None:
                # Runs before the last frame goes out, so a client that has read the stream sees the journal final.
                if not progress["settled"]:
                    progress["settled"] = True
                    self._decide(request, outcome)
                    self.sim.finish_message(prepared, progress["sent"], outcome)

            return PacedResponse(
                200,
                headers,
                self._events(prepared, rid, progress, settle, request.state.journal),
                lambda _done: settle("client_disconnect"),
            )
        await self.sim.clock.sleep_until(prepared.end_time)
        if prepared.disconnect:
            self._decide(request, "disconnect")
            self.sim.finish_message(prepared, 0, "disconnect")
            headers = {**prepared.headers, "content-type": "application/json"}
            return PacedResponse(200, headers, _aborted(), lambda _done: None)
        self.sim.finish_message(prepared, prepared.completion.output_tokens, "ok")
        self._decide(request, "ok")
        return JSONResponse(prepared.completion.message_json(), headers=prepared.headers)

    async def _events(
        self, p: Prepared, rid: str, progress: dict[str, Any], settle: Any, journal: dict[str, Any] | None = None
    ) -> AsyncIterator[bytes | Abort]:
        """The SSE frames, each sent when its last token is due. The journal gets the send times of the
        first and last token-carrying frames (first_delta_at / last_delta_at, clock seconds), which
        is what end-to-end latency benchmarks measure against."""
        clock, last = self.sim.clock, len(p.events) - 1
        journal = journal if journal is not None else {}
        for n, event in enumerate(p.events):
            if p.fault is not None and n == p.fault.after_events:
                if p.fault.kind == "disconnect":
                    settle("disconnect")
                    yield ABORT
                    return
                settle("stream_error")
                data = error_body(p.fault.error_type, p.fault.message, rid)
                yield f"event: error\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
                return
            if event.token_at is not None:
                await clock.sleep_until(p.deadline(event.token_at))
                journal.setdefault("first_delta_at", clock.now())
                journal["last_delta_at"] = clock.now()
            progress["sent"] += event.tokens
            if n == last:
                settle("ok")
            yield event.frame()

    async def count_tokens(self, request: Request) -> Response:
        key, version = self._auth(request)
        body = await self._body(request, self.sim.config.max_request_bytes)
        total, headers = self.sim.count_tokens(key, body, version)
        self._decide(request, "ok")
        return JSONResponse({"input_tokens": total}, headers=headers)

    # --- batches ----------------------------------------------------------------------------------
    async def create_batch(self, request: Request) -> Response:
        _key, version = self._auth(request)
        body = await self._body(request, self.sim.config.max_batch_bytes)
        batch = self.sim.batch_op("create", body, version=version)
        self._decide(request, "ok")
        return JSONResponse(batch_json(batch, str(request.base_url)))

    async def list_batches(self, request: Request) -> Response:
        self._auth(request)
        limit, after_id, before_id = _page_params(request)
        batches, has_more = self.sim.batch_op("list", limit, after_id, before_id)
        data = [batch_json(b, str(request.base_url)) for b in batches]
        self._decide(request, "ok")
        return JSONResponse(_page(data, has_more))

    async def get_batch(self, request: Request) -> Response:
        self._auth(request)
        batch = self.sim.batch_op("get", request.path_params["batch_id"])
        self._decide(request, "ok")
        return JSONResponse(batch_json(batch, str(request.base_url)))

    async def cancel_batch(self, request: Request) -> Response:
        self._auth(request)
        batch = self.sim.batch_op("cancel", request.path_params["batch_id"])
        self._decide(request, "ok")
        return JSONResponse(batch_json(batch, str(request.base_url)))

    async def delete_batch(self, request: Request) -> Response:
        self._auth(request)
        batch_id = request.path_params["batch_id"]
        self.sim.batch_op("delete", batch_id)
        self._decide(request, "ok")
        return JSONResponse({"id": batch_id, "type": "message_batch_deleted"})

    async def batch_results(self, request: Request) -> Response:
        self._auth(request)
        lines = self.sim.batch_op("results", request.path_params["batch_id"])
        body = "".join(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines)
        self._decide(request, "ok")
        return Response(body.encode("utf-8"), media_type="application/x-jsonl")

    # --- models -----------------------------------------------------------------------------------
    async def list_models(self, request: Request) -> Response:
        self._auth(request)
        limit, after_id, before_id = _page_params(request)
        wanted = request.query_params.getlist("lifecycle[]") or request.query_params.getlist("lifecycle")
        wanted = wanted or ["active", "deprecated"]
        models = [m for m in catalogue.LISTED if m.lifecycle in wanted]
        ids, has_more = paginate([m.id for m in models], limit, after_id, before_id)
        self._decide(request, "ok")
        return JSONResponse(_page([catalogue.model_info(catalogue.BY_ID[i]) for i in ids], has_more))

    async def get_model(self, request: Request) -> Response:
        self._auth(request)
        spec = catalogue.lookup(request.path_params["model_id"])
        if spec is None:
            raise ApiError(404, f"model: {request.path_params['model_id']}")
        self._decide(request, "ok")
        return JSONResponse(catalogue.model_info(spec))


async def _aborted() -> AsyncIterator[bytes | Abort]:
    yield ABORT


def _page_params(request: Request) -> tuple[int, str | None, str | None]:
    raw = request.query_params.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise invalid("limit: Input should be an integer between 1 and 1000")
    return int(raw), request.query_params.get("after_id"), request.query_params.get("before_id")


def _page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def build_app(sim: Simulator) -> Starlette:
    """The Starlette app for `sim`."""
    api = Api(sim)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        Api._decide(request, exc.decision)
        sim.record_decision(exc.decision)
        body = error_body(exc.type, exc.message, request.state.request_id, exc.details)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        err = ApiError(404 if status == 404 else status, "Not found" if status == 404 else str(exc.detail))
        return await on_api_error(request, err)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # A bug in the simulator: answer like the real API's 500 (uvicorn still logs the traceback).
        return await on_api_error(request, ApiError(500, "Internal server error", decision="crash"))

    routes = [
        Route("/v1/messages", api.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", api.count_tokens, methods=["POST"]),
        Route("/v1/messages/batches", api.create_batch, methods=["POST"]),
        Route("/v1/messages/batches", api.list_batches, methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}", api.get_batch, methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}", api.delete_batch, methods=["DELETE"]),
        Route("/v1/messages/batches/{batch_id}/cancel", api.cancel_batch, methods=["POST"]),
        Route("/v1/messages/batches/{batch_id}/results", api.batch_results, methods=["GET"]),
        Route("/v1/models", api.list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", api.get_model, methods=["GET"]),
        *admin_routes(sim),  # GET /v1/organizations/cost_report (admin.py)
        Mount("/_sandbox", routes=control_routes(sim)),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Front, sim=sim)],
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, Exception: on_crash},
    )
