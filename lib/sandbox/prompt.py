"""A request's prompt as an ordered list of parts (tools -> system -> messages -> output schema).

Each part is rendered once and measured with tokens.count_rendering, so count_tokens, usage and rate
limiting all add up the same numbers. Cache breakpoints point at parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ids import digest
from .tokens import canonical_json, count_rendering

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class Part:
    """One measured piece of the prompt."""

    where: str
    rendering: str
    tokens: int
    cache_ttl: str | None = None  # set when this part carries an explicit cache_control
    cacheable: bool = True


@dataclass
class Prompt:
    """The measured prompt: parts, running totals, prefix hashes and cache breakpoints."""

    parts: list[Part]
    breakpoints: list[tuple[int, str]] = field(default_factory=list)  # (part index, ttl) in prefix order
    cumulative: list[int] = field(default_factory=list)
    prefix_hashes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0


def _without_cache_control(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if k != "cache_control"}


def _ttl(marker: Any) -> str | None:
    if isinstance(marker, dict):
        return str(marker.get("ttl") or "5m")
    return None


def build_prompt(
    *,
    tools: list[dict[str, Any]],
    system: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    output_schema: dict[str, Any] | None,
    auto_cache: dict[str, Any] | None,
) -> Prompt:
    """Measure a (validated, normalised) request; `auto_cache` is the top-level cache_control, if any."""
    parts: list[Part] = []
    for i, tool in enumerate(tools):
        text = canonical_json(_without_cache_control(tool))
        parts.append(Part(f"tools.{i}", text, count_rendering(text), _ttl(tool.get("cache_control"))))
    for i, block in enumerate(system):
        text = "system|" + block.get("text", "")
        parts.append(Part(f"system.{i}", text, count_rendering(text), _ttl(block.get("cache_control"))))
    for m, message in enumerate(messages):
        for b, block in enumerate(message["content"]):
            text = message["role"] + "|" + canonical_json(_without_cache_control(block))
            where = f"messages.{m}.content.{b}"
            parts.append(Part(where, text, count_rendering(text), _ttl(block.get("cache_control"))))
    if output_schema is not None:
        text = "output_format|" + canonical_json(output_schema)
        parts.append(Part("output_config.format", text, count_rendering(text), None, cacheable=False))
    return _finish(parts, auto_cache)


def _finish(parts: list[Part], auto_cache: dict[str, Any] | None) -> Prompt:
    prompt = Prompt(parts)
    running, prev = 0, ""
    for part in parts:
        running += part.tokens
        prev = digest(prev, part.rendering).hex()
        prompt.cumulative.append(running)
        prompt.prefix_hashes.append(prev)
    marks = {i: p.cache_ttl for i, p in enumerate(parts) if p.cache_ttl}
    if auto_cache is not None:
        # Automatic caching puts the breakpoint on the last cacheable block (claude-api.md §5).
        last = max((i for i, p in enumerate(parts) if p.cacheable), default=None)
        if last is not None and last not in marks:
            marks[last] = _ttl(auto_cache) or "5m"
    prompt.breakpoints = sorted(marks.items())
    return prompt


def count_breakpoints(
    tools: list[dict[str, Any]], system: list[dict[str, Any]], messages: list[dict[str, Any]], auto: bool
) -> int:
    """How many cache_control markers a request carries (the automatic one included)."""
    blocks = [*tools, *system, *(b for m in messages for b in m["content"])]
    return sum(1 for b in blocks if b.get("cache_control") is not None) + (1 if auto else 0)
