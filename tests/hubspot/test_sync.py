"""Mirror reads through the official client: a full read with associations, then incremental."""

from __future__ import annotations

from datetime import timedelta

from lib.crm.hubspot import SyncCursor, mirror


def seed_portal(portal, contacts=3):
    acme = portal.seed("companies", {"name": "Acme", "domain": "acme.com"})
    beta = portal.seed("companies", {"name": "Beta", "domain": "beta.io"})
    ids = []
    for i in range(contacts):
        cid = portal.seed("contacts", {"email": f"p{i}@acme.com", "firstname": f"P{i}", "lastname": "Lee"})
        portal.link("contacts", cid, "companies", acme if i % 2 == 0 else beta)
        ids.append(cid)
    deal = portal.seed("deals", {"dealname": "Acme expansion", "dealstage": "qualifiedtobuy", "amount": "12000"})
    portal.link("deals", deal, "contacts", ids[0])
    portal.link("deals", deal, "companies", acme)
    return {"acme": acme, "beta": beta, "contacts": ids, "deal": deal}


def test_initial_sync_reads_everything_with_associations(hubspot_server, hs):
    ids = seed_portal(hubspot_server.portal, contacts=250)
    result = mirror.sync(hs)
    assert result.full
    assert {k: len(v) for k, v in result.records.items()} == {"companies": 2, "contacts": 250, "deals": 1}
    first = next(r for r in result.records["contacts"] if r.id == ids["contacts"][0])
    assert first.get("email") == "p0@acme.com" and first.company_ids == (ids["acme"],)
    deal = result.records["deals"][0]
    assert deal.contact_ids == (ids["contacts"][0],) and deal.company_ids == (ids["acme"],)
    assert deal.get("dealstage") == "qualifiedtobuy" and deal.get("amount") == "12000"
    # list pages of 100 (the maximum): 1 + 3 + 1 requests
    assert hubspot_server.stats.by_route == {"GET list_objects": 5}
    assert result.cursor.since["contacts"] == max(r.updated_at for r in result.records["contacts"])


def test_incremental_sync_reads_only_what_changed(hubspot_server, hs):
    portal = hubspot_server.portal
    ids = seed_portal(portal)
    cursor = mirror.sync(hs).cursor
    hubspot_server.clock.advance(3600)
    portal.touch("contacts", ids["contacts"][1], {"jobtitle": "CFO"})
    portal.touch("deals", ids["deal"], {"dealstage": "contractsent"})
    new_contact = portal.seed("contacts", {"email": "new@beta.io", "firstname": "New"})
    portal.link("contacts", new_contact, "companies", ids["beta"])
    before = hubspot_server.stats.requests

    # the cursor survives JSON; no overlap, so only the record at the cursor's edge repeats (GTE)
    result = mirror.sync(hs, SyncCursor.from_json(cursor.to_json()), overlap=timedelta(0))

    assert not result.full
    edge_contact, = (r.id for r in mirror.read_all(hs, "contacts") if r.updated_at == cursor.since["contacts"])
    assert [r.id for r in result.records["contacts"]] == [edge_contact, ids["contacts"][1], new_contact]
    changed = {r.id: r for r in result.records["contacts"]}
    assert changed[ids["contacts"][1]].get("jobtitle") == "CFO"
    assert changed[new_contact].company_ids == (ids["beta"],)
    assert [r.id for r in result.records["deals"]] == [ids["deal"]]
    assert result.records["deals"][0].get("dealstage") == "contractsent"
    assert result.records["deals"][0].contact_ids == (ids["contacts"][0],)
    assert [r.id for r in result.records["companies"]] == [ids["beta"]]  # the edge company
    before = hubspot_server.stats.requests - before - 1  # minus read_all's one list call above
    # one search per kind, one associations batch read per associated kind that had changes
    assert before == 3 + 1 + 2
    assert result.cursor.since["contacts"] > cursor.since["contacts"]
    again = mirror.sync(hs, result.cursor, overlap=timedelta(0))
    assert [r.id for r in again.records["contacts"]] == [new_contact]  # nothing new: only the edge
    wide = mirror.sync(hs, result.cursor)  # the default 30 s overlap covers the search index's lag
    assert {r.id for r in wide.records["contacts"]} >= {ids["contacts"][1], new_contact}


