"""The sandbox's replies follow the instructions they are given, read from their form (issue 13).

None of these tests depends on the wording of Scribe's prompts to pick a reply: the same instructions in
other words (other headings, another bullet form, another closing) give replies in that other form.
"""

from __future__ import annotations

import json
import re

import pytest

from lib.claude import prompts
from lib.work.schemas import Extraction

pytestmark = pytest.mark.sandbox

MODEL = "claude-haiku-4-5"
NOTE = """Date: 2026-11-18
Call with Laura Méndez (VP of Operations, Brightwater Logistics) and Sam Okafor from Partnerships.
They run 40 dispatchers on spreadsheets today and want a pilot for the Midwest region.
Laura confirmed a budget of about $72,000 ACV, pending sign-off from their CFO, Dev Patel.
RevOps asked whether we support SSO; I said yes and will send the security overview.
I will send the pilot proposal by Friday. Laura will book a call with Dev for next Tuesday.
Sam raised a concern about onboarding time; we agreed a two-week onboarding plan."""


def text_of(client, system, user, max_tokens=1500):
    reply = client.messages.create(model=MODEL, max_tokens=max_tokens, system=system,
                                   messages=[{"role": "user", "content": user}])
    return reply.content[0].text


def sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("#"):
            current = line.strip()
            out[current] = []
        elif line.strip() and current:
            out[current].append(line.strip())
    return out


def test_summary_follows_the_headings_and_action_item_form_it_is_given(sandbox_client):
    text = text_of(sandbox_client, prompts.summarize_system("medium"), prompts.note_message(NOTE)[0]["content"])
    got = sections(text)
    assert list(got) == ["## Key points", "## Decisions", "## Action items"]
    assert "…" not in text
    actions = got["## Action items"]
    assert "- [us] send the pilot proposal, by 2026-11-20" in actions  # the rep's own task, in the asked form
    assert "- [us] send the security overview" in actions  # no date in the note: no "by ..." part
    assert "- [Laura Méndez] book a call with Dev, by 2026-11-24" in actions
    assert all(re.fullmatch(r"- \[[^\]]+\] [a-z].*", a) for a in actions)
    assert "- We agreed a two-week onboarding plan." in got["## Decisions"]
    assert not any("Partnerships:" in a or "RevOps" in a.split("]")[0] for a in actions)


def test_a_short_summary_keeps_to_its_bullet_budget_and_marks_empty_sections(sandbox_client):
    note = "Date: 2026-11-18\nMet Tom Becker from Initech. He asked about pricing for 30 seats. Nothing decided yet."
    text = text_of(sandbox_client, prompts.summarize_system("short"), prompts.note_message(note)[0]["content"])
    got = sections(text)
    assert sum(len(v) for v in got.values()) <= 5
    assert got["## Action items"] == ["None recorded."]


def test_other_headings_and_another_bullet_form_are_followed_too(sandbox_client):
    system = ("You take minutes.\nUse these sections, in this order:\n# Attendees\n# Follow-ups\n# Risks\n"
              'Each follow-up is a bullet "- <owner>: <task> (due <date>)" where the owner is a name or "me". '
              'Write "n/a" under an empty section.')
    text = text_of(sandbox_client, system, NOTE)
    got = sections(text)
    assert list(got) == ["# Attendees", "# Follow-ups", "# Risks"]
    assert "- me: send the pilot proposal (due 2026-11-20)" in got["# Follow-ups"]
    assert "- Laura Méndez: book a call with Dev (due 2026-11-24)" in got["# Follow-ups"]
    assert "- me: send the security overview" in got["# Follow-ups"]
    assert any("concern about onboarding" in r for r in got["# Risks"])
    assert any(a.startswith("- Laura Méndez") for a in got["# Attendees"])


def test_a_prompt_that_only_mentions_emails_gets_no_letter(sandbox_client):
    system = ("You answer questions about the CRM. Records hold emails, phone numbers and follow-up dates. "
              "Answer briefly.")
    text = text_of(sandbox_client, system, "Which stage comes after the demo?")
    assert not text.startswith("Subject:") and "Best regards" not in text


def test_a_letter_follows_its_subject_closing_and_word_budget(sandbox_client):
    system = ('Draft the reply the rep sends. Start with "Subject: <subject>", greet the contact by first name, '
              'and close with "Kind regards," on its own line. Keep it under 90 words.')
    text = text_of(sandbox_client, system, "Write to Laura Méndez about this call.\n\n" + NOTE)
    assert text.startswith("Subject: ") and "\n\nHi Laura,\n" in text
    assert text.rstrip().endswith("Kind regards,") and "Best regards" not in text
    assert len(text.split("\n", 1)[1].split()) <= 90
    assert "I will send the pilot proposal" in text  # the rep's own step, in the first person
    assert "…" not in text


