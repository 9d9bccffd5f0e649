"""The assistant in a real browser: a question about an email is answered through lookup_contact, shown."""

from pathlib import Path

from playwright.sync_api import expect

from lib.services import open_database
from lib.usage.log import UsageLog
from lib.work.conversations import ConversationStore

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is the last activity for john.smith@acme.com?"


def test_the_last_activity_for_an_email_is_looked_up_and_the_call_shown(page, streamlit_app, browser_sandbox, screenshots):
    page.get_by_role("link", name="Assistant").click()
    chat = page.get_by_placeholder("Ask about a contact, a deal or the pipeline…")
    chat.fill(QUESTION)
    chat.press("Enter")

    main = page.locator("[data-testid='stMainBlockContainer']")  # (no stMain on a page with a chat input)
    main.get_by_text("Here is what I found").wait_for(timeout=30_000)
    # the answer streams in: wait for the whole of it
    expect(main).to_contain_text("last_activity: 2026-09-11 email: Replied to questions on data residency",
                                 timeout=30_000)
    expect(main).to_contain_text("2 call(s)")  # the turn is stored and drawn again, with what it cost
    expander = page.get_by_test_id("stExpander").filter(has_text="lookup_contact")
    assert "john.smith@acme.com" in expander.inner_text()
    expander.get_by_text("lookup_contact").click()  # open it: the result Claude was given
    expander.get_by_text("Result returned to Claude").wait_for()
    expect(expander).to_contain_text("2026-09-11 email: Replied to questions on data residency")
    main.get_by_text("Context sent with the next question").wait_for()
    text = main.inner_text()
    assert "2 call(s)" in text and "cache read" in text and "Sandbox output" in text
    expect(page.get_by_test_id("stMetricValue")).not_to_have_text("$0.00")  # the run has ended: spend counted
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.screenshot(path=str(screenshots / "assistant.png"), full_page=True)

    streamlit_app.stop()
    rows = UsageLog(open_database(streamlit_app.db_path)).recent().sort_values("id")
    assert list(rows["feature"]) == ["assistant", "assistant"] and list(rows["model"]) == ["claude-opus-4-8"] * 2
    assert rows.iloc[1]["cache_read_input_tokens"] > 0  # tools and system read from the cache on the second call
    assert [e["path"] for e in browser_sandbox.journal if e["path"] == "/v1/messages"] == ["/v1/messages"] * 2


LONG_ANSWER = "John Smith, the VP of Engineering at Acme Corp, last replied on 2026-09-11. " + " ".join(
    f"Point {n}: he asked about data residency and the pilot's scope." for n in range(1, 25))


def script_lookup_then(sandbox, answer: str) -> None:
    sandbox.script({"blocks": [{"type": "text", "text": "Let me look John up."},
                               {"type": "tool_use", "name": "lookup_contact", "input": {"email": "john.smith@acme.com"}}],
                    "stop_reason": "tool_use"}, {"text": answer})


def ask(page, question: str):
    page.get_by_role("link", name="Assistant").click()
    chat = page.get_by_placeholder("Ask about a contact, a deal or the pipeline…")
    chat.fill(question)
    chat.press("Enter")
    return page.locator("[data-testid='stMainBlockContainer']")


def test_the_answer_streams_in_after_the_tool_round_shown_as_it_ran(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=30)  # the answer takes some seconds to write
    script_lookup_then(browser_sandbox, LONG_ANSWER)
    main = ask(page, "Tell me about john.smith@acme.com")
    answer = page.get_by_test_id("stChatMessage").nth(1)
    main.get_by_text("Point 1:").wait_for(timeout=30_000)  # the final answer has started

    samples = []  # (length of the answer so far, the tool round on screen, the turn's usage line shown)
    for _ in range(200):
        text = answer.inner_text()
        samples.append((len(text), "lookup_contact" in text, "call(s)" in main.inner_text()))
        if samples[-1][2]:
            break
        page.wait_for_timeout(250)
    streaming = [s for s in samples if not s[2]]
    lengths = [n for n, _, _ in streaming]
    assert len(set(lengths)) >= 3, samples  # it grew in several steps while it was written
    # it only grew until it was whole (then the page redraws the stored turn, which may be a little shorter
    # before the usage line appears: seen on a loaded machine)
    whole = lengths.index(max(lengths)) + 1
    assert lengths[:whole] == sorted(lengths[:whole])
    assert all(tool_shown for _, tool_shown, _ in streaming)  # the tool round was there before the answer ended
    assert samples[-1][2], "the turn never finished"
    main.get_by_text("Point 24:").wait_for()
    text = main.inner_text()
    assert "2 call(s)" in text and "Sandbox output" in text


def test_stop_keeps_the_partial_answer_and_logs_the_call_as_aborted(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=15)  # slow enough to stop half-way
    script_lookup_then(browser_sandbox, LONG_ANSWER)
    main = ask(page, "Tell me about john.smith@acme.com")
    main.get_by_text("Point 1:").wait_for(timeout=30_000)
    main.get_by_role("button", name="Stop").click()
    main.get_by_text("Stopped: you pressed Stop").wait_for()
    expect(main).to_contain_text("2 call(s)")  # the stopped turn, drawn from storage with both calls counted
    text = main.inner_text()
    assert "Point 1:" in text and "Point 24:" not in text and "lookup_contact" in text
    page.wait_for_timeout(1000)
    assert "Point 24:" not in main.inner_text()  # nothing went on writing behind the Stop

    streamlit_app.stop()
    db = open_database(streamlit_app.db_path)
    rows = UsageLog(db).recent().sort_values("id")
    assert list(rows["status"]) == ["ok", "aborted"] and bool(rows.iloc[1]["usage_estimated"])
    (conv,) = ConversationStore(db).list().to_dict("records")
    (turn,) = ConversationStore(db).load(conv["id"]).turns
    assert turn.notice.startswith("Stopped") and turn.answer.startswith("John Smith") and "Point 24" not in turn.answer
    journal = [e for e in browser_sandbox.journal if e["path"] == "/v1/messages"]
    assert journal[-1]["decision"] == "client_disconnect"  # the stream was really closed, not left running


def test_contacts_in_the_answer_are_links_that_stay(page, streamlit_app, browser_sandbox):
    main = ask(page, QUESTION)
    expect(main).to_contain_text("2 call(s)", timeout=30_000)  # the turn is over and drawn from storage
    for _ in range(2):  # the second click works as the first: the link is still there after a round trip
        link = main.get_by_role("link", name="John Smith")
        link.wait_for()
        link.click()
        page.get_by_role("heading", name="Contacts").wait_for()
        page.get_by_role("heading", name="John Smith").wait_for()
        assert "contact=1" in page.url
        page.get_by_role("link", name="Assistant").click()
        main.get_by_text("Here is what I found").wait_for()
