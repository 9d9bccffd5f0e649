"""The app with SCRIBE_DATABASE_URL set: all its state goes to Postgres, none to the DuckDB file."""

import psycopg
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.app.steps import open_page


def test_the_app_keeps_its_state_in_postgres_when_the_url_is_set(app_env, postgres_url, hermetic_env, monkeypatch):
    monkeypatch.setenv("SCRIBE_DATABASE_URL", postgres_url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    page = open_page(at, "contacts")
    page.text_input(key="contacts_query").input("initech").run()
    assert {"Robert Chen", "Emily Chen"} <= set(page.dataframe[0].value["name"])  # read back from Postgres
    with psycopg.connect(postgres_url) as con:
        contacts = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    assert contacts > 0  # the sample CRM was seeded there
    assert not hermetic_env.exists()  # and not in the DuckDB file
    assert postgres_url.split("@")[0] not in str([e.value for e in page.get("markdown")])  # no credentials shown
