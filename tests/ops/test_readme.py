"""The README documents every setting (so the docs cannot silently fall behind the code)."""

from __future__ import annotations

from app.core.config import setting_env_names
from app.core.migrations import PROJECT_ROOT


def test_every_setting_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = sorted(name for name in setting_env_names() if f"`{name}`" not in readme)
    assert not missing, f"add these to the README's configuration table: {missing}"


def test_first_screen_has_the_two_commands_and_a_curl_example() -> None:
    first_screen = "\n".join((PROJECT_ROOT / "README.md").read_text().splitlines()[:25])
    assert "make run" in first_screen
    assert "make test" in first_screen
    assert "curl" in first_screen


def test_permission_table_matches_the_matrix_in_code() -> None:
    from app.auth.permissions import API_KEY_SCOPES, CUSTOMER_SCOPES, ROLE_SCOPES, SCOPES
    from app.models.user import StaffRole

    readme = (PROJECT_ROOT / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        if line.startswith("| `") and " — " in line:
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].split("`")[1]] = cells[1:]
    assert set(rows) == set(SCOPES)
    roles = [StaffRole.ADMIN, StaffRole.BILLING, StaffRole.SUPPORT, StaffRole.FRAUD_ANALYST]
    for scope, cells in rows.items():
        for role, cell in zip(roles, cells[:4], strict=True):
            assert (cell == "✓") == (scope in ROLE_SCOPES[role]), (scope, role)
        assert (cells[4] == "✓") == (scope in CUSTOMER_SCOPES), scope
        assert (cells[5] != "\u2013") == (scope in API_KEY_SCOPES), scope  # an en dash: not allowed
