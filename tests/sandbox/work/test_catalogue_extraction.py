"""The team's own fields on the built-in CRM, through the real services on the sandbox: the MEDDICC
catalogue widens the extraction schema, the review grid shows the fields with their evidence, and a
save keeps them in the built-in CRM with history; undo takes them back."""

from __future__ import annotations

from lib import services as services_module
from lib.auth import Identity, Role
from lib.core.settings import load_settings
from lib.crm.builtin import BuiltinCrm
from lib.work import extraction, review

NOTE = """Date: 2026-11-20

Call with John Smith (john.smith@acme.com) at Acme Corp. Security is their main decision criterion:
the security team must sign off first. The contract then goes through procurement.
Stage: proposal sent."""


def test_meddicc_fields_are_extracted_reviewed_and_saved_to_the_builtin_crm(sandbox, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SCRIBE_FIELD_CATALOGUE", "config/fields.meddicc.toml")
    s = services_module.build(load_settings())
    assert type(s.crm) is BuiltinCrm and "paper_process" in s.catalogue.keys
    run = extraction.extract_note(s.gateway, NOTE, user="dana", model=s.settings.model_for("extract"),
                                  catalogue=s.catalogue)
    built = review.build_review([run], s.crm, s.catalogue)
    row = built.frame[built.frame["name"] == "John Smith"]
    assert row.iloc[0]["decision_criteria"] == "security" and row.iloc[0]["paper_process"] == "procurement"
    i = row.index[0]
    quotes = {e.field.value: e.quote for e in built.meta[i].person.evidence}
    assert "security" in quotes.get("decision_criteria", "").lower()  # evidence, as for the built-in fields
    assert built.label("paper_process") == "Paper process"
    built.frame["accept"] = built.frame["name"] == "John Smith"
    result = s.save_review(review.to_save_request(built, "dana"))
    deal = s.crm.deal_for_contact(1)
    assert s.crm.custom_values("deal", deal.id)["decision_criteria"] == "security"
    assert any(c.field == "custom.paper_process" and c.new_value == "procurement" and c.call_id
               for c in s.crm.history(result.change_set_id))
    s.undo_save(result.change_set_id, Identity(email="dana", name="Dana", role=Role.ADMIN, local=True))
    assert s.crm.custom_values("deal", deal.id)["decision_criteria"] is None