def test_incremental_pages_with_after_and_restarts_past_the_search_cap(hubspot_server, hs, monkeypatch):
    import tests.hubspot.server as server_module

    monkeypatch.setattr(server_module, "SEARCH_CAP", 500)
    monkeypatch.setattr(mirror, "SEARCH_CAP", 500)
    portal = hubspot_server.portal
    for i in range(1150):
        portal.seed("contacts", {"email": f"c{i}@x.io"})
        if i % 7 == 0:
            hubspot_server.clock.advance(0.0005)  # some records share a millisecond
    since = hubspot_server.clock.start - timedelta(days=1)
    records = list(mirror.read_changed(hs, "contacts", since))
    assert len(records) == 1150 and len({r.id for r in records}) == 1150
    stamps = [r.updated_at for r in records]
    assert stamps == sorted(stamps)
    # 200 per search page, restarted at the cap; associations read 1,000 ids at a time
    assert hubspot_server.stats.by_route["POST assoc_batch_read"] == 2
    assert hubspot_server.stats.by_route["POST search"] >= 6


def test_read_records_leaves_out_unknown_and_archived(hubspot_server, hs):
    ids = seed_portal(hubspot_server.portal)
    hubspot_server.portal.objects["contacts"][ids["contacts"][2]].archived = True
    records = mirror.read_records(hs, "contacts", ids["contacts"] + ["999999"])
    assert [r.id for r in records] == ids["contacts"][:2]
    assert records[0].company_ids == (ids["acme"],)


def test_full_read_skips_archived_records_and_read_archived_lists_them(hubspot_server, hs):
    from lib.crm.hubspot import writes

    ids = seed_portal(hubspot_server.portal)
    writes.archive(hs, "contacts", ids["contacts"][0])
    assert [r.id for r in mirror.read_all(hs, "contacts")] == ids["contacts"][1:]
    archived = list(mirror.read_archived(hs, "contacts"))
    assert [r.id for r in archived] == [ids["contacts"][0]] and archived[0].archived


def test_search_filters_in_gt_neq_eq(hubspot_server, hs):
    """The server's search filters, driven through the client's search model."""
    portal = hubspot_server.portal
    ids = [portal.seed("contacts", {"email": f"f{i}@x.io", "jobtitle": t, "firstname": f"F{i}"})
           for i, t in enumerate(["CEO", "CTO", "CFO", "cto"])]
    hubspot_server.clock.advance(60)
    portal.touch("contacts", ids[2], {"phone": "123"})
    edge = portal.objects["contacts"][ids[1]].properties["lastmodifieddate"]

    def search(*filters, sorts=None):
        request = hs.model("contacts", "PublicObjectSearchRequest", filter_groups=[{"filters": list(filters)}],
                           sorts=sorts or [], properties=["jobtitle"], limit=200, after="0")
        return [r.id for r in hs.call("contacts", "search_api", "do_search", request, search=True).results]

    assert search({"propertyName": "jobtitle", "operator": "IN", "values": ["CTO", "CFO"]}) == ids[1:]
    assert search({"propertyName": "jobtitle", "operator": "EQ", "value": "cto"}) == [ids[1], ids[3]]
    assert search({"propertyName": "jobtitle", "operator": "NEQ", "value": "CTO"}) == [ids[0], ids[2]]
    assert search({"propertyName": "lastmodifieddate", "operator": "GT", "value": edge}) == [ids[2], ids[3]]
    assert search({"propertyName": "phone", "operator": "HAS_PROPERTY"}) == [ids[2]]
    assert search({"propertyName": "jobtitle", "operator": "IN", "values": ["CEO", "CFO"]},
                  sorts=[{"propertyName": "firstname", "direction": "DESCENDING"}]) == [ids[2], ids[0]]
