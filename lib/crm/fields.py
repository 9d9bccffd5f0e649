"""The team's own fields: a catalogue (TOML) of what Claude extracts beside the built-in fields.

    [[field]]
    key = "champion"                    # a Python identifier; the grid column and the history's field name
    label = "Champion"
    description = "Who inside the account sells for us"   # what Claude reads
    type = "text"                       # text | number | date | enumeration | boolean
    options = ["a", "b"]                # enumeration only
    entity = "deal"                     # contact | deal: the record it belongs to
    hubspot_property = "meddicc_champion"   # with HubSpot: the contact/deal property it is saved to

With the built-in CRM the values are kept in the `custom_values` table (with field history); with
HubSpot, in the named property. `config/fields.toml` is the default (empty); `SCRIBE_FIELD_CATALOGUE`
names another file, e.g. the shipped MEDDICC set `config/fields.meddicc.toml`.
"""

from __future__ import annotations

import keyword
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lib.core.errors import InvalidRecord
from lib.crm.records import ALL_FIELDS

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CATALOGUE = ROOT / "config" / "fields.toml"
TYPES = ("text", "number", "date", "enumeration", "boolean")
ENTITIES = ("contact", "deal")
PREFIX = "custom."  # field_history's field name for a catalogue field: custom.<key>


@dataclass(frozen=True)
class FieldDef:
    key: str
    label: str
    description: str
    type: str
    entity: str = "deal"
    options: tuple[str, ...] = ()
    hubspot_property: str | None = None

    @property
    def history_field(self) -> str:
        return PREFIX + self.key

    def problems(self, value: Any) -> list[str]:
        """What is wrong with a value for this field (empty: fine)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        if self.type == "number":
            try:
                Decimal(str(value))
            except InvalidOperation:
                return [f"'{value}' is not a number ({self.label})"]
        if self.type == "date" and not isinstance(value, date):
            try:
                date.fromisoformat(str(value)[:10])
            except ValueError:
                return [f"'{value}' is not a date ({self.label}; use YYYY-MM-DD)"]
        if self.type == "enumeration" and str(value) not in self.options:
            return [f"'{value}' is not one of {', '.join(self.options)} ({self.label})"]
        if self.type == "boolean" and str(value).lower() not in ("true", "false"):
            return [f"'{value}' is not yes/no ({self.label})"]
        return []


@dataclass(frozen=True)
class FieldCatalogue:
    fields: tuple[FieldDef, ...] = ()
    source: str = ""

    def __bool__(self) -> bool:
        return bool(self.fields)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fields]

    def get(self, key: str) -> FieldDef | None:
        return next((f for f in self.fields if f.key == key), None)

    def of(self, entity: str) -> list[FieldDef]:
        return [f for f in self.fields if f.entity == entity]

    def problems(self, values: dict[str, Any]) -> list[str]:
        return [p for f in self.fields if f.key in values for p in f.problems(values[f.key])]


EMPTY = FieldCatalogue()


def parse_catalogue(data: dict[str, Any], source: str = "") -> FieldCatalogue:
    """A catalogue from TOML data; InvalidRecord naming the field and what is wrong."""
    out: list[FieldDef] = []
    for n, raw in enumerate(data.get("field") or [], start=1):
        where = f"{source or 'field catalogue'}, field {n}"
        key = str(raw.get("key") or "").strip()
        if not key.isidentifier() or keyword.iskeyword(key) or not key.islower():
            raise InvalidRecord(f"{where}: key {key!r} must be a lower-case identifier (letters, digits, _).")
        if key in ALL_FIELDS or key in {f.key for f in out} or key in ("accept", "contact", "match", "confidence",
                                                                         "locked", "unlock", "check", "evidence"):
            raise InvalidRecord(f"{where}: key {key!r} is already taken.")
        ftype = str(raw.get("type") or "text")
        if ftype not in TYPES:
            raise InvalidRecord(f"{where}: type {ftype!r} is not one of {', '.join(TYPES)}.")
        options = tuple(str(o) for o in raw.get("options") or ())
        if ftype == "enumeration" and not options:
            raise InvalidRecord(f"{where}: an enumeration needs its options.")
        entity = str(raw.get("entity") or "deal")
        if entity not in ENTITIES:
            raise InvalidRecord(f"{where}: entity {entity!r} is not one of {', '.join(ENTITIES)}.")
        out.append(FieldDef(key=key, label=str(raw.get("label") or key), description=str(raw.get("description") or ""),
                            type=ftype, entity=entity, options=options,
                            hubspot_property=(str(raw["hubspot_property"]) if raw.get("hubspot_property") else None)))
    return FieldCatalogue(tuple(out), source)


def load_catalogue(path: Path | str | None = None) -> FieldCatalogue:
    """The catalogue at `path` (default config/fields.toml); a missing default file is an empty catalogue."""
    target = Path(path) if path else DEFAULT_CATALOGUE
    if not target.is_absolute():
        target = ROOT / target
    if not target.is_file():
        if path:
            raise InvalidRecord(f"The field catalogue {target} does not exist.",
                                "Fix SCRIBE_FIELD_CATALOGUE, or unset it for no custom fields.")
        return EMPTY
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRecord(f"The field catalogue {target.name} is not valid TOML ({exc}).") from exc
    return parse_catalogue(data, target.name)
