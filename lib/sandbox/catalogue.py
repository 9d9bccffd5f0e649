"""The model catalogue served by /v1/models, with each model's timing profile and cache minimum.

Ids are the SDK 2.14 `Model` literals (claude-api.md §13). Context and output limits follow the docs'
overview pages where they exist (§11); release dates not given there are approximate and marked so below.

Every behaviour a row encodes (limits, what the model refuses) names where it comes from in `source`, as
`data/pricing.toml` does for prices: the model's overview page, a migration guide, or, where no official
page was found, the public report of the real API's answer (marked "3P"). `SOURCES` holds the long forms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue row."""

    id: str
    display_name: str
    created: str  # ISO date (approximate where the docs do not say)
    line: str
    max_input_tokens: int
    max_tokens: int
    lifecycle: str = "active"
    deprecated_at: str | None = None
    retires_at: str | None = None
    rejects_thinking: tuple[str, ...] = ()  # thinking.type values this model answers with a 400
    forced_tools: bool = True  # accepts tool_choice any/tool (claude-api.md §7: not on the newest models)
    prefill: bool = True  # accepts a conversation that ends with an assistant turn (not on 4.6 and newer)
    # Sampling parameters under anthropic-version 2023-06-01 (2026-10-21 removed them everywhere):
    # "exclusive" = temperature and top_p may not both be set; "removed" = any non-default value is a 400.
    sampling: str = "exclusive"
    source: str = ""  # keys of SOURCES, comma-separated, for every fact in this row


M, K = 1_000_000, 1000
_NEW = {"max_input_tokens": 1 * M, "max_tokens": 128 * K}
# 4.6 and newer: no assistant prefill (the real API's 400 is quoted in validation.py).
_NO_PREFILL = {"prefill": False}
# Opus 4.7 and newer: adaptive thinking only, sampling parameters removed.
_ADAPTIVE_ONLY = {"rejects_thinking": ("enabled",), "sampling": "removed", "prefill": False}

