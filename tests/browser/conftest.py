"""Browser tests: the real app (`streamlit run app.py`) in Debian's Chromium, driven by Playwright.

Each test gets a sandbox on the real clock (in this process, so the test can script it and read
its journal), an app server in a subprocess pointed at it with its own DuckDB file, and a page.
Skipped, with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from lib.sandbox import SandboxConfig, Simulator

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SCRIBE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StreamlitApp:
    """A running `streamlit run app.py`; stop it before opening its database from the test."""

    url: str
    db_path: Path
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_app(tmp_path: Path, base_url: str | None, extra_env: dict[str, str] | None = None) -> StreamlitApp:
    """`streamlit run app.py` on a free port; base_url None = no key, no URL: the app starts its own sandbox."""
    port = free_port()
    db_path = tmp_path / "browser.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env |= {"SCRIBE_DB": str(db_path), "SCRIBE_FALLBACK_DIR": str(tmp_path / "fallback"), "PYTHONUNBUFFERED": "1",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"} | (extra_env or {})
    if base_url is not None:
        env["ANTHROPIC_BASE_URL"] = base_url
    log_path = tmp_path / "streamlit.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--global.developmentMode", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    app = StreamlitApp(url=f"http://127.0.0.1:{port}", db_path=db_path, process=process, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{app.log()}")
        try:
            if httpx2.get(app.url + "/_stcore/health", timeout=1).status_code == 200:
                return app
        except httpx2.HTTPError:
            time.sleep(0.2)
    app.stop()
    raise RuntimeError(f"streamlit did not start in 60 s:\n{app.log()}")


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a test saves its screenshot: a temporary folder, so a test run never rewrites tracked files.
    The README's pictures are taken on purpose: `SCRIBE_SCREENSHOT_DIR=docs pytest tests/browser`."""
    chosen = os.environ.get("SCRIBE_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                      headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_sandbox() -> Iterator[Simulator]:
    """A real-clock sandbox paced slowly enough to watch text arrive (50 tokens/s)."""
    sim = Simulator(SandboxConfig(ttft_ms=300, tokens_per_s=50))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def streamlit_app(tmp_path: Path, browser_sandbox: Simulator) -> Iterator[StreamlitApp]:
    app = start_app(tmp_path, browser_sandbox.base_url)
    yield app
    app.stop()


@pytest.fixture
def page(browser, streamlit_app: StreamlitApp) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(streamlit_app.url)
    page.get_by_text("Sandbox").first.wait_for()
    yield page
    context.close()
