"""HubSpot mirror sync at scale, against the local HubSpot test server with HubSpot's limits applied.

    python bench/hubspot_sync.py [--contacts 10000] [--companies 2000] [--deals 3000] [--changes 100]
                                 [--tier starter|professional|enterprise] [--seed 7] [--no-pacing]

Initial sync (list endpoints, 100 per page, associations inline) then an incremental sync of
`--changes` records changed in HubSpot (search on last-modified, 200 per page, plus one
associations-v4 batch read per associated kind). The server enforces the tier's private-app limits
(burst per 10 s and daily) and the CRM search endpoints' 5 requests / s; the client paces itself
under the same numbers and backs off on 429.

The server runs on a virtual clock: real time, except that every wait (the client's pacing and
backoff) is skipped and added to the clock instead. "HubSpot time" is that clock's elapsed time
(what the sync would take against HubSpot at these limits, network latency not included), "wall"
is what this machine spent. Prints requests made against the minimum the API allows, and the
match time on the mirrored contacts (lib's ContactIndex, p50 over a sample of lookups).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.crm.hubspot import connect, mirror  # noqa: E402
from lib.crm.hubspot.mirror import ASSOC_BATCH, LIST_PAGE, SEARCH_PAGE  # noqa: E402
from tests.hubspot.server import HubSpotTestServer, Limits, VirtualClock  # noqa: E402

# HubSpot's documented limits for private apps (usage-guidelines page, "Increasing our API limits"
# changelog) and the CRM search endpoints' own limit (5 requests / s per account).
TIERS = {"starter": (100, 250_000), "professional": (190, 650_000), "enterprise": (190, 1_000_000)}
SEARCH_PER_S = 5
TOKEN = "pat-na1-bench-0000"
FIRST = ["Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lena", "Mateo",
         "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wes", "Xin", "Yara", "Zoe"]
LAST = ["Adams", "Borg", "Chen", "Diaz", "Eze", "Fox", "Garcia", "Haas", "Ito", "Jones", "Kim", "Lopez", "Moreau",
        "Novak", "Okafor", "Patel", "Quist", "Rossi", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Young"]


def seed(server: HubSpotTestServer, n_contacts: int, n_companies: int, n_deals: int, rng: random.Random) -> dict:
    portal = server.portal
    base = server.clock.start - timedelta(days=30)
    tick = iter(range(10**9))

    def at():  # records last modified over the past month, one every 10 s
        return base + timedelta(seconds=10 * next(tick))

    companies = [portal.seed("companies", {"name": f"Company {i:04d}", "domain": f"co{i:04d}.example"}, at=at())
                 for i in range(n_companies)]
    contacts = []
    for i in range(n_contacts):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = companies[i % n_companies]
        cid = portal.seed("contacts", {"firstname": first, "lastname": last, "phone": f"+1 555 {i:07d}",
                                       "email": f"{first}.{last}.{i}@co{i % n_companies:04d}.example".lower()}, at=at())
        portal.link("contacts", cid, "companies", company)
        contacts.append(cid)
    deals = []
    stages = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent"]
    for i in range(n_deals):
        did = portal.seed("deals", {"dealname": f"Deal {i}", "dealstage": stages[i % 4], "amount": str(1000 + i)}, at=at())
        portal.link("deals", did, "contacts", contacts[(i * 3) % n_contacts])
        portal.link("deals", did, "companies", companies[i % n_companies])
        deals.append(did)
    return {"contacts": contacts, "companies": companies, "deals": deals}


def change(server: HubSpotTestServer, ids: dict, n: int, rng: random.Random) -> dict[str, int]:
    """n records changed in HubSpot's UI: 60 % contacts, 25 % deals, 15 % companies."""
    split = {"contacts": round(n * 0.60), "deals": round(n * 0.25)}
    split["companies"] = n - sum(split.values())
    for kind, count in split.items():
        for rid in rng.sample(ids[kind], count):
            prop = {"contacts": "jobtitle", "deals": "dealstage", "companies": "city"}[kind]
            value = {"contacts": "Head of Ops", "deals": "decisionmakerboughtin", "companies": "Lisbon"}[kind]
            server.portal.touch(kind, rid, {prop: value})
    return split


def match_p50(records: dict, sample: int, rng: random.Random) -> tuple[float, int] | None:
    try:
        from lib.crm.matching import ContactIndex  # after the regrouping
    except ImportError:
        try:
            from lib.matching import ContactIndex
        except ImportError:
            return None
    import pandas as pd

    names = {c.id: c.get("name") for c in records["companies"]}
    frame = pd.DataFrame([{"id": int(c.id), "name": f"{c.get('firstname') or ''} {c.get('lastname') or ''}".strip(),
                           "email": c.get("email"), "phone": c.get("phone"),
                           "company": names.get(c.company_ids[0]) if c.company_ids else None}
                          for c in records["contacts"]])
    index = ContactIndex(frame)
    rows = frame.sample(n=min(sample, len(frame)), random_state=rng.randint(0, 10**6)).to_dict("records")
    times = []
    for row in rows:
        fields = {"name": row["name"], "company": row["company"]}
        started = time.perf_counter()
        index.match(fields)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), len(rows)


