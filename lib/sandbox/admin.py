"""The Admin API: the cost report, billed the sandbox's own way (GET /v1/organizations/cost_report), and the
Rate Limits API (GET /v1/organizations/rate_limits: the configured buckets).

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

from . import catalogue
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


# -- the Rate Limits API: GET /v1/organizations/rate_limits --------------------------------------------------
# Shape: SDK 2.14 types/organization/organization_rate_limit.py (entries {type: "rate_limit", id, group {id, type,
# display_name?}, limits [{type, value}], models}), paginated as SyncPageCursor {data, next_page}; query
# group_type, model (404 when no entry holds it), limit 1-1000 (omitted: everything in one page), page. Limiter
# type names from the SDK's docstring ("requests_per_minute", "input_tokens_per_minute_cache_aware"); the
# output one follows the same pattern. The sandbox's buckets are per key for every model at once (README:
# "not per model class"), so it reports one model group holding every model, plus the Token Count API group.
GROUP_TYPES = ("batch", "files", "model_group", "skills", "token_count", "web_search")
MODEL_GROUP_ID = "rlg_01SandboxAllModels0000000"
TOKEN_COUNT_GROUP_ID = "rlg_01SandboxTokenCount00000"


def rate_limit_entries(sim: Simulator) -> list[dict[str, Any]]:
    c = sim.config
    return [
        {"type": "rate_limit", "id": "rl_01SandboxMessages000000000",
         "group": {"type": "model_group", "id": MODEL_GROUP_ID,
                   "display_name": "Claude (all models; the sandbox shares one bucket per key)"},
         "limits": [{"type": "requests_per_minute", "value": c.rpm},
                    {"type": "input_tokens_per_minute_cache_aware", "value": c.itpm},
                    {"type": "output_tokens_per_minute", "value": c.otpm}],
         "models": [m.id for m in catalogue.LISTED]},
        {"type": "rate_limit", "id": "rl_01SandboxTokenCount0000000",
         "group": {"type": "token_count", "id": TOKEN_COUNT_GROUP_ID},
         "limits": [{"type": "requests_per_minute", "value": c.count_tokens_rpm}],
         "models": None},
    ]


def rate_limits(sim: Simulator, params: Any) -> dict[str, Any]:
    entries = rate_limit_entries(sim)
    group_type = params.get("group_type")
    if group_type is not None:
        if group_type not in GROUP_TYPES:
            raise invalid(f"group_type: Input should be {', '.join(repr(g) for g in GROUP_TYPES)}")
        entries = [e for e in entries if e["group"]["type"] == group_type]
    model = params.get("model")
    if model is not None:
        entries = [e for e in entries if model in (e["models"] or [])]
        if not entries:
            raise ApiError(404, f"model: {model} has no rate limits for this organization")
    start = 0
    page = params.get("page")
    if page:
        if not (page.startswith("rlpage_") and page[7:].isdigit()):
            raise invalid("page: not a cursor from this endpoint")
        start = int(page[7:])
    raw_limit = params.get("limit")
    if raw_limit is None:
        return {"data": entries[start:], "next_page": None}
    if not str(raw_limit).isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise invalid("limit: Input should be an integer between 1 and 1000")
    end = start + int(raw_limit)
    return {"data": entries[start:end], "next_page": f"rlpage_{end}" if end < len(entries) else None}


def admin_routes(sim: Simulator) -> list[Route]:
    """The Admin API routes the sandbox serves."""

    async def get_rate_limits(request: Request) -> Response:
        _admin_key(request, sim)
        body = rate_limits(sim, request.query_params)
        if request.state.journal:
            request.state.journal["decision"] = "ok"
        return JSONResponse(body)

    async def get_cost_report(request: Request) -> Response:
        _admin_key(request, sim)
        body = cost_report(sim, request.query_params)
        if request.state.journal:
            request.state.journal["decision"] = "ok"
        return JSONResponse(body)

    return [Route("/v1/organizations/cost_report", get_cost_report, methods=["GET"]),
            Route("/v1/organizations/rate_limits", get_rate_limits, methods=["GET"])]
