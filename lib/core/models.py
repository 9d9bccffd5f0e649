"""What Scribe knows about each Claude model, from one table: `data/models.toml`.

Each `[models.<id>]` row holds the model's prices (read by lib.usage.pricing) and its `facts`: its
line on the step-down ladder, context window, maximum output and minimum cacheable prompt length,
with the source they were taken from. A fact nobody could verify is left out, and the readers below
say what they assume then. The Models API (`GET /v1/models`) wins over this table where it answers
(context window and max output); this table is what is known without a call.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).resolve().parents[2] / "data" / "models.toml"
LADDER = ("fable", "opus", "sonnet", "haiku")  # most to least expensive line: budgets step down it
UNKNOWN_MIN_CACHEABLE = 4096  # the largest documented minimum: never promise a cache hit we cannot know
_DATED_ID = re.compile(r"^(?P<base>.+)-\d{8}$")


@dataclass(frozen=True)
class ModelFacts:
    id: str
    name: str
    line: str | None = None
    context_window: int | None = None
    max_output: int | None = None
    min_cacheable: int | None = None
    source: str | None = None


class ModelTable:
    """The table's rows by id, with aliases and dated snapshots resolved to their row."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self._facts: dict[str, ModelFacts] = {}
        self._ids: dict[str, str] = {}
        for model, row in raw.get("models", {}).items():
            facts = dict(row.get("facts", {}))
            self._facts[model] = ModelFacts(id=model, name=row.get("name", model), **facts)
            for name in (model, *row.get("aliases", [])):
                self._ids[name] = model

    @classmethod
    def from_toml(cls, path: Path) -> ModelTable:
        with path.open("rb") as handle:
            from decimal import Decimal

            return cls(tomllib.load(handle, parse_float=Decimal))

    def resolve(self, model: str) -> str | None:
        """The row for `model`: itself, an alias, or its base id without a date suffix."""
        if model in self._ids:
            return self._ids[model]
        dated = _DATED_ID.match(model)
        return self._ids.get(dated["base"]) if dated else None

    def facts(self, model: str) -> ModelFacts | None:
        key = self.resolve(model)
        return self._facts.get(key) if key else None

    def line(self, model: str) -> str | None:
        """The model's line on the ladder (fable, opus, sonnet, haiku), or None if it is not on it."""
        found = self.facts(model)
        if found is not None:
            return found.line
        # a model newer than the table: its id names its line ("claude-opus-9" is an Opus)
        for line in ("fable", "mythos", "opus", "sonnet", "haiku"):
            if line in model:
                return "fable" if line == "mythos" else line
        return None

    def min_cacheable(self, model: str) -> int:
        """The shortest prompt prefix the model caches; the largest known minimum when not documented."""
        found = self.facts(model)
        return found.min_cacheable if found and found.min_cacheable else UNKNOWN_MIN_CACHEABLE

    def max_output(self, model: str) -> int | None:
        found = self.facts(model)
        return found.max_output if found else None

    def context_window(self, model: str) -> int | None:
        found = self.facts(model)
        return found.context_window if found else None


@cache
def model_table(path: Path = TABLE_PATH) -> ModelTable:
    """The table, read once per process."""
    return ModelTable.from_toml(path)
