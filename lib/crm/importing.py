"""Contacts from a CSV export: Scribe's own columns, HubSpot's or Salesforce's, checked row by row.

Reading never writes: it returns the rows that can be imported and the rows that cannot, each with
its line number and reason. `CrmStore.import_contacts` then writes the good rows in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from lib.core.errors import InputRejected
from lib.core.text import decode_upload, looks_like_email

# Export column names, lower-cased, by the field they fill (Scribe, HubSpot, Salesforce report and API).
COLUMN_ALIASES = {
    "name": ("name", "full name", "contact name", "contact: full name"),
    "first_name": ("first name", "firstname", "first_name", "given name"),
    "last_name": ("last name", "lastname", "last_name", "surname", "family name"),
    "email": ("email", "email address", "e-mail", "contact: email"),
    "phone": ("phone", "phone number", "business phone", "mobile", "mobile phone number", "mobilephone"),
    "title": ("title", "job title", "jobtitle", "position"),
    "company": ("company", "company name", "account name", "account.name", "accountname", "associated company",
                "organization"),
    "owner": ("owner", "contact owner", "owner name", "hubspot owner", "owner.name"),
}
FORMAT_HINTS = {"Record ID": "HubSpot", "Contact ID": "Salesforce", "AccountId": "Salesforce",
                "Account Name": "Salesforce", "Company Name": "HubSpot", "Job Title": "HubSpot"}


@dataclass
class ImportPreview:
    """What a CSV would import: the good rows, the bad ones with reasons, and the columns used."""

    rows: list[dict[str, str | None]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    source: str = "CSV"


def map_columns(header: list[str]) -> dict[str, str]:
    """Field -> the CSV column that fills it (the first alias found)."""
    by_lower = {h.strip().lower(): h for h in header}
    mapping = {}
    for field_name, aliases in COLUMN_ALIASES.items():
        column = next((by_lower[a] for a in aliases if a in by_lower), None)
        if column is not None:
            mapping[field_name] = column
    return mapping


def read_contacts_csv(data: bytes, name: str = "contacts.csv", known_emails: set[str] | None = None
                      ) -> ImportPreview:
    """Parse and check a contacts CSV; raises InputRejected only when the file as a whole is unusable."""
    text = decode_upload(data, name)
    try:
        records = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise InputRejected(f"{name} is not a readable CSV file ({exc}).", "Check its quoting and save it again.") from exc
    if not records:
        raise InputRejected(f"{name} is empty.")
    header, body = records[0], records[1:]
    mapping = map_columns(header)
    if "email" not in mapping and "name" not in mapping and "last_name" not in mapping:
        raise InputRejected(f"{name} has no name or email column.",
                            f"Expected columns such as 'Name', 'First Name'/'Last Name', 'Email' (found: {', '.join(header)}).")
    preview = ImportPreview(mapping=mapping, source=_source(header))
    seen = {e.lower() for e in (known_emails or set())}
    index = {column: i for i, column in enumerate(header)}
    for line, values in enumerate(body, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            preview.bad.append((line, f"{len(values)} values for {len(header)} columns"))
            continue
        row = {f: (values[index[c]].strip() or None) for f, c in mapping.items()}
        reason = _problem(row, seen)
        if reason:
            preview.bad.append((line, reason))
            continue
        if row.get("email"):
            seen.add(row["email"].lower())
        preview.rows.append(_contact(row))
    return preview


def _problem(row: dict[str, str | None], seen: set[str]) -> str | None:
    name = row.get("name") or " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
    if not name:
        return "no name"
    email = row.get("email")
    if email and not looks_like_email(email):
        return f"'{email}' is not a valid email address"
    if email and email.lower() in seen:
        return f"{email} is already in the CRM or earlier in this file"
    return None


def _contact(row: dict[str, str | None]) -> dict[str, str | None]:
    name = row.get("name") or " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
    return {"name": name, "email": row.get("email"), "phone": row.get("phone"), "title": row.get("title"),
            "company": row.get("company"), "owner": row.get("owner")}


def _source(header: list[str]) -> str:
    for column in header:
        if column.strip() in FORMAT_HINTS:
            return f"{FORMAT_HINTS[column.strip()]} export"
    return "CSV"
