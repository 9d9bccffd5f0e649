"""Deciding when a built-in reply calls a tool, and with what input (always valid against input_schema)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from .extract import EMAIL_RE, Note
from .schema_fill import SchemaFiller
from .text_gen import is_question

QUERY_KEYS = ("query", "q", "search", "term", "keyword", "keywords", "name", "company", "account")
# "set Bob's title to CTO", "mark the Acme deal closed-won": a request to change a record
CHANGE_RE = re.compile(r"^\W*(?:please\s+)?(?:set|change|update|mark|move|make|put)\b", re.I)
PROPOSE_RE = re.compile(r"propos|update|change|edit")


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
    if after_results or not (is_question(text) or CHANGE_RE.search(text)):
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


def plan_change(
    tools: list[dict[str, Any]], request: str, results: list[str], called: set[str], today: date
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """After a lookup: the change the user asked for, through a tool that takes a contact id and changes.

    This is how the built-in replies handle "set Bob Chen's title to CTO": look the contact up first,
    then call the propose/update tool with the id the lookup returned and the values named in the
    request. Nothing is called when the request names no value this tool can take.
    """
    if not CHANGE_RE.search(request):
        return []
    for tool in tools:
        props = _props(tool)
        id_prop = next((p for p in props if p.endswith("_id") or p == "id"), None)
        changes_prop = next((p for p in props if (props[p] or {}).get("type") == "object"), None)
        if tool["name"] in called or not PROPOSE_RE.search(tool["name"]) or not id_prop or not changes_prop:
            continue
        target = _best_record(request, results, id_prop)
        changes = requested_values(request, props[changes_prop].get("properties") or {}, today)
        if target is None or not changes:
            return []
        value: dict[str, Any] = {id_prop: target, changes_prop: changes}
        if "reason" in props:
            value["reason"] = request.strip()[:200]
        return [(tool, value)]
    return []


NICKNAMES = {"bob": "robert", "rob": "robert", "bill": "william", "will": "william", "liz": "elizabeth",
             "beth": "elizabeth", "kate": "katherine", "katie": "katherine", "alex": "alejandro", "jim": "james",
             "tony": "anthony", "mike": "michael", "chris": "christopher", "maggie": "margaret", "becky": "rebecca",
             "chuck": "charles", "dave": "david", "jen": "jennifer", "sam": "samuel", "ben": "benjamin"}


def _best_record(request: str, results: list[str], id_prop: str) -> int | None:
    """The id of the looked-up record whose name fits the request best (nicknames count; ties: first)."""
    asked = {NICKNAMES.get(w, w) for w in re.findall(r"[a-z]+", request.lower())}
    best, best_score = None, -1
    for text in results:
        for m in re.finditer(rf'"{id_prop}"\s*:\s*(\d+)(?P<rest>[^{{}}]*)', text):
            name = re.search(r'"name"\s*:\s*"([^"]*)"', m["rest"])
            words = {NICKNAMES.get(w, w) for w in re.findall(r"[a-z]+", (name[1] if name else "").lower())}
            score = len(words & asked)
            if score > best_score:
                best, best_score = int(m[1]), score
    return best


def requested_values(request: str, props: dict[str, Any], today: date) -> dict[str, Any]:
    """The values a change request names, for the properties the tool takes ("title to CTO")."""
    from .dates import all_dates
    from .extract import AMOUNT_RE, amount_value, phones

    found: dict[str, Any] = {}
    for prop, schema in props.items():
        words = prop.replace("_", " ")
        if "enum" in schema:
            options = sorted(schema["enum"], key=len, reverse=True)
            hit = next((o for o in options if re.search(rf"\b{re.escape(o).replace('_', '[ _-]')}\b", request, re.I)), None)
            if hit:
                found[prop] = hit
        elif schema.get("type") in ("number", "integer") and (money := list(AMOUNT_RE.finditer(request))):
            found[prop] = amount_value(money[-1])
        elif schema.get("format") == "date" and (days := all_dates(request, today)):
            found[prop] = days[-1].value.isoformat()
        elif prop == "email" and (emails := EMAIL_RE.findall(request)):
            found[prop] = emails[-1]
        elif prop == "phone" and (numbers := phones(request)):
            found[prop] = numbers[-1][0].strip()
        elif m := re.search(rf"\b{re.escape(words)}\s+(?:to|as|=|:)\s+(.+?)\s*(?:[.;,]|\band\b|$)", request, re.I):
            found[prop] = m[1].strip("\"' ")
    return found
