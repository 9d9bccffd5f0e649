"""Contacts: find a contact, see its fields, deal and timeline (who changed what, AI or person, at what
cost), revert a change, edit by hand, import contacts from CSV, and the pipeline by stage."""

from decimal import Decimal

import pandas as pd
import streamlit as st

from app_pages._shared import charts, resources, ui
from lib.auth import Permission, can
from lib.core.errors import ScribeError
from lib.core.text import safe_inline
from lib.crm import importing as contacts_import
from lib.crm.records import STAGES, TimelineEntry
from lib.crm.store import CREATED

st.title("Contacts")
crm = resources.services().crm

EDITABLE = {"name": "Name", "email": "Email", "phone": "Phone", "title": "Title"}
ACTORS = {"ai": "AI", "human": "person", "undo": "undo", "import": "import"}


def pick_contact() -> int | None:
    """Search box and results table; the selected row (or ?contact=ID) is the contact shown."""
    query = st.text_input("Search contacts", key="contacts_query", placeholder="Name, email, company or title")
    found = crm.search_contacts(query, limit=200)
    table = ui.records_frame(found, ["id", "name", "email", "company", "title", "phone", "owner"])
    picked = st.dataframe(table, hide_index=True, on_select="rerun", selection_mode="single-row",
                          key="contacts_table", column_config={"id": st.column_config.NumberColumn("#", format="%d")})
    rows = picked.selection.rows if picked else []
    selected = found[rows[0]].id if rows and rows[0] < len(found) else None
    from_link = st.query_params.get("contact")
    linked = int(from_link) if from_link and from_link.isdigit() else None
    before = st.session_state.get("contacts_selected")
    st.session_state.contacts_selected = selected
    if selected != before:  # a row picked (or unpicked) just now: the table decides
        chosen = selected
    else:  # otherwise the address does: a contact's link, or the row picked earlier
        chosen = linked if linked is not None else selected
    # the address names the contact shown, so every rerun (and a reload, and a link back) keeps it
    if chosen is None:
        st.query_params.pop("contact", None)
    elif from_link != str(chosen):
        st.query_params["contact"] = str(chosen)
    return chosen


def show_contact(contact_id: int) -> None:
    contact = crm.get_contact(contact_id)
    if contact is None:
        st.warning(f"No contact #{contact_id}.")
        return
    st.subheader(f"{safe_inline(contact.name)} · {safe_inline(contact.company or 'no company')}")
    if contact.archived:
        st.warning("This contact was removed (archived), e.g. by an undo.")
    locked = crm.locked_fields("contact", contact_id)
    seen = remember_seen("contact", contact_id, {f: getattr(contact, f) for f in EDITABLE})
    with st.form(f"edit_{contact_id}"):
        cols = st.columns(len(EDITABLE))
        values = {f: col.text_input(label + (" 🔒" if f in locked else ""), seen[f] or "",
                                    key=f"{form_key('contact', contact_id)}{f}",
                                    help="Edited by hand: AI proposals will not overwrite it." if f in locked else None)
                  for (f, label), col in zip(EDITABLE.items(), cols, strict=True)}
        if st.form_submit_button("Save my edits"):
            save_edits("contact", contact_id, seen, values,
                       reload=lambda: {f: getattr(crm.get_contact(contact_id), f) for f in EDITABLE})
    show_deal(contact_id)


def remember_seen(entity: str, entity_id: int, current: dict) -> dict:
    """The values the person's form was filled with: an edit is saved only over these (keyed widgets keep
    what the person typed across reruns, so a change made meanwhile elsewhere is caught, not lost)."""
    return st.session_state.setdefault(f"contacts_seen_{entity}_{entity_id}", current)


def form_key(entity: str, entity_id: int) -> str:
    """The widget keys of a record's form; a new version after a save draws the form afresh (a widget that
    keeps its key keeps the value the browser holds for it)."""
    version = st.session_state.setdefault("contacts_form_version", 0)
    return f"contacts_edit_{entity}_{entity_id}_v{version}_"


def forget_form(entity: str | None = None, entity_id: int | None = None) -> None:
    """After a save, an undo or a revert: every form shows the CRM's values again."""
    st.session_state.contacts_form_version = st.session_state.get("contacts_form_version", 0) + 1
    for key in [k for k in st.session_state if k.startswith("contacts_seen_")]:
        del st.session_state[key]


def show_deal(contact_id: int) -> None:
    deal = crm.deal_for_contact(contact_id)
    if deal is None:
        st.caption("No deal yet.")
        return
    seen = remember_seen("deal", deal.id, deal_values(deal))
    key = form_key("deal", deal.id)
    with st.form(f"deal_{deal.id}"):
        st.markdown(f"**Deal:** {safe_inline(deal.name)}")
        a, b, c, d = st.columns(4)
        stage = a.selectbox("Stage", STAGES, index=STAGES.index(seen["stage"]), key=key + "stage")
        amount = b.number_input("Amount", min_value=0.0, value=float(seen["amount"] or 0), step=1000.0,
                                key=key + "amount")
        step = c.text_input("Next step", seen["next_step"] or "", key=key + "next_step")
        when = d.date_input("Next step date", value=seen["next_step_date"], key=key + "next_step_date")
        if st.form_submit_button("Save deal edits"):
            save_edits("deal", deal.id, seen, {"stage": stage, "amount": amount, "next_step": step,
                                               "next_step_date": when},
                       reload=lambda: deal_values(crm.deal_for_contact(contact_id)))


