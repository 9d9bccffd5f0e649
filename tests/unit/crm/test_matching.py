"""Contact matching against the seed CRM: the labelled hard cases, the no-wrong-match rule, the normalisers,
and the seed data the cases rely on."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest

from lib.crm.matching import (
    ContactIndex,
    Match,
    Nicknames,
    default_nicknames,
    email_domain,
    email_mailbox,
    fold,
    frame_fingerprint,
    index_for,
    match_contact,
    normalize_company,
    normalize_email,
    normalize_phone,
    parse_name,
)

ROOT = Path(__file__).resolve().parents[3]
CRM = ROOT / "data" / "crm"
CASES = [json.loads(line) for line in (Path(__file__).parent / "matching_cases.jsonl").read_text(
    encoding="utf-8").splitlines() if line.strip()]


def seed_frame() -> pd.DataFrame:
    """The seed contacts joined to their company names, as lib.crm.matching expects them."""
    contacts = pd.read_csv(CRM / "contacts.csv", dtype=str, keep_default_na=False)
    companies = pd.read_csv(CRM / "companies.csv", dtype=str, keep_default_na=False)
    names = dict(zip(companies["id"], companies["name"], strict=True))
    frame = contacts.assign(id=contacts["id"].astype(int), company=contacts["company_id"].map(names))
    return frame[["id", "name", "email", "company", "phone"]]


@pytest.fixture(scope="module")
def index() -> ContactIndex:
    return ContactIndex(seed_frame())


# --- the labelled set ---------------------------------------------------------------------------------


def test_labelled_set_is_big_enough_and_names_are_unique() -> None:
    names = [c["case"] for c in CASES]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert {c["status"] for c in CASES} == {"matched", "new", "ambiguous"}


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_labelled_case(index: ContactIndex, case: dict) -> None:
    match = index.match(case["fields"])
    assert match.status == case["status"], match.reasons
    if case["status"] == "matched":
        assert match.contact_id == case["contact_id"], match.reasons
    else:
        assert match.contact_id is None
    if case["status"] == "ambiguous":
        assert set(case["candidates"]) <= set(match.candidate_ids), match.reasons


def test_no_case_is_matched_to_the_wrong_contact(index: ContactIndex) -> None:
    """The rule above all: a "matched" must be the expected contact; elsewhere, no "matched" at all."""
    wrong = []
    for case in CASES:
        match = index.match(case["fields"])
        if match.status == "matched" and (case["status"] != "matched" or match.contact_id != case["contact_id"]):
            wrong.append((case["case"], match.contact_id))
    assert wrong == []


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_match_is_well_formed(index: ContactIndex, case: dict) -> None:
    match = index.match(case["fields"])
    scores = [c.score for c in match.candidates]
    assert scores == sorted(scores, reverse=True)
    assert len(match.candidates) <= 5
    assert all(0.0 <= s <= 1.0 for s in [match.score, *scores])
    assert match.reasons and all(isinstance(r, str) and r for r in match.reasons)
    if match.status == "matched":
        assert match.candidates[0].id == match.contact_id
        assert match.score == match.candidates[0].score
    if match.status == "ambiguous":
        assert match.candidates


UNRELATED_FIRST = ["Gustavo", "Wilhelmina", "Thaddeus", "Ophelia", "Bartholomew"]
UNRELATED_LAST = ["Quigley", "Featherstone", "Zabriskie"]


def test_a_colleague_or_namesake_at_the_same_company_is_never_matched(index: ContactIndex) -> None:
    """For every seed contact: another first name with their surname, or their first name with another
    surname, at their company, is somebody else, and must never be "matched"."""
    wrong = []
    for row in seed_frame().itertuples():
        first, _, last = row.name.partition(" ")
        queries = [f"{other} {last}" for other in UNRELATED_FIRST] + [f"{first} {other}" for other in UNRELATED_LAST]
        for name in queries:
            match = index.match({"name": name, "company": row.company})
            if match.status == "matched":
                wrong.append((name, row.company, match.contact_id))
    assert wrong == []


# --- reasons a rep reads ---------------------------------------------------------------------------


def test_reasons_say_why(index: ContactIndex) -> None:
    assert index.match({"email": "priya.raman@helios-solar.ch"}).reasons[0] == "same email"
    bob = index.match({"name": "Bob Chen", "company": "Initech"})
    assert bob.reasons == ["name ≈ Robert Chen (nickname Bob)", "company matches Initech, Inc. (suffix ignored)"]
    assert index.match({"phone": "020 7946 0958"}).reasons == ["same phone"]
    priya = index.match({"name": "Priya", "company": "Helios Solar"})
    assert "the only Priya at Helios Solar AG" in priya.reasons
    jose = index.match({"name": "Jose Nunez", "company": "Bluewater"})
    assert "name = José Núñez (accents ignored)" in jose.reasons


def test_different_email_is_spelled_out(index: ContactIndex) -> None:
    match = index.match({"name": "Robert Chen", "company": "Initech", "email": "bob.chen@gmail.com"})
    assert match.status == "ambiguous"
    assert match.candidates[0].id == 3
    assert "different email: given bob.chen@gmail.com, CRM has robert.chen@initech.com" in match.candidates[0].reasons


def test_new_person_lists_the_near_misses_with_the_conflict(index: ContactIndex) -> None:
    match = index.match({"name": "David Chen", "company": "Initech"})
    assert match.status == "new"
    assert set(match.candidate_ids) == {3, 4}
    assert all("different first name" in " ".join(c.reasons) for c in match.candidates)


def test_duplicates_are_called_duplicates(index: ContactIndex) -> None:
    match = index.match({"name": "Michael Brennan", "company": "Ironbridge"})
    assert "they look like duplicate records of one person" in match.reasons
    namesakes = index.match({"name": "John Smith"})
    assert "they look like duplicate records of one person" not in namesakes.reasons


# --- the entry point and the index itself ------------------------------------------------------------


def test_match_contact_equals_index_match_and_reuses_the_index() -> None:
    frame = seed_frame()
    fields = {"name": "Liz Moreno", "company": "Kestrel"}
    assert match_contact(fields, frame) == ContactIndex(frame).match(fields)
    assert index_for(frame) is index_for(frame.copy())


def test_an_edited_frame_gets_a_fresh_index() -> None:
    frame = seed_frame()
    before = frame_fingerprint(frame)
    frame.loc[frame["id"] == 12, "email"] = "priya@helios.example"
    assert frame_fingerprint(frame) != before
    assert match_contact({"email": "priya@helios.example"}, frame).contact_id == 12


def test_string_ids_missing_columns_and_nan_values() -> None:
    frame = pd.DataFrame({"id": ["c-1", "c-2"], "name": ["Ana Silva", None], "email": [float("nan"), "x@y.com"]})
    index = ContactIndex(frame)
    assert index.match({"name": "Ana Silva"}).contact_id == "c-1"
    assert index.match({"email": "X@Y.COM"}).contact_id == "c-2"
    # The CRM does not know where Ana works, so a company in the note cannot confirm her: ask.
    assert index.match({"name": "Ana Silva", "company": "Anything"}).status == "ambiguous"


def test_empty_crm() -> None:
    index = ContactIndex(pd.DataFrame({"id": [], "name": [], "email": [], "company": [], "phone": []}))
    match = index.match({"name": "Robert Chen", "company": "Initech", "phone": "512 555 0187"})
    assert match == Match(status="new", reasons=match.reasons)


def test_match_is_frozen(index: ContactIndex) -> None:
    match = index.match({"name": "Bob Chen", "company": "Initech"})
    with pytest.raises(ValueError, match="frozen"):
        match.status = "new"  # type: ignore[misc]


# --- normalisers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "folded"), [
    ("José Núñez", "jose nunez"), ("Zoë MÜLLER", "zoe muller"), ("Søren Østergaard", "soren ostergaard"),
    ("Łukasz", "lukasz"), ("Straße", "strasse"), ("François Lefèvre", "francois lefevre"),
])
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(("raw", "key"), [
    ("Acme Corp.", "acme"), ("ACME Corporation", "acme"), ("Initech, Inc.", "initech"), ("Initech", "initech"),
    ("Globex GmbH", "globex"), ("Umbrella Ltd", "umbrella"), ("Umbrella Limited", "umbrella"),
    ("Orchard & Finch LLP", "orchard finch"), ("Orchard and Finch", "orchard finch"),
    ("Kowloon Trading Co., Ltd.", "kowloon trading"), ("Aurora Textiles S.p.A.", "aurora textiles"),
    ("Zephyr Wind Power A/S", "zephyr wind power"), ("Tandem Robotics B.V.", "tandem robotics"),
    ("Maison Lefèvre SA", "maison lefevre"), ("Saffron Hospitality Pty Ltd", "saffron hospitality"),
    ("The Quillon Insurance Company", "quillon insurance"), ("Inc.", "inc"), ("", ""), (None, ""),
])
def test_normalize_company(raw: str | None, key: str) -> None:
    assert normalize_company(raw) == key


@pytest.mark.parametrize(("raw", "key"), [
    ("+1 415-555-0134", "155550134"), ("(415) 555 0134", "155550134"), ("415.555.0134 x12", "155550134"),
    ("+44 20 7946 0958", "079460958"), ("020 7946 0958", "079460958"), ("+44 (0)20 7946 0958", "079460958"),
    ("+49 89 2019 4471", "920194471"), ("089 2019 4471", "920194471"), ("555-0134", ""), ("", ""),
    (None, ""), (4155550134, "155550134"), (float("nan"), ""),
])
def test_normalize_phone(raw: object, key: str) -> None:
    assert normalize_phone(raw) == key


def test_email_normalisers() -> None:
    assert normalize_email("  <Bob.Chen@Initech.COM> ") == "bob.chen@initech.com"
    assert normalize_email("mailto:bob@initech.com") == "bob@initech.com"
    assert normalize_email("not-an-email") == normalize_email(None) == normalize_email("bob@") == ""
    assert email_mailbox("bob+crm@initech.com") == "bob@initech.com"
    assert email_domain("bob@initech.com") == "initech.com"
    assert email_domain("bob@gmail.com") == ""  # free mail says nothing about the employer


@pytest.mark.parametrize(("raw", "first", "rest", "reordered"), [
    ("Robert Chen", "robert", ("chen",), False),
    ("Chen, Robert", "robert", ("chen",), True),
    ("Núñez, José", "jose", ("nunez",), True),
    ("Dr. Patricia Nguyen", "patricia", ("nguyen",), False),
    ("John Q. Smith Jr.", "john", ("smith",), False),
    ("John Smith, Jr.", "john", ("smith",), False),
    ("Robert (Bob) Chen", "robert", ("chen",), False),
    ("Katherine O'Neill", "katherine", ("oneill",), False),
    ("Ahmed Al-Sayed", "ahmed", ("al", "sayed"), False),
    ("Priya", "priya", (), False),
])
def test_parse_name(raw: str, first: str, rest: tuple[str, ...], reordered: bool) -> None:
    name = parse_name(raw)
    assert name is not None
    assert (name.first, name.rest, name.reordered) == (first, rest, reordered)


def test_parse_name_nothing_left() -> None:
    assert parse_name("") is None
    assert parse_name(None) is None
    assert parse_name("  ,  ") is None


def test_surname_forms() -> None:
    name = parse_name("Ahmed Al-Sayed")
    assert name is not None and name.surname_forms == {"alsayed", "sayed"}  # "al" is a particle


def test_nicknames() -> None:
    nick = default_nicknames()
    assert nick.related("bob", "robert") and nick.related("robert", "bob")
    assert nick.related("bob", "rob")  # both short for Robert
    assert nick.related("alex", "alejandro") and nick.related("alex", "alexander")
    assert not nick.related("alejandro", "alexander")  # two formal names that share a nickname
    assert not nick.related("robert", "richard")
    assert nick.formals("bill") == {"bill", "william"}
    custom = Nicknames([("Guillermo", "Memo")])
    assert custom.related("memo", "guillermo") and not custom.related("bob", "robert")


# --- the seed data the cases rely on ---------------------------------------------------------------


def _rows(name: str) -> list[dict[str, str]]:
    with (CRM / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_seed_csvs_are_consistent() -> None:
    companies, contacts = _rows("companies.csv"), _rows("contacts.csv")
    deals, interactions = _rows("deals.csv"), _rows("interactions.csv")
    company_ids, contact_ids = {c["id"] for c in companies}, {c["id"] for c in contacts}
    assert len(companies) == 60 and len(contacts) == 200
    assert len(company_ids) == 60 and len(contact_ids) == 200
    assert {c["company_id"] for c in contacts} <= company_ids
    assert {d["stage"] for d in deals} == {"lead", "qualified", "demo", "proposal", "negotiation",
                                          "closed_won", "closed_lost"}
    assert all(d["company_id"] in company_ids and d["contact_id"] in contact_ids for d in deals)
    assert {i["contact_id"] for i in interactions} <= contact_ids
    assert {i["kind"] for i in interactions} == {"call", "meeting", "email"}
    assert all(i["ts"].endswith("Z") and i["ts"] < "2026-11-26" for i in interactions)


def test_seed_csvs_are_reproducible(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("seed_generate", CRM / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("companies.csv", "contacts.csv", "deals.csv", "interactions.csv"):
        assert (tmp_path / name).read_bytes() == (CRM / name).read_bytes(), name
