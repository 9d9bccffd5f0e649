"""Request validation for /v1/messages and count_tokens: the 400s the real API gives, with clear messages.

Consecutive messages with the same role are merged, as the real API does; everything else that the real
API rejects for ordering (first message not from the user, tool_use left without its tool_result,
tool_result blocks not first in their message) is a 400 here too.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from . import catalogue
from .catalogue import ModelSpec
from .errors import ApiError, invalid
from .prompt import count_breakpoints

VERSIONS = ("2023-06-01", "2026-10-21")
REMOVED_IN_2026 = ("temperature", "top_p", "top_k")
USER_BLOCKS = {"text", "image", "document", "tool_result", "search_result", "container_upload"}
ASSISTANT_BLOCKS = {"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use"}
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
# Top-level fields of SDK 2.14's messages.create and beta.messages.create (types/message_create_params.py and
# types/beta/message_create_params.py; user_profile_id/workspace_id/betas travel as headers), plus the legacy
# output_format and the sampling parameters (checked per version and model below). Anything else is refused
# the way the real API refuses it: "<field>: Extra inputs are not permitted" (e.g. anthropics/claude-code#14135).
KNOWN_FIELDS = frozenset({
    "model", "max_tokens", "messages", "system", "stop_sequences", "stream", "tools", "tool_choice", "thinking",
    "output_config", "output_format", "cache_control", "metadata", "service_tier", "speed", "inference_geo",
    "container", "diagnostics", "context_management", "mcp_servers", "thread", "compaction", "fallbacks",
    "fallback_credit_token", "billing_policy", *REMOVED_IN_2026,
})
COUNT_ONLY_DROPS = frozenset({"max_tokens", "stream", "metadata", "stop_sequences", "service_tier", "container",
                              "inference_geo", "diagnostics", "thread", "fallbacks", "fallback_credit_token",
                              "billing_policy"})
PREFILL_REFUSED = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
THINKING_ENABLED_REFUSED = (
    '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
    '"output_config.effort" to control thinking behavior.'
)
SAMPLING_EXCLUSIVE = "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
OBJECT_NOT_CLOSED = "For 'object' type, 'additionalProperties' must be explicitly set to false"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass
class MessagesRequest:
    """A validated, normalised Messages request (content always a list of blocks, roles merged)."""

    model: str
    spec: ModelSpec
    max_tokens: int
    messages: list[dict[str, Any]]
    system: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    stop_sequences: list[str] = field(default_factory=list)
    stream: bool = False
    cache_control: dict[str, Any] | None = None

    @property
    def wants_thinking(self) -> bool:
        return bool(self.thinking) and self.thinking.get("type") in ("enabled", "adaptive")


def check_version(value: str | None) -> str:
    """The anthropic-version header must be present and one we know."""
    if not value:
        raise invalid("anthropic-version: header is required")
    if value not in VERSIONS:
        raise invalid(
            f"anthropic-version: {value!r} is not a valid version; use one of {', '.join(VERSIONS)}"
        )
    return value


def validate_messages(body: Any, version: str, *, count_only: bool = False) -> MessagesRequest:
    """Validate a /v1/messages (or count_tokens, with count_only) body; raise ApiError on the first problem."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    allowed = KNOWN_FIELDS - COUNT_ONLY_DROPS if count_only else KNOWN_FIELDS
    for name in body:
        if name not in allowed:
            raise invalid(f"{name}: Extra inputs are not permitted")
    required = ("model", "messages") if count_only else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            raise invalid(f"{name}: Field required")
    model = body["model"]
    if not isinstance(model, str) or not model:
        raise invalid("model: Input should be a valid string")
    spec = catalogue.lookup(model)
    if spec is None:
        raise ApiError(404, f"model: {model}", decision="unknown_model")
    _check_sampling(body, version, spec)
    max_tokens = 0 if count_only else _max_tokens(body["max_tokens"], spec)
    messages = _messages(body["messages"])
    req = MessagesRequest(model=model, spec=spec, max_tokens=max_tokens, messages=messages)
    req.system = _system(body.get("system"))
    req.tools = _tools(body.get("tools"))
    req.tool_choice = _tool_choice(body.get("tool_choice"), req)
    req.thinking = _thinking(body.get("thinking"), req, count_only)
    req.output_schema = _output_schema(body)
    req.stop_sequences = _stop_sequences(body.get("stop_sequences"))
    req.stream = _stream(body.get("stream"))
    req.cache_control = _cache_marker(body.get("cache_control"), "cache_control")
    _check_cache_markers(req)
    if not count_only:
        _check_prefill(req, raw_last_role=_last_role(body["messages"]))
        _check_zero_max_tokens(req)
    return req


