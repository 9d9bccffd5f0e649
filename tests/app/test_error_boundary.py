"""The app's one error boundary: no raw traceback ever reaches a person (issue 11.9)."""

from app_pages._shared import resources
from tests.app.steps import open_page


def test_an_unexpected_error_shows_a_message_and_a_reference_not_a_traceback(app, monkeypatch):
    page = open_page(app, "contacts")

    def broken(*args, **kwargs):
        raise RuntimeError("internal state: secret-ish detail")

    monkeypatch.setattr(type(resources.services().crm), "search_contacts", broken)
    page.run()
    assert not page.exception  # nothing raw on the page
    (error,) = page.error
    assert "Reference:" in error.value and "secret-ish" not in error.value


def test_a_full_disk_says_so_and_what_to_do(app, monkeypatch):
    import duckdb

    page = open_page(app, "contacts")

    def broken(*args, **kwargs):
        raise duckdb.TransactionException('Failed to commit: Could not write file "x.wal": No space left on device')

    monkeypatch.setattr(type(resources.services().crm), "search_contacts", broken)
    page.run()
    assert not page.exception
    (error,) = page.error
    assert "disk that holds Scribe's database is full" in error.value and "Reference:" in error.value
    assert "x.wal" not in error.value