def test_the_app_follow_up_prompt_gives_next_steps_with_the_right_owners(sandbox_client):
    user = "Draft the follow-up email to Laura Méndez at Brightwater Logistics.\n\n<notes>\n" + NOTE + "\n</notes>"
    text = text_of(sandbox_client, prompts.follow_up_system("friendly", "medium"), user)
    assert text.startswith("Subject: ") and text.rstrip().endswith("Best regards,")
    assert "You will book a call with Dev on Tuesday, November 24." in text
    assert "I will send the pilot proposal by Friday, November 20." in text
    assert "draft the follow-up email" not in text.lower()  # the request itself is no next step


def test_extraction_quotes_the_shortest_span_and_keeps_roles_out_of_people(sandbox_client):
    parsed = sandbox_client.messages.parse(
        model=MODEL, max_tokens=4000, output_format=Extraction,
        system=prompts.extract_system("2026-11-18"), messages=prompts.note_message(NOTE))
    people = parsed.parsed_output.people
    assert [p.name for p in people] == ["Laura Méndez", "Sam Okafor", "Dev Patel"]
    laura = people[0]
    assert laura.title == "VP of Operations" and laura.company == "Brightwater Logistics"
    assert laura.next_step == "send the pilot proposal" and str(laura.next_step_date) == "2026-11-20"
    quotes = {e.field.value: e.quote for e in laura.evidence}
    assert quotes["amount"] == "$72,000" and quotes["title"] == "VP of Operations"
    assert quotes["next_step_date"] == "by Friday" and quotes["name"] == "Laura Méndez"
    for person in people:
        assert not (person.title or "").endswith((",", ";", ":"))
        assert person.company not in ("Partnerships", "RevOps")
        for e in person.evidence:
            assert e.quote in NOTE and len(e.quote) < 60, e
    assert laura.deal_stage.value == "qualified"  # a proposal someone "will send" has not been sent


def test_role_words_never_become_people(sandbox_client):
    note = "Date: 2026-11-18\nRevOps and Partnerships joined the call with Priya Raman from Northwind Traders."
    parsed = sandbox_client.messages.parse(model=MODEL, max_tokens=2000, output_format=Extraction,
                                           messages=[{"role": "user", "content": note}])
    assert [(p.name, p.company) for p in parsed.parsed_output.people] == [("Priya Raman", "Northwind Traders")]


@pytest.mark.parametrize("question", ["What is a good way to open a discovery call?",
                                      "How do I ask for a referral?", "Is it fine to follow up twice a week?"])
def test_a_generic_question_gets_a_plain_answer_not_a_template(sandbox_client, question):
    first = sandbox_client.messages.create(
        model=MODEL, max_tokens=300, messages=[{"role": "user", "content": question}]).content[0].text
    again = sandbox_client.messages.create(
        model=MODEL, max_tokens=300, messages=[{"role": "user", "content": question}]).content[0].text
    assert first == again  # deterministic
    for phrase in ("Here is a short answer", "The main things to consider are", "I can be more specific",
                   "Send me more detail", "your question about"):
        assert phrase not in first
    assert len(first.split()) <= 40 and first.endswith(".")


def test_the_reply_is_the_same_for_the_same_request(sandbox_client):
    system = prompts.summarize_system("detailed")
    a = text_of(sandbox_client, system, NOTE)
    b = text_of(sandbox_client, system, NOTE)
    assert a == b and json.dumps(a)


def test_evidence_is_verbatim_even_in_hard_wrapped_notes(sandbox_client):
    from pathlib import Path

    notes = sorted(Path(__file__).resolve().parents[2].joinpath("data", "notes").glob("*.txt"))
    assert notes
    for path in notes:
        note = path.read_text(encoding="utf-8")
        parsed = sandbox_client.messages.parse(model=MODEL, max_tokens=4000, output_format=Extraction,
                                               system=prompts.extract_system("2026-11-18"),
                                               messages=prompts.note_message(note))
        for person in parsed.parsed_output.people:
            assert not (person.title or "").endswith((",", ";", ":", "(")), (path.name, person.title)
            for e in person.evidence:
                assert e.quote in note, (path.name, e)


def test_a_letter_from_a_record_recaps_statements_not_fields(sandbox_client):
    user = ("Draft the follow-up email to John Smith at Acme Corp.\n\n<contact>\nName: John Smith\n"
            "Title: VP Operations\nCompany: Acme Corp\n</contact>\n<deal>\n"
            "Deal: Acme rollout; stage: proposal; amount: $48,000\n"
            "Next step: Follow-up demo for finance (due 2026-11-26)\n</deal>\n<interactions>\n"
            "- 2026-11-18 call: Demo went well; John asked for SSO details and pricing for 60 seats.\n</interactions>")
    text = text_of(sandbox_client, prompts.follow_up_system("direct", "short"), user)
    assert "stage: proposal" not in text.lower() and "amount:" not in text.lower()
    assert "You asked for SSO details and pricing for 60 seats." in text
    assert "Next step: Follow-up demo for finance on Thursday, November 26." in text
    assert "( )" not in text and "I will follow-up demo" not in text
