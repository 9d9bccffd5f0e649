"""The first page is drawn before the slow imports: the sign-in gate, the sidebar's backend label and the
Summarize page's first elements need neither the SDK nor the database driver (bench/rep_flow.py times it)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.app

SHELL_MODULES = ["app_pages._shared.signin", "app_pages._shared.ui", "app_pages._shared.resources",
                 "lib.work.summarize"]


def loaded_after_importing(modules: list[str], heavy: list[str]) -> list[str]:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print(' '.join(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_shell_of_the_first_page_imports_neither_the_sdk_nor_the_database_driver():
    assert loaded_after_importing(SHELL_MODULES, ["anthropic", "duckdb", "pyarrow", "pandas"]) == []


def test_the_check_sees_a_heavy_import():
    """The probe above would see the SDK if a shell module imported it (as the gateway does)."""
    assert loaded_after_importing(["lib.claude.gateway"], ["anthropic"]) == ["anthropic"]
