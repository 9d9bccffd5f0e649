"""The app's one error boundary: no raw traceback ever reaches a person (issue 11.9)."""

from app_pages._shared import resources
from tests.app.steps import open_page


def test_an_unexpected_error_shows_a_message_and_a_reference_not_a_traceback(app, monkeypatch):
    page = open_page(app, "contacts")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(resources.services().crm), "search_contacts", broken)
    page.run()
    assert not page.exception  # nothing raw on the page
    (error,) = page.error
    assert "Reference:" in error.value and "No space left" not in error.value