SOURCES: dict[str, str] = {
    "overview": "platform.claude.com/docs/en/models/<model>/overview (context window, max output, thinking row)",
    "overview-sonnet-4-6": "platform.claude.com/docs/zh-CN/models/sonnet-4-6/overview: 'Context window: 1M tokens · "
    "Max output: 128K tokens'",
    "models-overview": "claude-api.md §11: Fable 5.x, Opus 4.8-5.5, Sonnet 5/5.5, Haiku 5.5 = 1M / 128K; "
    "Haiku 4.5 = 200K / 64K",
    "prefill-3P": "3P: the real 400 'This model does not support assistant message prefill. The conversation must "
    "end with a user message.' reported for claude-sonnet-4-6 (Tarquinen/opencode-dynamic-context-pruning#520), "
    "Sonnet 4.6 and Sonnet 5 (cortexkit/magic-context#511), opus-4-6/4-7/4-8 and sonnet-4-6 with the 4.5 ids "
    "accepting it (ericc-ch/copilot-api#261), Fable 5 (vybestack/llxprt-code#3695)",
    "thinking-adaptive": "docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html: "
    "'Claude Opus 4.7 and Claude Mythos Preview only support adaptive thinking ... will return a 400 error'; "
    "wording from the real API in zhukunpenglinyutong/jetbrains-cc-gui#1003 and NousResearch/hermes-agent#11137; "
    "Opus 4.8 as 4.7 (simstudioai/sim#4771)",
    "thinking-5": "claude-api.md §1.2: Opus 5.5 rejects enabled and disabled, Sonnet 5 rejects enabled "
    "(opus-5-5 migration guide; sonnet-5 overview)",
    "forced-tools": "claude-api.md §7: forced tool use is a 400 on Opus 5.5, Fable 5.1 and Sonnet 5.5 (migration guides)",
    "sampling-exclusive": "3P: '`temperature` and `top_p` cannot both be specified for this model. Please use only "
    "one.' for Sonnet 4.5 (langfuse/langfuse#9882) and Sonnet 4.6 (skydiscover-ai/skydiscover#15)",
    "sampling-removed": "platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-7#sampling-parameters-removed "
    "(as cited in anomalyco/models.dev#1468); wording '`temperature` is deprecated for this model.' from the real "
    "API in RooCodeInc/Roo-Code#12162, for opus-4-8 and fable-5 in The-PR-Agent/pr-agent#2456; other 5.x: inferred",
    "versioning": "claude-api.md §0: anthropic-version 2026-10-21 refuses temperature, top_p, top_k on every model",
}
_N5 = {**_NEW, "prefill": False, "sampling": "removed"}  # the 5.x generation
_S5 = "models-overview,prefill-3P,sampling-removed"
_OLD_45 = {"lifecycle": "deprecated", "source": "overview,sampling-exclusive"}

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("claude-fable-5-2", "Claude Fable 5.2", "2026-11-09", "fable", **_N5, source=_S5),
    ModelSpec("claude-mythos-5-2", "Claude Mythos 5.2", "2026-11-09", "mythos", **_N5, source=_S5),
    ModelSpec("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07", "haiku", **_N5, source=_S5),
    ModelSpec("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-10-07", "sonnet", **_N5, forced_tools=False,
              source=_S5 + ",forced-tools"),
    ModelSpec("claude-fable-5-1", "Claude Fable 5.1", "2026-09-29", "fable", **_N5, forced_tools=False,
              source=_S5 + ",forced-tools"),
    ModelSpec("claude-opus-5-5", "Claude Opus 5.5", "2026-09-22", "opus", **_N5,
              rejects_thinking=("enabled", "disabled"), forced_tools=False,
              source=_S5 + ",thinking-5,forced-tools"),
    ModelSpec("claude-mythos-5-1", "Claude Mythos 5.1", "2026-09-29", "mythos", **_N5, source=_S5),
    ModelSpec("claude-sonnet-5", "Claude Sonnet 5", "2026-06-30", "sonnet", **_N5, rejects_thinking=("enabled",),
              source=_S5 + ",thinking-5"),
    ModelSpec("claude-fable-5", "Claude Fable 5", "2026-07-24", "fable", **_N5, source=_S5),
    ModelSpec("claude-mythos-5", "Claude Mythos 5", "2026-07-24", "mythos", **_N5, source=_S5),
    ModelSpec("claude-opus-5", "Claude Opus 5", "2026-07-24", "opus", **_N5, source=_S5),
    ModelSpec("claude-opus-4-8", "Claude Opus 4.8", "2026-05-14", "opus", **_NEW, **_ADAPTIVE_ONLY,
              source="models-overview,prefill-3P,thinking-adaptive,sampling-removed"),
    ModelSpec("claude-opus-4-7", "Claude Opus 4.7", "2026-03-19", "opus", **_NEW, **_ADAPTIVE_ONLY,
              source="models-overview,prefill-3P,thinking-adaptive,sampling-removed"),
    ModelSpec("claude-mythos-preview", "Claude Mythos Preview", "2026-02-05", "mythos", 200 * K, 64 * K,
              lifecycle="deprecated", deprecated_at="2026-04-01", retires_at="2026-06-30", **_ADAPTIVE_ONLY,
              source="thinking-adaptive,prefill-3P (inferred: newer than 4.6),sampling-removed (inferred)"),
    ModelSpec("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05", "opus", 1 * M, 128 * K, **_NO_PREFILL,
              source="overview,prefill-3P,sampling-exclusive"),
    ModelSpec("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17", "sonnet", 1 * M, 128 * K, **_NO_PREFILL,
              source="overview-sonnet-4-6,prefill-3P,sampling-exclusive"),
    ModelSpec("claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01", "haiku", 200 * K, 64 * K,
              source="models-overview,sampling-exclusive"),
    ModelSpec("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01", "haiku", 200 * K, 64 * K,
              source="models-overview,sampling-exclusive"),
    ModelSpec("claude-opus-4-5", "Claude Opus 4.5", "2025-11-01", "opus", 200 * K, 64 * K,
              deprecated_at="2026-10-22", retires_at="2027-01-22", **_OLD_45),
    ModelSpec("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-01", "opus", 200 * K, 64 * K,
              deprecated_at="2026-10-22", retires_at="2027-01-22", **_OLD_45),
    ModelSpec("claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29", "sonnet", 200 * K, 64 * K,
              deprecated_at="2026-08-30", retires_at="2026-11-30", **_OLD_45),
    ModelSpec("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29", "sonnet", 200 * K, 64 * K,
              deprecated_at="2026-08-30", retires_at="2026-11-30", **_OLD_45),
)

