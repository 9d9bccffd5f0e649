"""Shared inputs for the sandbox tests (the fixtures themselves come from lib.sandbox.testing)."""

from __future__ import annotations

import pytest

SALES_NOTE = """Date: 2026-11-19
Call notes - Acme Corp renewal

Spoke with Dana Whitfield (dana.whitfield@acmecorp.com), VP of Sales at Acme Corp. Her direct line is +1 (415) 555-0142.
Dana confirmed a budget of $48,000 for 40 seats. We sent the proposal on Monday.
Next step: Dana will walk her CFO through the proposal next Tuesday.
Also on the call: Raj Patel from Globex Industries (raj.patel@globex.io), Head of Procurement. Raj wants a demo of the reporting module by Friday; budget around €12.5k.
"""


@pytest.fixture
def sales_note() -> str:
    """A realistic call note: two people, emails, a phone, amounts, relative dates against 2026-11-19."""
    return SALES_NOTE


@pytest.fixture
def gateway(sandbox, db):
    """The app's gateway on this test's database, talking to the session sandbox (virtual clock)."""
    from lib.claude.gateway import Gateway
    from lib.usage.log import UsageLog

    return Gateway(UsageLog(db), api_key="sk-test-gateway", base_url=sandbox.base_url, backend="sandbox",
                   max_retries=2)
