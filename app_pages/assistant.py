"""Assistant: a chat over the CRM. Claude looks things up through read-only tools; changes it proposes go
to the Extract page's review. The loop, the memory and the storage live in lib/work/assistant.py."""

import streamlit as st

from app_pages._shared import resources, ui
from lib.core.errors import ScribeError
from lib.core.text import safe_inline, safe_markdown
from lib.work.assistant import (
    AnswerText,
    Assistant,
    ToolAnswered,
    ToolsAsked,
    TurnStream,
    mentioned_contacts,
    to_extraction,
    usage_summary,
)
from lib.work.assistant_tools import CrmTools
from lib.work.conversations import Conversation, ToolCall, Turn

NEW = "new"

app = resources.services()
crm = app.crm
store = app.conversations
budget = resources.settings().scribe_assistant_context_tokens

st.title("Assistant")
st.caption("Ask about contacts, deals and the pipeline. Claude reads the CRM through tools and never writes to "
           "it: a change you ask for is proposed, and you review it on the Extract page.")


def conversation_label(conv_id: str, past: dict[str, str]) -> str:
    return "New conversation" if conv_id == NEW else past.get(conv_id, conv_id)


def pick_conversation() -> Conversation:
    """The conversation on screen: a new one, or one reopened from the database."""
    user = ui.current_user()
    if (wanted := st.query_params.get("conversation")) is not None:  # a link to one conversation
        try:
            linked = resources.services().open_conversation(ui.identity(), wanted)  # refused if not yours
        except ScribeError as err:
            ui.show_error(err)
            st.stop()
        st.session_state.assistant_pick_next = linked.id
        del st.query_params["conversation"]
    if (pending := st.session_state.pop("assistant_pick_next", None)) is not None:
        st.session_state.assistant_pick = pending
    elif "assistant_pick" not in st.session_state and (shown := st.session_state.get("assistant_conv")) is not None \
            and shown.turns:  # back from another page (a contact's link, say): the conversation that was on screen
        st.session_state.assistant_pick = shown.id
    frame = resources.services().conversation_list(ui.identity())
    past = {r["id"]: ("" if r["user"] == user else f"{r['user']}: ") + f"{r['title']} · {r['turns']} turn(s) · {r['updated_at']:%Y-%m-%d %H:%M}"
            for r in frame.to_dict("records")}
    pick = st.selectbox("Conversation", [NEW, *past], key="assistant_pick",
                        format_func=lambda c: conversation_label(c, past),
                        help="Every conversation is kept; pick one to reopen it.")
    conv = st.session_state.get("assistant_conv")
    if pick == NEW and (conv is None or conv.turns):
        conv = Conversation.new(user)
    elif pick != NEW and (conv is None or conv.id != pick):
        conv = resources.services().open_conversation(ui.identity(), pick)
    st.session_state.assistant_conv = conv
    return conv


def show_meter(slot, conv: Conversation, model: str) -> None:
    if conv.context_tokens is None and not conv.turns:  # a new chat: what the tools and system cost alone
        try:
            conv.context_tokens = assistant_for(model).count(conv)
        except ScribeError as err:
            slot.caption(f"Context size unknown ({err.message}) · budget {budget:,} tokens")
            return
    tokens = conv.context_tokens
    with slot.container():
        if tokens is None:
            st.caption(f"Context size unknown · budget {budget:,} tokens")
            return
        st.progress(min(1.0, tokens / budget),
                    text=f"Context sent with the next question: {tokens:,} of {budget:,} tokens "
                         "(tools + system + messages, by count_tokens)")
        if conv.summary:
            st.caption(f"Turns 1–{conv.context_start} are summarised; the whole conversation is kept.")


def show_tool_call(call: ToolCall) -> None:
    icon = ":material/error:" if call.is_error else ":material/build:"
    with st.expander(safe_markdown(f"Tool: {call.label}"), icon=icon):
        show_tool_input(call)
        show_tool_result(call)


def show_tool_input(call: ToolCall) -> None:
    st.caption("Input")
    st.json(call.input)


def show_tool_result(call: ToolCall) -> None:
    st.caption("Error returned to Claude" if call.is_error else "Result returned to Claude")
    st.code(call.content, language="json", wrap_lines=True)


def show_contact_links(turn: Turn) -> None:
    """Links to the records of the contacts the answer names (found by the turn's tools, so ids are known)."""
    mentioned = mentioned_contacts(turn)
    if not mentioned:
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption("Contacts:", width="content")
        for contact_id, name in mentioned:
            st.page_link("app_pages/contacts.py", label=safe_inline(name), icon=":material/person:",
                         query_params={"contact": str(contact_id)}, help=f"Open {safe_inline(name)}'s record")


def review_proposal(turn: Turn, index: int) -> None:
    st.session_state["extract_incoming"] = [to_extraction(turn.proposals[index])]
    st.switch_page("app_pages/extract.py")


