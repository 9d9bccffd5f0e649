"""The sidebar says which backend is in use; on the sandbox, how to switch to the real API; never the key."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.app.test_pages import PAGES

# Every Anthropic key starts so: showing it gives nothing away (and "nt-a" is in "verdant-agritech", a CRM value).
PUBLIC_PREFIX = "sk-ant-api03-"
FAKE_KEY = PUBLIC_PREFIX + "QZXJ7WVKP2M9YB4HRT6NDC8LF3GS5A-xq7Zw"


def key_pieces(key: str) -> set[str]:
    """Every 4-character window of the key, but those wholly inside the public prefix."""
    return {key[i:i + 4] for i in range(len(key) - 3) if i + 4 > len(PUBLIC_PREFIX)}


def rendered_text(at: AppTest) -> str:
    """Everything the app sent to the browser on this run: every element's proto, sidebar included."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def around(text: str, piece: str) -> str:
    at = text.index(piece)
    return text[max(0, at - 60):at + 20]


def test_the_sandbox_sidebar_says_how_to_use_the_real_api(app):
    captions = " ".join(c.value for c in app.sidebar.caption)
    assert "`ANTHROPIC_API_KEY`" in captions and "`.streamlit/secrets.toml`" in captions and "restart" in captions


@pytest.fixture
def keyed_app(app_env, monkeypatch):
    """The app with a (fake) API key, behind a base URL that is not a sandbox (the real API's path, as far as the
    app can tell): every call it makes is refused (404), so the error paths are rendered too."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", app_env.base_url + "/not-a-sandbox")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def test_with_a_key_the_sidebar_says_claude_api_and_no_part_of_the_key_is_shown(keyed_app):
    assert any("Claude API" in s.value for s in keyed_app.sidebar.success)
    assert not any("Sandbox" in w.value for w in keyed_app.sidebar.warning)
    pieces = key_pieces(FAKE_KEY)
    assert "03-Q" in pieces and "5A-x" in pieces and "nt-a" not in pieces
    for page in PAGES:
        keyed_app.switch_page(page)
        keyed_app.run()
        assert not keyed_app.exception, keyed_app.exception
        text = rendered_text(keyed_app)
        assert "Claude API" in text  # the walk did see the sidebar
        shown = sorted(p for p in pieces if p in text)
        assert not shown, f"{page} shows part of the key: {[around(text, p) for p in shown]}"