BY_ID: dict[str, ModelSpec] = {m.id: m for m in MODELS}

# Newest first, as the real list is; ties keep the SDK's literal order.
LISTED: tuple[ModelSpec, ...] = tuple(
    sorted(MODELS, key=lambda m: (m.created, -MODELS.index(m)), reverse=True)
)

# Per-line (TTFT ms, output tokens/s) defaults; SandboxConfig.ttft_ms/tokens_per_s and replies override.
TIMING: dict[str, tuple[float, float]] = {
    "opus": (900.0, 40.0),
    "fable": (1000.0, 35.0),
    "mythos": (1000.0, 35.0),
    "sonnet": (600.0, 60.0),
    "haiku": (300.0, 120.0),
}

# Minimum cacheable prefix (claude-api.md §5). Documented: 4096 for Opus 4.6/4.5 and Haiku 4.5; 1024 for
# Sonnet 4.6/4.5. Everything else (not documented or conflicting) defaults to DEFAULT_CACHE_MIN.
DEFAULT_CACHE_MIN = 1024
CACHE_MIN_TOKENS: dict[str, int] = {
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-opus-4-5-20251101": 4096,
    "claude-haiku-4-5": 4096,
    "claude-haiku-4-5-20251001": 4096,
    "claude-sonnet-4-6": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4-5-20250929": 1024,
    "claude-haiku-3-5": 2048,
}


def lookup(model_id: str) -> ModelSpec | None:
    """The catalogue row for `model_id`, or None."""
    return BY_ID.get(model_id)


def cache_minimum(model_id: str, overrides: dict[str, int]) -> int:
    """Minimum cacheable prefix for a model: config override > documented value > default."""
    if model_id in overrides:
        return overrides[model_id]
    return CACHE_MIN_TOKENS.get(model_id, DEFAULT_CACHE_MIN)


def timing(spec: ModelSpec) -> tuple[float, float]:
    """(ttft_ms, tokens_per_s) default for a model."""
    return TIMING.get(spec.line, (600.0, 60.0))


def _iso(day: str | None) -> str | None:
    return (
        None
        if day is None
        else datetime.fromisoformat(day).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _yes(flag: bool = True) -> dict[str, bool]:
    return {"supported": flag}


def capabilities(spec: ModelSpec) -> dict[str, Any]:
    """The `capabilities` object of a ModelInfo (illustrative values, shaped as SDK 2.14 expects)."""
    new_gen = spec.max_input_tokens >= M
    return {
        "batch": _yes(),
        "citations": _yes(),
        "code_execution": _yes(new_gen),
        "context_management": {
            "supported": True,
            "clear_thinking_20251015": _yes(),
            "clear_tool_uses_20250919": _yes(),
            "compact_20260112": _yes(new_gen),
        },
        "effort": {
            "supported": True,
            "low": _yes(),
            "medium": _yes(),
            "high": _yes(),
            "max": _yes(),
            "xhigh": _yes(new_gen),
        },
        "image_input": _yes(),
        "pdf_input": _yes(),
        "server_tools": {"supported": True, "web_search": _yes(), "code_execution": _yes()},
        "structured_outputs": _yes(),
        "thinking": {
            "supported": True,
            "types": {
                "adaptive": _yes(),
                "enabled": _yes("enabled" not in spec.rejects_thinking),
                "disabled": _yes("disabled" not in spec.rejects_thinking),
                "between_tools": _yes(new_gen),
            },
        },
    }


def model_info(spec: ModelSpec) -> dict[str, Any]:
    """The ModelInfo JSON for one model."""
    return {
        "type": "model",
        "id": spec.id,
        "display_name": spec.display_name,
        "created_at": _iso(spec.created),
        "lifecycle": spec.lifecycle,
        "deprecated_at": _iso(spec.deprecated_at),
        "retires_at": _iso(spec.retires_at),
        "line": spec.line,
        "max_input_tokens": spec.max_input_tokens,
        "max_tokens": spec.max_tokens,
        "capabilities": capabilities(spec),
    }
