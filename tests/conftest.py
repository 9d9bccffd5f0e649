"""Shared test set-up: every test is hermetic (its own DuckDB file, no real key, no real URL)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["lib.sandbox.testing", "tests.support.postgres"]

TIERS = ("unit", "sandbox", "hubspot", "app", "browser", "live")
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_ADMIN_KEY")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, taken from the folder it lives in (tests/<tier>/...).

    Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    for the session, which would break later tests that call asyncio.run().
    """
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real credentials or endpoints leak in; each test gets a private database path."""
    for name in SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    db_path = tmp_path / "scribe.duckdb"
    monkeypatch.setenv("SCRIBE_DB", str(db_path))
    monkeypatch.setenv("SCRIBE_FALLBACK_DIR", str(tmp_path / "fallback"))  # never the real home folder
    return db_path


@pytest.fixture
def db(hermetic_env: Path):
    """This test's own database, migrated."""
    from lib.services import open_database

    return open_database(hermetic_env)


@pytest.fixture(params=["duckdb", "postgres"])
def database(request: pytest.FixtureRequest, hermetic_env: Path):
    """This test's own database, migrated: once on DuckDB, once on Postgres (skipped, with the reason,
    where Postgres is not installed). Store tests take this instead of `db`."""
    from lib.services import open_database

    if request.param == "duckdb":
        database = open_database(hermetic_env)
    else:
        database = open_database(request.getfixturevalue("postgres_url"), local_path=hermetic_env)
    yield database
    database.close()


@pytest.fixture
def crm(db):
    """The CRM store on this test's database, with the sample CRM loaded."""
    from lib.crm.builtin import BuiltinCrm

    store = BuiltinCrm(db)
    store.seed_if_empty()
    return store
