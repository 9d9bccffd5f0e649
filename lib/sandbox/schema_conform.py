"""Make a filled value satisfy its schema's bounds: the last pass of schema_fill.

Structured outputs are constrained decoding: whatever the schema says, the real reply satisfies. The filler
picks values for meaning (an amount, a date, a name); this pass then enforces the keywords a value can break:
`enum`/`const`, `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum`/`multipleOf`, `minLength`/
`maxLength`/`pattern` (a shortest matching string is generated from the regex when the value does not
match), `minItems`/`maxItems`, `required`, and `anyOf`/`oneOf` branches by the value's type. Where a schema
cannot be satisfied (contradictory bounds, an unsupported regex construct) the value is left as it is.
"""

from __future__ import annotations

import math
import re
from typing import Any

try:  # Python 3.11+: the parser behind `re`
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse  # type: ignore[no-redef]

from re import _constants as sre_c  # type: ignore[attr-defined]

Resolver = Any  # a callable(schema, depth) -> dict, SchemaFiller._resolve
Defaulter = Any  # a callable(schema, depth) -> value, SchemaFiller._default

_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def type_ok(value: Any, schema: dict[str, Any]) -> bool:
    t = schema.get("type")
    kinds = t if isinstance(t, list) else ([t] if t else [])
    return not kinds or any(_TYPES.get(k, lambda v: True)(value) for k in kinds)


def conform(value: Any, schema: Any, resolve: Resolver, default: Defaulter, depth: int = 0) -> Any:
    schema = resolve(schema, depth)
    if depth > 40 or not isinstance(schema, dict):
        return value
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return value if value in schema["enum"] else schema["enum"][0]
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        resolved = [resolve(b, depth + 1) for b in branches]
        for branch in resolved:
            if type_ok(value, branch) and ("enum" not in branch or value in branch["enum"]):
                return conform(value, branch, resolve, default, depth + 1)
        return conform(default(resolved[0], depth + 1), resolved[0], resolve, default, depth + 1)
    for part in schema.get("allOf", []):
        value = conform(value, part, resolve, default, depth + 1)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _number(value, schema)
    if isinstance(value, str):
        return _string(value, schema)
    if isinstance(value, list):
        return _array(value, schema, resolve, default, depth)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out = {k: conform(v, props[k], resolve, default, depth + 1) if k in props else v
               for k, v in value.items()}
        if schema.get("additionalProperties") is False and props:
            out = {k: v for k, v in out.items() if k in props}
        for k in schema.get("required", []):
            if k not in out and k in props:
                out[k] = conform(default(props[k], depth + 1), props[k], resolve, default, depth + 1)
        return out
    return value


def _number(value: float, schema: dict[str, Any]) -> float:
    integer = schema.get("type") == "integer" or (isinstance(schema.get("type"), list) and "integer" in
                                                   schema["type"] and "number" not in schema["type"])
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = 1 if integer else None
    if isinstance(schema.get("multipleOf"), int | float) and schema["multipleOf"] > 0:
        step = schema["multipleOf"]
    lo = max([b for b in (low,) if isinstance(b, int | float)] or [-math.inf])
    hi = min([b for b in (high,) if isinstance(b, int | float)] or [math.inf])
    tiny = step or max(abs(value), 1.0) * 1e-9
    if isinstance(ex_low, int | float):
        lo = max(lo, ex_low + (tiny if step is None else 0))
    if isinstance(ex_high, int | float):
        hi = min(hi, ex_high - (tiny if step is None else 0))
    v = float(value)
    if step:
        def on_grid(x: float, up: bool) -> float:
            return (math.ceil if up else math.floor)(x / step - 1e-9 if up else x / step + 1e-9) * step
        v = round(v / step) * step
        if v < lo or (isinstance(ex_low, int | float) and v <= ex_low):
            v = on_grid(lo, True)
            if isinstance(ex_low, int | float) and v <= ex_low:
                v += step
        if v > hi or (isinstance(ex_high, int | float) and v >= ex_high):
            v = on_grid(hi, False)
            if isinstance(ex_high, int | float) and v >= ex_high:
                v -= step
    else:
        v = min(max(v, lo), hi)
    if integer:
        return int(round(v))
    return int(v) if isinstance(value, int) and v == int(v) else v