def show_answer(turn: Turn) -> None:
    """The assistant's side of a turn: text and tool calls in order, notices, proposals, usage."""
    if turn.memory_note:
        st.info(turn.memory_note, icon=":material/compress:")
    for step in turn.steps():
        if isinstance(step, ToolCall):
            show_tool_call(step)
        else:
            st.markdown(safe_markdown(step))
    show_contact_links(turn)
    if turn.notice:
        st.warning(turn.notice)
    if turn.error is not None:
        ui.show_error(turn.error)
    for i, proposal in enumerate(turn.proposals):
        changes = ", ".join(f"{k}: {proposal.current.get(k) or '—'} → {v}" for k, v in proposal.changes.items())
        st.info(safe_markdown(f"Proposed for {proposal.name} (#{proposal.contact_id}): {changes}. Not saved."),
                icon=":material/edit_note:")
        if st.button("Review this change on the Extract page", key=f"assistant_review_{turn.seq}_{i}",
                     type="primary"):
            review_proposal(turn, i)
    for warning in turn.warnings:
        st.warning(warning)
    if turn.calls:
        ui.sandbox_label()
        st.caption(usage_summary(turn))


def show_turn(turn: Turn) -> None:
    with st.chat_message("user"):
        st.markdown(safe_markdown(turn.question))
    with st.chat_message("assistant"):
        show_answer(turn)


def assistant_for(model: str) -> Assistant:
    return Assistant(resources.services().gateway, CrmTools(crm), model=model, user=ui.current_user(), budget=budget,
                     store=store)


class LiveTurn:
    """Draws a turn while it streams: each round's text as it grows, each tool as a status box that shows
    what was asked, then what came back. The finished turn is drawn again from storage (show_answer)."""

    def __init__(self) -> None:
        self.texts: dict[int, tuple[object, str]] = {}  # round -> (slot, text so far)
        self.tools: dict[str, object] = {}  # tool_use id -> its status box

    def draw(self, event) -> None:
        if isinstance(event, AnswerText):
            slot, text = self.texts.get(event.round) or (st.empty(), "")
            text += event.text
            self.texts[event.round] = (slot, text)
            slot.markdown(safe_markdown(text))
        elif isinstance(event, ToolsAsked):
            for call in event.calls:
                box = st.status(safe_markdown(f"Tool: {call.label}"), state="running")
                with box:
                    show_tool_input(call)
                self.tools[call.id] = box
        elif isinstance(event, ToolAnswered):
            box = self.tools[event.call.id]
            with box:
                show_tool_result(event.call)
            box.update(label=safe_markdown(f"Tool: {event.call.label}"),
                       state="error" if event.call.is_error else "complete")


def stop_previous() -> None:
    """Stop was clicked (or a new question sent) while a turn streamed: that turn ends here, kept as it is."""
    previous: TurnStream | None = st.session_state.get("assistant_stream")
    if previous is not None and not previous.finished:
        previous.stop()
        if previous.kept:
            st.session_state.assistant_pick_next = previous.conv.id


def ask(conv: Conversation, question: str, model: str) -> None:
    resources.services().check_continue(ui.identity(), conv)
    try:
        turn_stream = assistant_for(model).stream(conv, question)
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.assistant_stream = turn_stream
    with st.chat_message("user"):
        st.markdown(safe_markdown(question))
    with st.chat_message("assistant"):
        st.button("Stop", key="assistant_stop", icon=":material/stop_circle:",
                  help="Stop the answer being written; what arrived so far is kept.")
        live = LiveTurn()
        try:
            for event in turn_stream:
                live.draw(event)
        except ScribeError as err:  # refused before anything was asked (a budget, say): nothing was kept
            ui.show_error(err)
        finally:
            turn_stream.close()  # a Stop click interrupts the loop above: the turn is kept as it stands
            if turn_stream.kept:
                st.session_state.assistant_pick_next = conv.id
    if turn_stream.kept:
        st.rerun()  # redraw from the stored turn: the picker shows this conversation, the meter its new size


stop_previous()
pick_col, model_col = st.columns([3, 2], vertical_alignment="bottom")
with pick_col:
    conv = pick_conversation()
with model_col:
    model = ui.model_picker("assistant")
meter = st.empty()

for past_turn in conv.turns:
    show_turn(past_turn)

if not resources.services().may_continue(ui.identity(), conv):
    st.info("This conversation is someone else's: you can read it, not continue it.")
elif question := st.chat_input("Ask about a contact, a deal or the pipeline…", submit_mode="disable"):
    ask(conv, question, model)
show_meter(meter, conv, model)
if not conv.turns:
    st.caption("Try: “What is the last activity for john.smith@acme.com?” · “How does the pipeline look?” · "
               "“Who is Robert Chen?”")