def store_sync(server: HubSpotTestServer, hs, clock: VirtualClock, ids: dict, args, rng: random.Random) -> None:
    """The same through Scribe's store (lib.crm.hubspot.store.HubSpotCrm): the mirror written into DuckDB,
    then an incremental sync, then matching on the store's contacts as the review does it."""
    import tempfile

    from lib.crm.hubspot.store import HubSpotCrm
    from lib.crm.matching import ContactIndex, contacts_frame
    from lib.services import open_database

    with tempfile.TemporaryDirectory() as tmp:
        crm = HubSpotCrm(open_database(Path(tmp) / "bench.duckdb"), hs)
        for label in ("store: initial sync into DuckDB", f"store: incremental sync of {args.changes} changes"):
            before, wall = server.stats.requests, time.perf_counter()
            result = crm.sync()
            wall = time.perf_counter() - wall
            print(f"{label}: {result.count():,} records, {server.stats.requests - before} requests, wall {wall:.1f} s")
            clock.advance(3600)
            change(server, ids, args.changes, rng)
        started = time.perf_counter()
        crm.refresh(max_age_s=0)  # what a review does when the mirror is older than its interval
        refresh_s = time.perf_counter() - started
        started = time.perf_counter()
        index = ContactIndex(contacts_frame(crm.contacts()))
        build_s = time.perf_counter() - started
        sample = rng.sample(crm.contacts(), min(args.matches, len(crm.contacts())))
        times = []
        for contact in sample:
            started = time.perf_counter()
            index.match({"name": contact.name, "company": contact.company})
            times.append((time.perf_counter() - started) * 1000)
        counts = crm.db.cursor().execute("SELECT (SELECT count(*) FROM contacts), (SELECT count(*) FROM companies), "
                                         "(SELECT count(*) FROM deals)").fetchone()
        print(f"store: mirror holds {counts[0]:,} contacts, {counts[1]:,} companies, {counts[2]:,} deals; "
              f"refresh before a review {refresh_s * 1000:.0f} ms; index build {build_s * 1000:.0f} ms; "
              f"match p50 {statistics.median(times):.2f} ms over {len(times)} lookups")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--companies", type=int, default=2_000)
    parser.add_argument("--deals", type=int, default=3_000)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--tier", choices=sorted(TIERS), default="starter")
    parser.add_argument("--matches", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-pacing", action="store_true",
                        help="the client does not pace itself: only HubSpot's 429s and the backoff hold it back")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    burst, daily = TIERS[args.tier]

    clock = VirtualClock(realtime=True)
    server = HubSpotTestServer(token=TOKEN, clock=clock, limits=Limits(burst_per_10s=burst, search_per_s=SEARCH_PER_S,
                                                                       daily=daily)).start()
    try:
        ids = seed(server, args.contacts, args.companies, args.deals, rng)
        pacing = (None, None) if args.no_pacing else (burst, SEARCH_PER_S)
        hs = connect(TOKEN, server.base_url, clock=clock, burst_per_10s=pacing[0], search_per_s=pacing[1])
        print(f"HubSpot test server, tier {args.tier}: {burst} requests / 10 s, {daily:,} / day, "
              f"search {SEARCH_PER_S} / s; virtual clock (waits are skipped and counted, not slept); "
              f"client pacing {'off' if args.no_pacing else 'on'}")
        print(f"portal: {args.contacts:,} contacts, {args.companies:,} companies, {args.deals:,} deals")

        def run(label, fn, minimum):
            before = server.stats.requests, server.stats.rate_limited + server.stats.search_limited, clock.monotonic()
            wall = time.perf_counter()
            result = fn()
            wall = time.perf_counter() - wall
            requests = server.stats.requests - before[0]
            limited = server.stats.rate_limited + server.stats.search_limited - before[1]
            hubspot_time = clock.monotonic() - before[2]
            print(f"{label}: {result.count():,} records; HubSpot time {hubspot_time:.1f} s (of which waiting "
                  f"under the limits {hubspot_time - wall:.1f} s), wall {wall:.1f} s; requests {requests} "
                  f"(minimum {minimum}, ratio {requests / minimum:.2f}); 429s {limited}")
            return result

        minimum_full = sum(math.ceil(n / LIST_PAGE) for n in (args.contacts, args.companies, args.deals))
        full = run("initial sync", lambda: mirror.sync(hs), minimum_full)

        clock.advance(3600)
        split = change(server, ids, args.changes, rng)
        # per kind: the searches, plus one associations batch read per associated kind that changed
        minimum_incr = sum(math.ceil(max(1, n) / SEARCH_PAGE) for n in split.values()) + sum(
            math.ceil(split[k] / ASSOC_BATCH) * len(mirror.ASSOCIATED[k]) for k in split)
        incr = run(f"incremental sync of {args.changes} changes {split}",
                   lambda: mirror.sync(hs, full.cursor), minimum_incr)
        changed = {k: len(v) for k, v in incr.records.items()}
        print(f"  records read back by kind: {changed} (the records at the cursor's edge and those inside "
              f"the 30 s overlap are re-read on purpose)")

        matched = match_p50(full.records, args.matches, rng)
        if matched is None:
            print("match time: skipped (no ContactIndex importable)")
        else:
            p50, n = matched
            print(f"match time on the mirrored {len(full.records['contacts']):,} contacts: p50 {p50:.2f} ms "
                  f"over {n} lookups (name + company)")
        store_sync(server, hs, clock, ids, args, rng)
        print(f"daily budget used: {server.stats.requests:,} of {daily:,} requests "
              f"({server.stats.requests / daily:.3%})")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