def deal_values(deal) -> dict:
    return {"stage": deal.stage, "amount": deal.amount, "next_step": deal.next_step,
            "next_step_date": deal.next_step_date}


def save_edits(entity: str, entity_id: int, seen: dict, values: dict, *, reload) -> None:
    changed = {f: v for f, v in values.items() if (v or None) != (seen.get(f) or None)
               and not (f == "amount" and float(seen.get(f) or 0) == float(v or 0))}
    try:
        for field, value in changed.items():
            crm.edit_by_hand(entity, entity_id, field, value or None, ui.current_user(), expected=seen.get(field))
    except ScribeError as err:
        ui.show_error(err)
        # what the person typed stays in the form; saving again now writes over the value shown in the error
        st.session_state[f"contacts_seen_{entity}_{entity_id}"] = reload()
        return
    forget_form(entity, entity_id)
    st.session_state.contacts_flash = f"Saved {len(changed)} edit(s); edited fields are now locked against AI values." \
        if changed else "Nothing changed."
    st.rerun()


def contact_link(contact_id: int, name: str) -> None:
    """A contact, by name, linking to its record (the address says which: ?contact=ID)."""
    st.page_link("app_pages/contacts.py", label=safe_inline(name), icon=":material/person:",
                 query_params={"contact": str(contact_id)})


def show_timeline(contact_id: int) -> None:
    st.markdown("#### Timeline")
    events = crm.timeline(contact_id, limit=60)
    if not events:
        st.caption("Nothing recorded yet.")
    contact = crm.get_contact(contact_id)
    deal = crm.deal_for_contact(contact_id)
    who = contact.name if contact else f"Contact {contact_id}"
    costs = resources.services().usage_log.call_costs(e.call_id for e in events)
    for n, event in enumerate(events):
        with st.container(border=True):
            with st.container(horizontal=True, vertical_alignment="center", gap="small"):
                contact_link(contact_id, who)  # every entry names the contact it is about, linked
                if event.what == "interaction":
                    show_interaction(event)
                else:
                    show_change(event, deal.name if deal else None, costs.get(event.call_id))
            if event.what == "interaction":
                show_note(event)
            else:
                show_change_details(event, n)


def show_interaction(event: TimelineEntry) -> None:
    who = safe_inline(event.approved_by or "someone")
    st.markdown(f"**{safe_inline(event.kind)}** · {event.ts:%Y-%m-%d %H:%M} · by {who}")


def show_note(event: TimelineEntry) -> None:
    st.text(event.summary or "")
    if event.note:
        with st.expander("The note"):
            st.text(event.note)


def show_change(event: TimelineEntry, deal_name: str | None, cost: Decimal | None) -> None:
    """One line: which record (the contact, or its deal by name), what changed, who decided, when."""
    actor = ACTORS.get(event.actor, event.actor)
    what = "created" if event.field == CREATED else (
        f"{safe_inline(event.field)}: {safe_inline(event.old_value or '∅')} → {safe_inline(event.new_value or '∅')}")
    if event.entity == "contact":  # the contact's name is the link before this line
        line = f"{what} · {actor}"
    else:
        record = f"deal **{safe_inline(deal_name)}**" if event.entity == "deal" and deal_name else \
            f"**{safe_inline(event.entity)}**"
        line = f"{record} · {what} · {actor}"
    if event.actor == "ai":
        line += f", approved by {safe_inline(event.approved_by or 'someone')}"
    elif event.approved_by:
        line += f" ({safe_inline(event.approved_by)})"
    line += f" · {event.ts:%Y-%m-%d %H:%M}"
    if cost is not None:
        line += f" · call cost {ui.money(cost)}"
    st.markdown(line)


def show_change_details(event: TimelineEntry, n: int) -> None:
    """The evidence, and the way back (revert, undo)."""
    if event.evidence:
        st.caption(f"Evidence: “{safe_inline(event.evidence)}”")
    left, right, _ = st.columns([1, 1, 4])
    if event.field != CREATED and left.button("Revert", key=f"revert_{event.history_id}_{n}"):
        run(lambda: resources.services().revert_change(event.history_id, ui.identity()), "Reverted.")
    if event.actor in ("ai", "human") and right.button("Undo whole save", key=f"undo_{event.change_set_id}_{n}"):
        run(lambda: resources.services().undo_save(event.change_set_id, ui.identity()), "Undone.")


def run(action, done: str) -> None:
    try:
        result = action()
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.contacts_flash = done + ("  \n" + "  \n".join(result.skipped) if result.skipped else "")
    forget_form()  # an undo or a revert changed the record: the forms show it as it is now
    st.rerun()


