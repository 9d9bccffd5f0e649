"""The control plane under /_sandbox/: health, stats, journal, reset, script, config, clock (no auth)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .errors import invalid
from .replies import Reply, Rule

if TYPE_CHECKING:
    from .host import Host as Simulator

REPLIES = TypeAdapter(list[Reply])
RULES = TypeAdapter(list[Rule])


class Control:
    """Control-plane handlers bound to one Simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def health(self, request: Request) -> Response:
        sim = self.sim
        return JSONResponse(
            {"status": "ok", "virtual_clock": sim.clock.virtual, "now": _iso(sim.clock.now())}
        )

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.sim.stats())

    async def journal(self, request: Request) -> Response:
        entries = self.sim.journal
        limit = request.query_params.get("limit")
        if limit and limit.isdigit():
            entries = entries[-int(limit) :]
        return JSONResponse({"entries": entries})

    async def reset(self, request: Request) -> Response:
        self.sim.reset()
        return JSONResponse({"status": "reset"})

    async def script(self, request: Request) -> Response:
        body = await _control_body(request)
        try:
            replies = REPLIES.validate_python(body.get("replies", []))
            rules = RULES.validate_python(body.get("rules", []))
        except ValidationError as err:
            raise invalid(f"script: {err}") from err
        if replies:
            self.sim.script(*replies, api_key=body.get("api_key"))
        for rule in rules:
            self.sim.add_rule(rule.reply, **rule.model_dump(exclude={"reply"}))
        return JSONResponse(
            {"queued": len(replies), "rules": len(rules), "pending": self.sim.stats()["scripts"]}
        )

    async def config(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _control_body(request)
            try:
                self.sim.configure(**body)
            except ValueError as err:  # pydantic's ValidationError is a ValueError too
                raise invalid(f"config: {err}") from err
        return JSONResponse(self.sim.config.model_dump(mode="json"))

    async def clock(self, request: Request) -> Response:
        body = await _control_body(request)
        if not self.sim.clock.virtual:
            raise invalid("clock: only the virtual clock can be advanced (start with virtual_clock=True)")
        seconds = body.get("advance", 0)
        if not isinstance(seconds, int | float) or seconds < 0:
            raise invalid("clock.advance: a number of seconds >= 0 is required")
        return JSONResponse({"now": _iso(self.sim.clock.advance(float(seconds)))})


async def _control_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as err:
        raise invalid(f"invalid JSON: {err}") from err
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    return body


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")


def control_routes(sim: Simulator) -> list[Route]:
    """The routes mounted at /_sandbox."""
    c = Control(sim)
    return [
        Route("/health", c.health, methods=["GET"]),
        Route("/stats", c.stats, methods=["GET"]),
        Route("/journal", c.journal, methods=["GET"]),
        Route("/reset", c.reset, methods=["POST"]),
        Route("/script", c.script, methods=["POST"]),
        Route("/config", c.config, methods=["GET", "POST"]),
        Route("/clock", c.clock, methods=["POST"]),
    ]
