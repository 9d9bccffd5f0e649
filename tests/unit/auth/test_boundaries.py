"""lib/auth is a leaf: it imports nothing from lib/ but lib.core.errors, and never streamlit or plotly."""

import ast
from pathlib import Path

AUTH = Path(__file__).resolve().parents[3] / "lib" / "auth"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_lib_auth_imports_only_itself_lib_errors_and_the_standard_library():
    files = sorted(AUTH.glob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top not in ("streamlit", "plotly", "anthropic"), (path.name, name)
            if top == "lib":
                assert name == "lib.core.errors" or name.startswith("lib.auth"), (path.name, name)
