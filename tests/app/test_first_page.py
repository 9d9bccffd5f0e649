"""The first page is drawn at once: app.py's warm-up imports what the pages import and builds the services
before the server answers, and even unwarmed, the sign-in gate, the sidebar's backend label and the Summarize
page's first elements need neither the SDK nor the database driver (bench/rep_flow.py times it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app_pages._shared import resources

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


def test_page_imports_finds_what_a_page_imports_at_the_top_inside_a_function_and_as_a_submodule(tmp_path):
    (tmp_path / "page.py").write_text("import json\nfrom email import message\nfrom . import sibling\n"
                                      "def later():\n    import csv\n    from os.path import join\n")
    found = resources.page_imports(tmp_path)
    assert {"json", "email", "email.message", "csv", "os.path"} <= set(found)
    assert "os.path.join" not in found  # a name, not a module
    assert not any(name.startswith(".") or name == "sibling" for name in found)  # relative: already a page's


WARM_THEN_FIRST_PAGE = """
import sys
from streamlit.testing.v1 import AppTest
import lib.services
from app_pages._shared import resources

builds = []
real_build = lib.services.build
lib.services.build = lambda *a, **k: builds.append(1) or real_build(*a, **k)
resources.warm_up()
built_warm = len(builds)
warm = set(sys.modules)
at = AppTest.from_file("main.py", default_timeout=60)
at.run()
assert not at.exception, at.exception
assert at.title[0].value == "Summarize a call note"
print(built_warm, len(builds), " ".join(sorted(m for m in set(sys.modules) - warm if m.split(".")[0] in {heavy!r})))
"""


def test_after_the_warm_up_the_first_page_imports_nothing_heavy_and_builds_nothing(hermetic_env, sandbox):
    """What app.py's lifespan does before the server answers leaves the first page nothing slow to do."""
    heavy = ["lib", "app_pages", "anthropic", "pandas", "plotly", "duckdb", "pyarrow", "numpy"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {"ANTHROPIC_BASE_URL": sandbox.base_url}
    out = subprocess.run([sys.executable, "-c", WARM_THEN_FIRST_PAGE.replace("{heavy!r}", repr(set(heavy)))],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    built_warm, built, *imported = out.stdout.split()
    assert (built_warm, built) == ("1", "1")  # built once, by the warm-up; the page found it cached
    assert imported == []
