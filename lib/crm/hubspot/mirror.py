"""Reads for the local mirror: a full read, then incremental reads of what changed since a cursor.

Full read: the objects' list endpoint (100 per page, the most it allows), with the associations
inline, so one request brings 100 records and their links. Incremental: the search endpoint on the
object's last-modified property (`lastmodifieddate` for contacts, `hs_lastmodifieddate` for
companies and deals), GTE the cursor less `overlap`, sorted ascending, 200 per page (the search
maximum), `after` paging; search returns no associations, so each page's links come from one
associations-v4 batch read per associated kind. HubSpot caps one search at 10,000 results; past
that the read restarts from the last timestamp seen, skipping ids it already returned.

Archived records do not show up in searches: `read_archived` lists them (archived=true) so the
mirror can drop them; run it beside the incremental sync, e.g. nightly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from lib.crm.hubspot.client import HubSpot
from lib.crm.hubspot.models import (
    ASSOCIATED,
    DEFAULT_PROPERTIES,
    KINDS,
    MODIFIED_PROPERTY,
    Record,
    SyncCursor,
    SyncResult,
)

LIST_PAGE = 100        # the list endpoint's maximum
SEARCH_PAGE = 200      # the search endpoint's maximum
SEARCH_CAP = 10_000    # results one search query can page through
ASSOC_BATCH = 1_000    # ids per associations-v4 batch read
DEFAULT_OVERLAP = timedelta(seconds=30)  # HubSpot's search index trails writes by a few seconds


def read_all(hs: HubSpot, kind: str, properties: Iterable[str] | None = None) -> Iterator[Record]:
    """Every live record of `kind` (contacts | companies | deals) with its associations."""
    props = list(properties or DEFAULT_PROPERTIES[kind])
    associations = list(ASSOCIATED[kind])
    after = None
    while True:
        kwargs: dict[str, Any] = {"limit": LIST_PAGE, "properties": props, "archived": False}
        if associations:
            kwargs["associations"] = associations
        if after:
            kwargs["after"] = after
        page = hs.call(kind, "basic_api", "get_page", **kwargs)
        for item in page.results:
            yield to_record(kind, item, inline_associations(item))
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return


def read_archived(hs: HubSpot, kind: str) -> Iterator[Record]:
    """Archived records of `kind` (the list endpoint's archived=true), for the mirror to drop:
    search never returns them, so run this beside the incremental sync (e.g. nightly)."""
    after = None
    while True:
        kwargs: dict[str, Any] = {"limit": LIST_PAGE, "properties": [MODIFIED_PROPERTY[kind]], "archived": True}
        if after:
            kwargs["after"] = after
        page = hs.call(kind, "basic_api", "get_page", **kwargs)
        for item in page.results:
            yield to_record(kind, item, {})
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            return


def read_changed(hs: HubSpot, kind: str, since: datetime, properties: Iterable[str] | None = None,
                 *, with_associations: bool = True) -> Iterator[Record]:
    """Records of `kind` whose last-modified time is at or after `since`, oldest first.

    Associations are fetched for up to 1,000 records at a time (the v4 batch read's size), so a
    large change set costs one associations request per 5 search pages, not one per page."""
    props = list(properties or DEFAULT_PROPERTIES[kind])
    if MODIFIED_PROPERTY[kind] not in props:
        props.append(MODIFIED_PROPERTY[kind])
    pending: list[Any] = []
    for item in _search_since(hs, kind, since, props):
        pending.append(item)
        if len(pending) >= (ASSOC_BATCH if with_associations else 1):
            yield from _with_links(hs, kind, pending, with_associations)
            pending = []
    yield from _with_links(hs, kind, pending, with_associations)


def _with_links(hs: HubSpot, kind: str, items: list[Any], with_associations: bool) -> Iterator[Record]:
    links = _batch_associations(hs, kind, [i.id for i in items]) if with_associations and items else {}
    for item in items:
        yield to_record(kind, item, links.get(item.id, {}))


def _search_since(hs: HubSpot, kind: str, since: datetime, props: list[str]) -> Iterator[Any]:
    """The search's raw results, GTE `since` ascending; past the 10,000 cap it searches again from
    the last timestamp seen, skipping the ids it already gave at that timestamp."""
    modified = MODIFIED_PROPERTY[kind]
    seen_at_edge: set[str] = set()
    edge: datetime | None = None
    start = since
    while True:
        offset, restart = 0, False
        while True:
            request = hs.model(kind, "PublicObjectSearchRequest", filter_groups=[{
                "filters": [{"propertyName": modified, "operator": "GTE", "value": _ms(start)}]}],
                sorts=[{"propertyName": modified, "direction": "ASCENDING"}],
                properties=props, limit=SEARCH_PAGE, after=str(offset))
            page = hs.call(kind, "search_api", "do_search", request, search=True)
            for item in page.results:
                stamp = _modified(kind, item)
                if stamp == edge and item.id in seen_at_edge:
                    continue
                if stamp != edge:
                    edge, seen_at_edge = stamp, set()
                seen_at_edge.add(item.id)
                yield item
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                break
            offset = int(after)
            if offset + SEARCH_PAGE > SEARCH_CAP:
                restart = True
                break
        if not restart or edge is None or edge == start:
            return
        start = edge


def sync(hs: HubSpot, cursor: SyncCursor | None = None, *, kinds: Iterable[str] = KINDS,
         properties: dict[str, Iterable[str]] | None = None, overlap: timedelta = DEFAULT_OVERLAP) -> SyncResult:
    """A full read when there is no cursor (or a kind is new to it), else what changed since it.

    The new cursor is HubSpot's own latest timestamp per kind (never this machine's clock)."""
    cursor = cursor or SyncCursor()
    calls_before = hs.calls
    records: dict[str, list[Record]] = {}
    new = SyncCursor(dict(cursor.since))
    full = True
    for kind in kinds:
        props = (properties or {}).get(kind)
        if kind in cursor.since:
            full = False
            rows = list(read_changed(hs, kind, cursor.since[kind] - overlap, props))
        else:
            rows = list(read_all(hs, kind, props))
        records[kind] = rows
        stamps = [r.updated_at for r in rows if r.updated_at] + ([cursor.since[kind]] if kind in cursor.since else [])
        new.since[kind] = max(stamps) if stamps else cursor.since.get(kind, datetime(1970, 1, 1, tzinfo=UTC))
    return SyncResult(records=records, cursor=new, full=full, calls=hs.calls - calls_before)


def read_records(hs: HubSpot, kind: str, ids: Iterable[str], properties: Iterable[str] | None = None,
                 *, with_associations: bool = True) -> list[Record]:
    """The given records (batch read, 100 per request), with associations; unknown ids are left out."""
    ids = list(dict.fromkeys(str(i) for i in ids))
    props = list(properties or DEFAULT_PROPERTIES[kind])
    out: list[Record] = []
    for chunk in _chunks(ids, 100):
        body = hs.model(kind, "BatchReadInputSimplePublicObjectId", inputs=[{"id": i} for i in chunk],
                        properties=props, properties_with_history=[])
        response = hs.call(kind, "batch_api", "read", body)
        links = _batch_associations(hs, kind, [r.id for r in response.results]) if with_associations else {}
        out += [to_record(kind, item, links.get(item.id, {})) for item in response.results]
    return out


# -- helpers ---------------------------------------------------------------------------------------

def _batch_associations(hs: HubSpot, kind: str, ids: list[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    links: dict[str, dict[str, tuple[str, ...]]] = {i: {} for i in ids}
    for to_kind in ASSOCIATED[kind]:
        for chunk in _chunks(ids, ASSOC_BATCH):
            body = hs.model("associations", "BatchInputPublicFetchAssociationsBatchRequest",
                            inputs=[{"id": i} for i in chunk])
            response = hs.call("associations", "batch_api", "get_page", kind, to_kind, body)
            for row in response.results:
                links.setdefault(row._from.id, {})[to_kind] = tuple(str(t.to_object_id) for t in row.to)
    return links


def inline_associations(item: Any) -> dict[str, tuple[str, ...]]:
    """The associated ids a list/get response carries inline, by kind."""
    out: dict[str, tuple[str, ...]] = {}
    for to_kind, collection in (getattr(item, "associations", None) or {}).items():
        ids = [a.id for a in collection.results]
        out[to_kind] = tuple(dict.fromkeys(ids))
    return out


def to_record(kind: str, item: Any, associations: dict[str, tuple[str, ...]]) -> Record:
    """A client model (SimplePublicObject...) as a plain Record; timestamps in UTC."""
    return Record(kind=kind, id=str(item.id), properties=dict(item.properties or {}),
                  created_at=utc(item.created_at), updated_at=_modified(kind, item) or utc(item.updated_at),
                  archived=bool(item.archived), associations=associations)


def _modified(kind: str, item: Any) -> datetime | None:
    value = (item.properties or {}).get(MODIFIED_PROPERTY[kind])
    if value:
        return parse_time(value)
    return utc(item.updated_at)


def utc(ts: datetime | None) -> datetime | None:
    """An aware datetime in UTC (the client's parser may hand back tzlocal for 'Z')."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def parse_time(value: str) -> datetime:
    """HubSpot's timestamps: ISO 8601 ('2026-01-02T03:04:05.678Z') or epoch milliseconds."""
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _ms(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return str(int(ts.timestamp() * 1000))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