def _last_role(raw: list[Any]) -> str | None:
    return raw[-1].get("role") if raw and isinstance(raw[-1], dict) else None


def _check_prefill(req: MessagesRequest, raw_last_role: str | None) -> None:
    # Source: catalogue.SOURCES["prefill-3P"] (the real API's 400, quoted verbatim).
    if raw_last_role == "assistant" and not req.spec.prefill:
        raise invalid(PREFILL_REFUSED)


def _check_zero_max_tokens(req: MessagesRequest) -> None:
    # max_tokens 0 pre-warms the prompt cache (writes it, generates nothing); the announcement says it does not
    # combine with streaming, extended thinking or structured outputs (headsupai.io, quoting @ClaudeDevs).
    # The real message for the combination was not found: this wording is the sandbox's own.
    if req.max_tokens:
        return
    for what, present in (("streaming", req.stream), ("thinking", req.wants_thinking),
                          ("structured outputs", req.output_schema is not None)):
        if present:
            raise invalid(f"max_tokens: 0 (cache pre-warming) cannot be combined with {what}; "
                          "set max_tokens to at least 1")


def _check_sampling(body: dict[str, Any], version: str, spec: ModelSpec) -> None:
    present = [name for name in REMOVED_IN_2026 if name in body]
    for name in present:
        if version == "2026-10-21":
            raise invalid(f"{name}: Extra inputs are not permitted (removed in anthropic-version 2026-10-21)")
        value = body[name]
        if name == "top_k":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise invalid("top_k: Input should be an integer greater than or equal to 0")
        elif not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise invalid(f"{name}: Input should be a number between 0 and 1")
    # Per model under 2023-06-01 (sources: catalogue.SOURCES["sampling-removed"], ["sampling-exclusive"]).
    if spec.sampling == "removed":
        for name in present:
            if not (name == "temperature" and body[name] == 1):  # only non-default values are refused
                raise invalid(f"`{name}` is deprecated for this model.")
    elif spec.sampling == "exclusive" and "temperature" in present and "top_p" in present:
        raise invalid(SAMPLING_EXCLUSIVE)


def _max_tokens(value: Any, spec: ModelSpec) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("max_tokens: Input should be a valid integer")
    if value < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    if value > spec.max_tokens:
        raise invalid(
            f"max_tokens: {value} > {spec.max_tokens}, which is the maximum allowed number of output tokens for {spec.id}"
        )
    return value


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid(f"{where}.content: Input should be a valid string or list of content blocks")
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(f"{where}.content.{j}: each content block must be an object with a 'type'")
    return [dict(b) for b in content]


