"""AppTest set-up: the app runs on the test sandbox (no key, ANTHROPIC_BASE_URL at the sandbox)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "main.py")


@pytest.fixture
def app_env(sandbox, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sandbox.base_url)
    monkeypatch.chdir(ROOT)  # page paths in st.navigation are relative to the app
    return sandbox


@pytest.fixture
def app(app_env):
    """The app's first run (the Summarize page), on the sandbox."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at
