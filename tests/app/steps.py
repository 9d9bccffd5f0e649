"""Steps the AppTest tests share: open a page of the app, click a button by its label."""

from streamlit.testing.v1 import AppTest


def open_page(app: AppTest, page: str) -> AppTest:
    """Switch the app to app_pages/<page>.py and run it; fail on any exception."""
    app.switch_page(f"app_pages/{page}.py")
    app.run()
    assert not app.exception, app.exception
    return app


def click(app: AppTest, label: str) -> AppTest:
    """Click the first button whose label starts with `label`, run, fail on any exception."""
    next(b for b in app.button if b.label.startswith(label)).click().run()
    assert not app.exception, app.exception
    return app