def _messages(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise invalid("messages: Input should be a valid list")
    if not raw:
        raise invalid("messages: at least one message is required")
    merged: list[dict[str, Any]] = []
    for i, message in enumerate(raw):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise invalid(f"{where}: Input should be an object with 'role' and 'content'")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"{where}.role: Input should be 'user' or 'assistant'")
        if "content" not in message:
            raise invalid(f"{where}.content: Field required")
        blocks = _blocks(message["content"], where)
        last_assistant = i == len(raw) - 1 and role == "assistant"
        if not blocks and not last_assistant:
            raise invalid(
                f"{where}: all messages must have non-empty content except for the optional final assistant message"
            )
        _check_blocks(blocks, role, where)
        if merged and merged[-1]["role"] == role:
            # The real API merges consecutive turns with the same role into one.
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": role, "content": blocks, "index": i})
    if merged[0]["role"] != "user":
        raise invalid('messages: first message must use the "user" role')
    _check_tool_pairs(merged)
    for m in merged:
        m.pop("index")
    return merged


def _check_blocks(blocks: list[dict[str, Any]], role: str, where: str) -> None:
    allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
    for j, block in enumerate(blocks):
        kind = block["type"]
        if kind not in allowed:
            raise invalid(f"{where}.content.{j}: '{kind}' blocks are not allowed in {role} messages")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise invalid(f"{where}.content.{j}.text: Field required")
            if not block["text"]:
                raise invalid(f"{where}.content.{j}: text content blocks must be non-empty")
        if kind == "tool_use" and (
            not isinstance(block.get("id"), str) or not isinstance(block.get("input"), dict)
        ):
            raise invalid(
                f"{where}.content.{j}: tool_use blocks need an 'id', a 'name' and an 'input' object"
            )
        if kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
            raise invalid(f"{where}.content.{j}.tool_use_id: Field required")
        if kind == "image":
            _check_image(block, f"{where}.content.{j}")
        if kind == "tool_result" and isinstance(block.get("content"), list):
            for n, inner in enumerate(block["content"]):
                if isinstance(inner, dict) and inner.get("type") == "image":
                    _check_image(inner, f"{where}.content.{j}.tool_result.content.{n}")
        _cache_marker(block.get("cache_control"), f"{where}.content.{j}.cache_control")


_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}


def _image_matches(data: bytes, media_type: str) -> bool:
    if media_type == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(_MAGIC[media_type])


def _check_image(block: dict[str, Any], where: str) -> None:
    """A base64 image must decode and be the type it says (messages as the real API words them: the
    media_type list and 'Image does not match the provided media type' are quoted in anthropics/claude-code#8184
    and #6300; for data that is not base64 at all no real message was found, so the same wording is used)."""
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        return
    media_type = source.get("media_type")
    if media_type not in IMAGE_TYPES:
        raise invalid(f"{where}.image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', "
                      "'image/gif' or 'image/webp'")
    data = source.get("data")
    try:
        raw = base64.b64decode(data, validate=True) if isinstance(data, str) and data else b""
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or not _image_matches(raw, media_type):
        raise invalid(f"{where}.image.source.base64.data: Image does not match the provided media type {media_type}")


def _check_tool_pairs(merged: list[dict[str, Any]]) -> None:
    for k, message in enumerate(merged):
        where = f"messages.{message['index']}"
        blocks = message["content"]
        if message["role"] == "user":
            kinds = [b["type"] for b in blocks]
            if "tool_result" in kinds:
                first_other = next((n for n, t in enumerate(kinds) if t != "tool_result"), len(kinds))
                if "tool_result" in kinds[first_other:]:
                    raise invalid(
                        f"{where}: tool_result blocks must come first in the message content, before any other block"
                    )
                previous = merged[k - 1]["content"] if k > 0 else []
                asked = {b["id"] for b in previous if b["type"] == "tool_use"}
                unknown = [
                    b["tool_use_id"]
                    for b in blocks
                    if b["type"] == "tool_result" and b["tool_use_id"] not in asked
                ]
                if unknown:
                    raise invalid(
                        f"{where}.content: unexpected `tool_use_id` found in `tool_result` blocks: {', '.join(unknown)}. "
                        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )
            continue
        ids = [b["id"] for b in blocks if b["type"] == "tool_use"]
        if not ids:
            continue
        following = merged[k + 1]["content"] if k + 1 < len(merged) else []
        answered = {b.get("tool_use_id") for b in following if b["type"] == "tool_result"}
        missing = [i for i in ids if i not in answered]
        if missing:
            raise invalid(
                f"{where}: `tool_use` ids were found without `tool_result` blocks immediately after: {', '.join(missing)}. "
                "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
            )