def import_section() -> None:
    with st.expander("Import contacts from CSV (Scribe, HubSpot or Salesforce export)"):
        if not can(ui.identity(), Permission.IMPORT_CONTACTS):  # the services refuse it too; say so up front
            st.info("Importing contacts takes the manager role.")
            return
        upload = st.file_uploader("CSV file", type=["csv"], key="contacts_import_file")
        if upload is None:
            return
        try:
            preview = contacts_import.read_contacts_csv(upload.getvalue(), upload.name, crm.known_emails())
        except ScribeError as err:
            ui.show_error(err)
            return
        st.caption(f"{preview.source}: {len(preview.rows)} contact(s) to import; columns used: "
                   + ", ".join(f"{c} → {f}" for f, c in preview.mapping.items()))
        if preview.bad:
            st.warning(f"{len(preview.bad)} row(s) will not be imported:")
            st.dataframe(pd.DataFrame(preview.bad, columns=["line", "reason"]), hide_index=True)
        if preview.rows and st.button(f"Import {len(preview.rows)} contact(s)"):
            result = resources.services().import_contacts(preview.rows, ui.identity())
            st.success(f"Imported {len(result.created_contacts)} contact(s) in one change set.")


def hubspot_section() -> None:
    """HubSpot as the system of record: the mirror's last sync, and Scribe's stages -> the portal's stages."""
    hub = resources.services().hubspot
    if hub is None:
        return
    with st.expander("HubSpot: sync and deal stage mapping"):
        synced = hub.last_sync
        st.caption(f"HubSpot at {safe_inline(hub.hs.base_url)}; the mirror syncs what changed before a review"
                   + (f" (last sync: {synced.calls} request(s))" if synced else "") + ".")
        if st.button("Sync now", key="hubspot_sync"):
            settle(lambda: hub.sync(), "Synced with HubSpot.")
        try:
            pipeline_id, mapping = hub.stage_mapping()
            pipes = hub.pipelines()
        except ScribeError as err:
            ui.show_error(err)
            return
        may_edit = can(ui.identity(), Permission.CHANGE_SETTINGS)
        labels = {p.id: p.label for p in pipes}
        chosen = st.selectbox("Pipeline", list(labels), index=list(labels).index(pipeline_id) if pipeline_id in labels
                              else 0, format_func=lambda pid: labels[pid], disabled=not may_edit, key="hubspot_pipeline")
        pipe = next(p for p in pipes if p.id == chosen)
        stage_ids = [None] + [s.id for s in pipe.stages]
        stage_labels = {s.id: s.label for s in pipe.stages} | {None: "(not mapped)"}
        picked = {}
        for stage in STAGES:
            current = mapping.get(stage) if chosen == pipeline_id else None
            picked[stage] = st.selectbox(f"Scribe's {stage}", stage_ids,
                                         index=stage_ids.index(current) if current in stage_ids else 0,
                                         format_func=lambda sid: stage_labels[sid], disabled=not may_edit,
                                         key=f"hubspot_stage_{chosen}_{stage}")
        catalogue_check(hub)
        if not may_edit:
            st.caption("Only an admin can change the mapping.")
        elif st.button("Save the stage mapping", key="hubspot_save_mapping"):
            settle(lambda: resources.services().set_stage_mapping(ui.identity(), chosen, picked),
                   "The stage mapping is saved.")


def catalogue_check(hub) -> None:
    """The field catalogue's HubSpot targets against the portal's writable properties (to pick from)."""
    catalogue = resources.services().catalogue
    try:
        portal = {kind: {p.name: p for p in hub.portal_properties(kind)} for kind in ("contacts", "deals")}
    except ScribeError as err:
        ui.show_error(err)
        return
    if catalogue:
        st.markdown("**Your own fields → HubSpot properties**")
        st.dataframe(pd.DataFrame([{
            "field": f.label, "record": f.entity, "HubSpot property": f.hubspot_property or "(kept in Scribe only)",
            "in the portal": "—" if not f.hubspot_property
            else ("yes" if f.hubspot_property in portal[f.entity + "s"] else "missing: create it in HubSpot")}
            for f in catalogue.fields]), hide_index=True)
    with st.popover("The portal's writable contact and deal properties"):
        st.dataframe(pd.DataFrame([{"object": kind, "property": p.name, "label": p.label, "type": p.type,
                                    "options": ", ".join(v for v, _ in p.options)}
                                   for kind, props in portal.items() for p in props.values()]), hide_index=True)


def settle(action, done: str) -> None:
    """A HubSpot setting or sync: done, or its error shown (what to fix)."""
    try:
        action()
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.contacts_flash = done
    st.rerun()


if flash := st.session_state.pop("contacts_flash", None):
    st.success(flash)
chosen = pick_contact()
if chosen is not None:
    show_contact(chosen)
    show_timeline(chosen)
import_section()
hubspot_section()
st.markdown("#### Pipeline by stage")
st.plotly_chart(charts.pipeline_chart(ui.records_frame(crm.pipeline_by_stage(), ["stage", "deals", "amount"])),
                config={"displaylogo": False})
