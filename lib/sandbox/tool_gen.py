"""Deciding when a built-in reply calls a tool, and with what input (always valid against input_schema)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .extract import EMAIL_RE, Note
from .schema_fill import SchemaFiller
from .text_gen import is_question

QUERY_KEYS = ("query", "q", "search", "term", "keyword", "keywords", "name", "company", "account")


def _props(tool: dict[str, Any]) -> dict[str, Any]:
    return (tool.get("input_schema") or {}).get("properties") or {}


def _email_prop(tool: dict[str, Any]) -> str | None:
    return next((p for p in _props(tool) if "email" in p.lower()), None)


def _query_prop(tool: dict[str, Any]) -> str | None:
    return next((p for p in _props(tool) if p.lower() in QUERY_KEYS), None)


def _fill(tool: dict[str, Any], text: str, today: date, override: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("input_schema") or {"type": "object", "properties": {}}
    value = SchemaFiller(schema, Note(text, today)).fill()
    value = value if isinstance(value, dict) else {}
    value.update(override)
    return value


def _name_words_match(tool: dict[str, Any], text: str) -> bool:
    words = [
        w
        for w in re.split(r"[_\W]+", tool["name"].lower())
        if len(w) >= 4 and w not in ("tool", "get", "list")
    ]
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(w[:6])}", lowered) for w in words)


def plan_calls(
    tools: list[dict[str, Any]],
    tool_choice: dict[str, Any] | None,
    text: str,
    after_results: bool,
    today: date,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(tool, input) pairs to call, or [] for a text reply."""
    choice = (tool_choice or {}).get("type", "auto")
    custom = [t for t in tools if t.get("type") in (None, "custom")]
    if choice == "none" or not custom:
        return []
    single = bool((tool_choice or {}).get("disable_parallel_tool_use"))
    if choice in ("any", "tool"):
        pool = [t for t in custom if t["name"] == tool_choice.get("name")] if choice == "tool" else custom
        calls = _fitting(pool, text, today) or [(pool[0], _fill(pool[0], text, today, {}))]
        return calls[:1] if single else calls
    if after_results or not is_question(text):
        return []
    calls = _fitting(custom, text, today)
    return calls[:1] if single else calls


def _fitting(
    tools: list[dict[str, Any]], text: str, today: date
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    emails = list(dict.fromkeys(EMAIL_RE.findall(text)))
    for tool in tools:
        prop = _email_prop(tool)
        if prop and emails:
            return [(tool, _fill(tool, text, today, {prop: e})) for e in emails]
    entities = Note(text, today).entities() or _about_words(text)
    for tool in tools:
        prop = _query_prop(tool)
        if prop and entities:
            return [(tool, _fill(tool, text, today, {prop: entities[0]}))]
    for tool in tools:
        required = (tool.get("input_schema") or {}).get("required") or []
        if not required and _name_words_match(tool, text):
            return [(tool, _fill(tool, text, today, {}))]
    return []


def _about_words(text: str) -> list[str]:
    m = re.search(r"\b(?:about|for|on|with|at)\s+([A-Z][\w&'-]*(?:\s+[A-Z][\w&'-]*){0,2})", text)
    return [m[1]] if m else []