def _system(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "text", "text": raw}] if raw else []
    if not isinstance(raw, list):
        raise invalid("system: Input should be a valid string or list of text blocks")
    for j, block in enumerate(raw):
        if (
            not isinstance(block, dict)
            or block.get("type") != "text"
            or not isinstance(block.get("text"), str)
        ):
            raise invalid(f"system.{j}: system blocks must be text blocks with a 'text' string")
        _cache_marker(block.get("cache_control"), f"system.{j}.cache_control")
    return [dict(b) for b in raw]


def _tools(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("tools: Input should be a valid list")
    names: set[str] = set()
    for j, tool in enumerate(raw):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid(f"tools.{j}.name: Field required")
        if not TOOL_NAME_RE.match(tool["name"]):
            raise invalid(f"tools.{j}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        is_custom = tool.get("type") in (None, "custom")
        schema = tool.get("input_schema")
        if is_custom and (not isinstance(schema, dict) or schema.get("type") != "object"):
            raise invalid(f'tools.{j}.input_schema: must be a JSON schema object with "type": "object"')
        if tool["name"] in names:
            raise invalid("tools: Tool names must be unique.")
        if tool.get("strict") is True and isinstance(schema, dict):
            # strict tool use compiles input_schema with the structured-outputs pipeline: the same rules
            _check_closed(schema, f"tools.{j}.input_schema")
        names.add(tool["name"])
        _cache_marker(tool.get("cache_control"), f"tools.{j}.cache_control")
    return [dict(t) for t in raw]


def _tool_choice(raw: Any, req: MessagesRequest) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    kind = raw["type"]
    if kind in ("any", "tool"):
        if not req.tools:
            raise invalid(f"tool_choice: type '{kind}' needs at least one tool in `tools`")
        if not req.spec.forced_tools:
            raise invalid(
                f"tool_choice: forced tool use (type '{kind}') is not supported by {req.model}; use 'auto'"
            )
    if kind == "tool" and raw.get("name") not in {t["name"] for t in req.tools}:
        raise invalid(f"tool_choice.name: tool {raw.get('name')!r} is not one of the tools in `tools`")
    return dict(raw)


def _thinking(raw: Any, req: MessagesRequest, count_only: bool) -> dict[str, Any] | None:
    if raw is None:
        return None
    kinds = ("enabled", "adaptive", "disabled", "between_tools")
    if not isinstance(raw, dict) or raw.get("type") not in kinds:
        raise invalid("thinking.type: Input should be 'enabled', 'adaptive', 'disabled' or 'between_tools'")
    kind = raw["type"]
    if kind == "enabled" and kind in req.spec.rejects_thinking:
        raise invalid(THINKING_ENABLED_REFUSED)  # the real API's words (catalogue.SOURCES["thinking-adaptive"])
    if kind in req.spec.rejects_thinking:
        raise invalid(f"thinking.type: '{kind}' is not supported by {req.model}; use 'adaptive'")
    if kind == "enabled":
        budget = raw.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
            raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
        if not count_only and budget >= req.max_tokens:
            raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`")
    if kind in ("enabled", "adaptive") and req.tool_choice and req.tool_choice["type"] in ("any", "tool"):
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")
    return dict(raw)


def _output_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt, where = None, "output_config.format.schema"
    if config is not None:
        if not isinstance(config, dict):
            raise invalid("output_config: Input should be an object")
        effort = config.get("effort")
        if effort is not None and effort not in ("low", "medium", "high", "xhigh", "max"):
            raise invalid("output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
        fmt = config.get("format")
    if fmt is None:
        fmt, where = body.get("output_format"), "output_format.schema"  # the older beta name
    if fmt is None:
        return None
    if (
        not isinstance(fmt, dict)
        or fmt.get("type") != "json_schema"
        or not isinstance(fmt.get("schema"), dict)
    ):
        raise invalid('output_config.format: expected {"type": "json_schema", "schema": {...}}')
    _check_closed(fmt["schema"], where)
    return fmt["schema"]


# Constrained decoding supports only a subset of JSON Schema: numeric bounds, string lengths and array bounds
# beyond minItems 0/1 are a 400 (structured-outputs docs, "If you use an unsupported feature, you'll receive a
# 400 error with details", quoted in laravel/ai#715; the SDK's own transform and litellm#20813 strip exactly
# these). The real wording is known for minItems (ghostlobster/memorize-everything#93); the others follow it.
UNSUPPORTED_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                        "minLength", "maxLength", "maxItems", "minProperties", "maxProperties")


def _check_keywords(schema: dict[str, Any], kinds: Any, where: str) -> None:
    kind = kinds if isinstance(kinds, str) else (next((k for k in kinds if k != "null"), "any")
                                                 if isinstance(kinds, list) else "any")
    min_items = schema.get("minItems")
    if min_items is not None and min_items not in (0, 1):
        raise invalid(f"{where}: For 'array' type, 'minItems' values other than 0 or 1 are not supported")
    for key in UNSUPPORTED_KEYWORDS:
        if key in schema:
            raise invalid(f"{where}: For '{kind}' type, property '{key}' is not supported")


def _check_closed(schema: Any, where: str) -> None:
    """Every object (sub)schema must say additionalProperties: false. The real API's message, quoted in
    veryfront/veryfront-code#3921; the rule is the structured-outputs page's ("must be set to false for
    objects", quoted in BerriAI/litellm#35811)."""
    if isinstance(schema, list):
        for item in schema:
            _check_closed(item, where)
        return
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type")
    is_object = kinds == "object" or (isinstance(kinds, list) and "object" in kinds)
    if is_object and schema.get("additionalProperties") is not False:
        raise invalid(f"{where}: {OBJECT_NOT_CLOSED}")
    _check_keywords(schema, kinds, where)
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        if isinstance(schema.get(key), dict):
            for sub in schema[key].values():
                _check_closed(sub, where)
    for key in ("items", "anyOf", "allOf", "oneOf", "prefixItems", "not", "if", "then", "else"):
        if key in schema:
            _check_closed(schema[key], where)


def _stop_sequences(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(s, str) and s for s in raw):
        raise invalid("stop_sequences: Input should be a list of non-empty strings")
    return list(raw)


def _stream(raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise invalid("stream: Input should be a valid boolean")
    return raw


def _cache_marker(raw: Any, where: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "ephemeral":
        raise invalid(f"{where}.type: Input should be 'ephemeral'")
    if raw.get("ttl", "5m") not in ("5m", "1h"):
        raise invalid(f"{where}.ttl: Input should be '5m' or '1h'")
    return dict(raw)


def _check_cache_markers(req: MessagesRequest) -> None:
    found = count_breakpoints(req.tools, req.system, req.messages, req.cache_control is not None)
    if found > 4:
        raise invalid(f"A maximum of 4 blocks with cache_control may be provided. Found {found}.")
    ttls = [
        (b.get("cache_control") or {}).get("ttl", "5m")
        for b in [*req.tools, *req.system, *(x for m in req.messages for x in m["content"])]
        if b.get("cache_control") is not None
    ]
    if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
        raise invalid(
            "cache_control: a ttl='1h' cache breakpoint must not come after a ttl='5m' one in prefix order"
        )


def validate_count_tokens(body: Any, version: str) -> MessagesRequest:
    """count_tokens takes a Messages body without max_tokens."""
    return validate_messages(body, version, count_only=True)
