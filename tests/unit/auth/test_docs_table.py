"""docs/sign-in.md's role table says what lib.auth enforces: one row per permission, ticks by role."""

from pathlib import Path

from lib.auth import ROLE_PERMISSIONS, Permission, Role

DOC = Path(__file__).resolve().parents[3] / "docs" / "sign-in.md"


def table_rows() -> dict[str, list[bool]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 4 and cells[1:] != ["rep", "manager", "admin"]:
            rows[cells[0]] = [c == "✓" for c in cells[1:]]
    return rows


def test_every_permission_is_a_row_with_the_roles_that_hold_it():
    rows = table_rows()
    for permission in Permission:
        assert permission.value in rows, permission
        assert rows[permission.value] == [permission in ROLE_PERMISSIONS[r] for r in Role], permission


def test_own_work_is_open_to_every_role():
    assert [r for r in table_rows() if r.startswith("their own")] and all(
        table_rows()[r] == [True, True, True] for r in table_rows() if r.startswith("their own"))
