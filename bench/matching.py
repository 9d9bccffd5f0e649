"""Contact matching: accuracy on the labelled set, wrong matches on their own, and speed at 10,000 contacts.

    python bench/matching.py [--contacts 10000] [--queries 2000] [--seed 7]

Accuracy is measured against the seed CRM (data/crm), which the labelled cases are written for. Speed is
measured against the seed plus generated contacts (deterministic for a given --seed), with the index
built once beforehand: the labelled queries and random perturbed queries (nicknames, typos, "Last,
First", phone only, email only, first name + company, people who are not there). The random queries
also count wrong matches, since each one knows which contact it was made from.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.crm.matching import ContactIndex, Match, default_nicknames, frame_fingerprint, match_contact  # noqa: E402

CASES = ROOT / "tests" / "unit" / "crm" / "matching_cases.jsonl"

FIRST = ["Aaron", "Abigail", "Adam", "Adrian", "Agnes", "Aidan", "Akira", "Alan", "Albert", "Alice", "Alina",
         "Amir", "Amy", "Ana", "Andrew", "Angela", "Anthony", "Arjun", "Astrid", "Barbara", "Beatriz", "Benjamin",
         "Bruno", "Carla", "Carmen", "Catherine", "Charles", "Chiara", "Daniel", "Darius", "David", "Deborah",
         "Diego", "Dmitri", "Edward", "Elena", "Elif", "Emma", "Eric", "Erik", "Esther", "Fatima", "Felipe",
         "Francesca", "Gabriel", "George", "Grace", "Hana", "Hassan", "Helena", "Henry", "Igor", "Imani",
         "Irene", "Isabel", "Ivan", "Jack", "James", "Jennifer", "Jessica", "Joanna", "Johan", "Jonathan",
         "Jorge", "Joseph", "Julia", "Kai", "Karim", "Katherine", "Kenji", "Laura", "Leila", "Leon", "Lucia",
         "Luis", "Margaret", "Maria", "Mark", "Marta", "Matthew", "Michael", "Mina", "Nadia", "Nathan",
         "Nicholas", "Nikolai", "Olga", "Omar", "Pablo", "Patricia", "Paul", "Pedro", "Rachel", "Rafael",
         "Rebecca", "Richard", "Robert", "Rosa", "Samuel", "Sara", "Sebastian", "Sofia", "Stephen", "Susan",
         "Tariq", "Theresa", "Thomas", "Timothy", "Valentina", "Victor", "William", "Xin", "Yara", "Yusuf"]
LAST = ["Adams", "Aguilar", "Ahmed", "Ali", "Allen", "Alvarez", "Anderson", "Bauer", "Bell", "Bianchi",
        "Brown", "Campbell", "Carter", "Castro", "Choi", "Clark", "Collins", "Costa", "Cruz", "Davies", "Diaz",
        "Dubois", "Evans", "Fernandez", "Fischer", "Garcia", "Gomez", "Gonzalez", "Green", "Gupta", "Hall",
        "Hansen", "Harris", "Hernandez", "Hill", "Hoffmann", "Huang", "Ivanov", "Jackson", "Johnson", "Jones",
        "Kang", "Khan", "Kim", "King", "Klein", "Koch", "Kowalczyk", "Kumar", "Lee", "Lewis", "Li", "Lin",
        "Liu", "Lopez", "Martin", "Martinez", "Meyer", "Miller", "Mitchell", "Moore", "Murphy", "Nelson",
        "Nguyen", "Nielsen", "Ortiz", "Park", "Patel", "Perez", "Petrov", "Phillips", "Ramirez", "Reed",
        "Ricci", "Roberts", "Robinson", "Rodriguez", "Romero", "Ross", "Russo", "Sanchez", "Santos", "Schmidt",
        "Schneider", "Scott", "Silva", "Singh", "Smith", "Suzuki", "Takahashi", "Taylor", "Thomas", "Thompson",
        "Wagner", "Walker", "Wang", "Watanabe", "White", "Williams", "Wilson", "Wright", "Wu", "Yang", "Young",
        "Zhang", "Zhou"]
WORDS = ["Apex", "Arbor", "Atlas", "Aurora", "Beacon", "Birch", "Bolt", "Canyon", "Cedar", "Citadel", "Clear",
         "Coastal", "Comet", "Crest", "Delta", "Echo", "Ember", "Falcon", "Fern", "Forge", "Frontier", "Galaxy",
         "Harbor", "Horizon", "Indigo", "Iron", "Jade", "Juniper", "Keystone", "Lakeside", "Lighthouse", "Lunar",
         "Magnolia", "Meadow", "Metro", "Nova", "Oak", "Onyx", "Orbit", "Pioneer", "Prairie", "Quantum",
         "Quartz", "Raven", "Ridge", "River", "Sable", "Sage", "Sierra", "Silver", "Sparrow", "Spruce",
         "Stellar", "Stone", "Summit", "Terra", "Timber", "Union", "Vista", "Willow", "Zenith"]
KINDS = ["Analytics", "Biotech", "Brewing", "Capital", "Clinics", "Consulting", "Dynamics", "Energy",
         "Foods", "Freight", "Health", "Holdings", "Labs", "Logistics", "Media", "Networks", "Partners",
         "Robotics", "Software", "Systems", "Textiles", "Travel", "Ventures", "Works"]
SUFFIXES = ["Inc.", "LLC", "Ltd", "GmbH", "Corp.", "S.A.", "plc", "AG", "B.V.", "Co.", "", "Pty Ltd"]


def seed_frame() -> pd.DataFrame:
    """The seed contacts joined to their company names: id, name, email, company, phone."""
    contacts = pd.read_csv(ROOT / "data" / "crm" / "contacts.csv", dtype=str, keep_default_na=False)
    companies = pd.read_csv(ROOT / "data" / "crm" / "companies.csv", dtype=str, keep_default_na=False)
    names = dict(zip(companies["id"], companies["name"], strict=True))
    frame = contacts.assign(id=contacts["id"].astype(int), company=contacts["company_id"].map(names))
    return frame[["id", "name", "email", "company", "phone"]]


def synthetic_frame(total: int, rng: random.Random) -> pd.DataFrame:
    """The seed plus generated contacts (about 5 per generated company) up to `total` rows."""
    seed = seed_frame()
    companies = [f"{rng.choice(WORDS)} {rng.choice(KINDS)} {rng.choice(SUFFIXES)}".strip()
                 for _ in range(max(1, (total - len(seed)) // 5))]
    rows, phones = [], set()
    for i in range(len(seed) + 1, total + 1):
        first, last, company = rng.choice(FIRST), rng.choice(LAST), rng.choice(companies)
        domain = company.split()[0].lower() + company.split()[1].lower() + ".com"
        phone = f"+1 {rng.randint(200, 989)}-{rng.randint(200, 989)}-{rng.randint(0, 9999):04d}"
        if phone in phones or rng.random() < 0.1:
            phone = ""
        phones.add(phone)
        email = "" if rng.random() < 0.08 else f"{first.lower()}.{last.lower()}{i}@{domain}"
        rows.append((i, f"{first} {last}", email, company, phone))
    extra = pd.DataFrame(rows, columns=["id", "name", "email", "company", "phone"])
    return pd.concat([seed, extra], ignore_index=True)


def labelled_cases() -> list[dict]:
    """The labelled set shared with tests/unit/crm/test_matching.py."""
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge(case: dict, match: Match) -> tuple[bool, bool]:
    """(correct, wrong contact): a "matched" to a contact the case does not expect is the worst error."""
    expected = case["status"]
    wrong = match.status == "matched" and (expected != "matched" or match.contact_id != case.get("contact_id"))
    if match.status != expected:
        return False, wrong
    if expected == "matched":
        return match.contact_id == case["contact_id"], wrong
    return set(case.get("candidates", [])) <= set(match.candidate_ids), wrong


def accuracy(index: ContactIndex, cases: list[dict]) -> tuple[int, int, list[str], list[str]]:
    """Correct count, total, failing case names, wrong-contact case names."""
    correct, failed, wrong = 0, [], []
    for case in cases:
        ok, bad = judge(case, index.match(case["fields"]))
        correct += ok
        if not ok:
            failed.append(case["case"])
        if bad:
            wrong.append(case["case"])
    return correct, len(cases), failed, wrong


def _typo(text: str, rng: random.Random) -> str:
    """Swap two neighbouring letters in the longest word (a common slip)."""
    words = text.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) >= 5:
        j = rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _nickname(name: str) -> str:
    first, _, rest = name.partition(" ")
    nicks = default_nicknames().nicknames_of(first.lower())
    return f"{sorted(nicks)[0].title()} {rest}" if nicks else name


def random_queries(frame: pd.DataFrame, count: int, rng: random.Random) -> list[tuple[dict, object]]:
    """(fields, source contact id or None for a person not in the CRM), perturbed in everyday ways."""
    records = frame.to_dict("records")
    existing = set(frame["name"].str.lower())
    out: list[tuple[dict, object]] = []
    while len(out) < count:
        r = rng.choice(records)
        kind = rng.randrange(9)
        first, _, last = r["name"].partition(" ")
        fields = {
            0: {"name": r["name"], "company": r["company"]},
            1: {"name": _nickname(r["name"]), "company": r["company"]},
            2: {"name": _typo(r["name"], rng), "company": r["company"]},
            3: {"name": f"{last}, {first}", "company": r["company"].split()[0]},
            4: {"phone": r["phone"]},
            5: {"email": r["email"].upper()},
            6: {"name": first, "company": r["company"]},
            7: {"name": r["name"]},
        }.get(kind)
        if fields is None:  # somebody who is not in the CRM, at a company that is
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            if name.lower() in existing:
                continue
            out.append(({"name": name, "company": r["company"]}, None))
            continue
        if any(not str(v) for v in fields.values()):
            continue
        out.append((fields, r["id"]))
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    cases = labelled_cases()

    seed_index = ContactIndex(seed_frame())
    correct, total, failed, wrong = accuracy(seed_index, cases)
    print(f"labelled set (seed CRM, {len(seed_index)} contacts): {correct}/{total} correct "
          f"({100 * correct / total:.1f}%)")
    print(f"  wrong-contact matches: {len(wrong)}   (target 0){'  ' + ', '.join(wrong) if wrong else ''}")
    if failed:
        print(f"  failing: {', '.join(failed)}")

    frame = synthetic_frame(args.contacts, rng)
    started = time.perf_counter()
    index = ContactIndex(frame)
    build_ms = (time.perf_counter() - started) * 1000
    print(f"\nindex over {len(index):,} contacts: built once in {build_ms:.0f} ms")

    correct_10k, _, failed_10k, wrong_10k = accuracy(index, cases)
    print(f"labelled set against {len(index):,} contacts: {correct_10k}/{total} correct, wrong-contact "
          f"matches: {len(wrong_10k)}" + (f"  (differs on: {', '.join(failed_10k)})" if failed_10k else ""))

    randoms = random_queries(frame, args.queries, rng)
    queries = [(c["fields"], None, True) for c in cases] + [(f, src, False) for f, src in randoms]
    timings, outcomes, wrong_random = [], {"matched": 0, "ambiguous": 0, "new": 0}, 0
    for fields, source, labelled in queries:
        t0 = time.perf_counter_ns()
        match = index.match(fields)
        timings.append((time.perf_counter_ns() - t0) / 1e6)
        outcomes[match.status] += 1
        if not labelled and match.status == "matched" and match.contact_id != source:
            wrong_random += 1
    print(f"time per match ({len(queries):,} queries: {len(cases)} labelled + {len(queries) - len(cases):,} "
          f"random): p50 {percentile(timings, 50):.2f} ms, p95 {percentile(timings, 95):.2f} ms, "
          f"max {max(timings):.2f} ms, mean {statistics.fmean(timings):.2f} ms   (target p50 <= 20 ms)")
    print(f"  outcomes: {outcomes}; random queries matched to a contact other than their source "
          f"(or matched when not in the CRM): {wrong_random}")

    started = time.perf_counter()
    frame_fingerprint(frame)
    hash_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for fields, _, _ in queries[:50]:
        match_contact(fields, frame)
    warm_ms = (time.perf_counter() - started) * 1000 / 50
    print(f"match_contact(fields, frame) without holding an index: {warm_ms:.2f} ms per call once cached "
          f"(content hash of the frame: {hash_ms:.1f} ms of it)")


if __name__ == "__main__":
    main()