def _string(value: str, schema: dict[str, Any]) -> str:
    low = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
    high = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            ok = re.search(pattern, value) is not None
        except re.error:
            ok = True
        if not ok:
            made = shortest_match(pattern, low)
            if made is not None:
                value = made
    if len(value) < low:
        value = value + ("x" * (low - len(value)) if value else "x" * low)
    if high is not None and len(value) > high:
        cut = value[:high]
        value = cut.rstrip(" ,;:") if len(cut.rstrip(" ,;:")) >= low else cut
    return value


def _array(value: list[Any], schema: dict[str, Any], resolve: Resolver, default: Defaulter, depth: int) -> list:
    items = schema.get("items", {})
    out = [conform(v, items, resolve, default, depth + 1) for v in value]
    high = schema.get("maxItems")
    if isinstance(high, int):
        out = out[:high]
    low = schema.get("minItems") if isinstance(schema.get("minItems"), int) else 0
    n = 0
    while len(out) < low and n < 100:
        item = conform(default(items, depth + 1), items, resolve, default, depth + 1)
        if isinstance(item, str) and schema.get("uniqueItems") and item in out:
            item = f"{item}{len(out) + 1}"
        out.append(item)
        n += 1
    return out


# --- a shortest string matching a regex (the common constructs; None when unsure) --------------------------

def shortest_match(pattern: str, min_length: int = 0) -> str | None:
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    for extra in range(0, 64):
        try:
            text = _gen(parsed, extra)
        except _Unsupported:
            return None
        if re.search(pattern, text) and len(text) >= min_length:
            return text
        if extra and len(text) >= min_length:
            break
    return None


class _Unsupported(Exception):
    pass


def _char_for(items: list[tuple[Any, Any]]) -> str:
    negate = any(op == sre_c.NEGATE for op, _ in items)
    if negate:
        banned = set()
        for op, av in items:
            if op == sre_c.LITERAL:
                banned.add(chr(av))
        return next(c for c in "xa0Z_" if c not in banned)
    for op, av in items:
        if op == sre_c.LITERAL:
            return chr(av)
        if op == sre_c.RANGE:
            return chr(av[0])
        if op == sre_c.CATEGORY:
            return {sre_c.CATEGORY_DIGIT: "0", sre_c.CATEGORY_WORD: "a", sre_c.CATEGORY_SPACE: " ",
                    sre_c.CATEGORY_NOT_DIGIT: "a", sre_c.CATEGORY_NOT_WORD: "-",
                    sre_c.CATEGORY_NOT_SPACE: "a"}.get(av, "a")
    raise _Unsupported


def _gen(parsed: Any, extra: int) -> str:
    out = []
    for op, av in parsed:
        if op == sre_c.LITERAL:
            out.append(chr(av))
        elif op == sre_c.NOT_LITERAL:
            out.append("x" if chr(av) != "x" else "y")
        elif op == sre_c.ANY:
            out.append("x")
        elif op == sre_c.IN:
            out.append(_char_for(av))
        elif op == sre_c.CATEGORY:
            out.append(_char_for([(op, av)]))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = av
            count = low + extra if high == sre_c.MAXREPEAT else min(high, low + extra)
            out.append(_gen(sub, 0) * count)
        elif op == sre_c.SUBPATTERN:
            out.append(_gen(av[-1], extra))
        elif op == sre_c.BRANCH:
            out.append(_gen(av[1][0], extra))
        elif op == sre_c.AT:
            continue
        elif op in (sre_c.ASSERT, sre_c.ASSERT_NOT):
            continue
        else:
            raise _Unsupported
    return "".join(out)
