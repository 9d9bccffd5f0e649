"""Contacts from CSV exports: HubSpot and Salesforce column names, bad rows listed, all or nothing per row."""

import pytest

from lib.core.errors import InputRejected
from lib.crm.builtin import BuiltinCrm
from lib.crm.importing import read_contacts_csv

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Phone Number,Job Title,Company Name,Contact owner\n"
    "901,Ada,Lovelace,ada@analytical.io,+44 20 7946 0001,Head of Engines,Analytical Engines Ltd,dana\n"
    "902,,,nobody@x.io,,,,\n"
    "903,Bad,Mail,not-an-email,,,,\n"
    "904,John,Smith,JOHN.SMITH@acme.com,,,Acme Corp.,\n"
    "905,Charles,Babbage,charles@analytical.io,,,Analytical Engines,\n"
)
SALESFORCE = "Contact ID,First Name,Last Name,Title,Account Name,Email,Phone\n003A,Grace,Hopper,Rear Admiral,Navy,grace@navy.mil,\n"


@pytest.fixture
def crm(database):
    store = BuiltinCrm(database)
    store.seed_if_empty()
    return store


def test_hubspot_export_is_understood_and_bad_rows_have_reasons(crm):
    preview = read_contacts_csv(HUBSPOT.encode(), "hubspot.csv", crm.known_emails())
    assert preview.source == "HubSpot export"
    assert [r["name"] for r in preview.rows] == ["Ada Lovelace", "Charles Babbage"]
    assert preview.rows[0] == {"name": "Ada Lovelace", "email": "ada@analytical.io", "phone": "+44 20 7946 0001",
                               "title": "Head of Engines", "company": "Analytical Engines Ltd", "owner": "dana"}
    reasons = dict(preview.bad)
    assert reasons[3] == "no name"
    assert "not a valid email" in reasons[4]
    assert "already in the CRM" in reasons[5]


def test_salesforce_export_is_understood():
    preview = read_contacts_csv(SALESFORCE.encode(), "sf.csv")
    assert preview.source == "Salesforce export"
    assert preview.rows[0]["company"] == "Navy" and preview.rows[0]["title"] == "Rear Admiral"


def test_import_is_one_transaction_with_history(crm):
    before = crm.db.cursor().execute("SELECT count(*) FROM contacts").fetchone()[0]
    preview = read_contacts_csv(HUBSPOT.encode(), "hubspot.csv", crm.known_emails())
    result = crm.import_contacts(preview.rows, "dana")
    assert crm.db.cursor().execute("SELECT count(*) FROM contacts").fetchone()[0] == before + 2
    ada = crm.get_contact(result.created_contacts[0])
    babbage = crm.get_contact(result.created_contacts[1])
    assert ada.company_id == babbage.company_id  # "Analytical Engines Ltd" = "Analytical Engines"
    assert {h.actor for h in crm.history(result.change_set_id)} == {"import"}
    crm.undo(result.change_set_id, "dana")
    assert crm.db.cursor().execute("SELECT count(*) FROM contacts WHERE NOT archived").fetchone()[0] == before


@pytest.mark.parametrize("data,message", [
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (b'name,email\n"unclosed,x@y.io\n', "not a readable CSV"),
    (b"foo,bar\n1,2\n", "no name or email column"),
    (b"", "empty"),
])
def test_unusable_files_are_refused_whole(data, message):
    with pytest.raises(InputRejected, match=message):
        read_contacts_csv(data, "f.csv")


def test_a_row_with_missing_values_is_reported_not_shifted():
    preview = read_contacts_csv(b"name,email\nAda,ada@x.io\nBob\n", "f.csv")
    assert [r["name"] for r in preview.rows] == ["Ada"] and preview.bad == [(3, "1 values for 2 columns")]
