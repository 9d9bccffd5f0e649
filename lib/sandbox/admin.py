"""The Admin API's cost report, billed the sandbox's own way: GET /v1/organizations/cost_report.

The simulator keeps a ledger of what it billed: tokens per UTC day (of its clock), model, service
tier, context window and token type, recorded when a Messages request finishes (its output is the
tokens actually sent) and when a batch item is answered (service tier ``batch``). The report prices
that ledger with the sandbox's own price table below, transcribed from Anthropic's pricing pages and
deliberately independent of Scribe's ``lib/pricing`` and ``data/pricing.toml``: it plays the part of
Anthropic's bill, so comparing Scribe's log with it (reconciliation) tests something real.

Amounts are decimal strings in cents (``"123.45"`` is $1.23), as the real endpoint sends them; the
answer has the real shape: ``{"data": [{"starting_at", "ending_at", "results": [...]}], "has_more",
"next_page"}``. It needs an Admin key: one starting with ``sk-ant-admin``, or one added to
``sim.ledger.admin_keys``; other keys get a 403 permission_error (no key: 401).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .clock import to_datetime
from .errors import ApiError, invalid
from .ledger import PRICES, TOKEN_LABELS, Ledger, Price  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from .host import Host as Simulator


ADMIN_PREFIX = "sk-ant-admin"
MAX_BUCKETS = 31


def _admin_key(request: Request, sim: Simulator) -> str:
    key = request.headers.get("x-api-key")
    auth = request.headers.get("authorization", "")
    if not key and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    if not key:
        raise ApiError(401, "x-api-key header is required")
    if not (key.startswith(ADMIN_PREFIX) or key in sim.ledger.admin_keys):
        raise ApiError(403, "This endpoint requires an Admin API key (sk-ant-admin...).")
    return key


def _moment(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as err:
        raise invalid(f"{name}: not an RFC 3339 timestamp: {raw!r}") from err
    if moment.tzinfo is None:
        raise invalid(f"{name}: an RFC 3339 timestamp needs a time zone: {raw!r}")
    return moment.astimezone(UTC)


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def cost_report(sim: Simulator, params: Any) -> dict[str, Any]:
    """The report for the query `params` (a starlette QueryParams or a dict of lists)."""
    start = _moment(params.get("starting_at"), "starting_at")
    if start is None:
        raise invalid("starting_at: Field required")
    end = _moment(params.get("ending_at"), "ending_at")
    if params.get("bucket_width", "1d") != "1d":
        raise invalid("bucket_width: only '1d' is supported for the cost report")
    raw_limit = params.get("limit", "7")
    if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= MAX_BUCKETS:
        raise invalid(f"limit: Input should be an integer between 1 and {MAX_BUCKETS}")
    group_by = params.getlist("group_by[]") if hasattr(params, "getlist") else params.get("group_by[]", [])
    if any(g not in ("workspace_id", "description") for g in group_by):
        raise invalid("group_by[]: must be 'workspace_id' or 'description'")
    first = start.date()  # buckets snap to the start of the UTC day
    page = params.get("page")
    if page:
        if not page.startswith("page_"):
            raise invalid("page: not a cursor from this endpoint")
        first = date.fromisoformat(page[5:])
    last_end = (end or to_datetime(sim.clock.now()) + timedelta(days=1)).date()  # buckets end on or before
    days = []
    day = first
    while day + timedelta(days=1) <= last_end and len(days) <= int(raw_limit):
        days.append(day)
        day += timedelta(days=1)
    more = len(days) > int(raw_limit)
    days = days[: int(raw_limit)]
    data = []
    for d in days:
        items = sim.ledger.day_items(d)
        if "description" not in group_by and items:
            total = sum((Decimal(i["amount"]) for i in items), Decimal(0))
            items = [{"model": None, "service_tier": None, "context_window": None, "token_type": None,
                      "cost_type": None, "description": None, "currency": "USD", "amount": format(total, "f"),
                      "workspace_id": None}]
        data.append({"starting_at": _iso(d), "ending_at": _iso(d + timedelta(days=1)), "results": items})
    next_page = f"page_{(days[-1] + timedelta(days=1)).isoformat()}" if more and days else None
    return {"data": data, "has_more": more, "next_page": next_page}


def admin_routes(sim: Simulator) -> list[Route]:
    """The Admin API routes the sandbox serves."""

    async def get_cost_report(request: Request) -> Response:
        _admin_key(request, sim)
        body = cost_report(sim, request.query_params)
        if request.state.journal:
            request.state.journal["decision"] = "ok"
        return JSONResponse(body)

    return [Route("/v1/organizations/cost_report", get_cost_report, methods=["GET"])]
