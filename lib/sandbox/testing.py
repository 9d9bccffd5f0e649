"""pytest fixtures for the sandbox (loaded as a plugin: `pytest_plugins = ["lib.sandbox.testing"]`).

- sandbox_server (session): one Simulator on the virtual clock, serving on a free port.
- sandbox (function): that simulator, reset and with its config restored before the test; it has
  `.base_url` (and `.sim`, itself).
- sandbox_client (function): anthropic.Anthropic pointed at it, strict response validation, max_retries=2.
- sandbox_realtime (function): a simulator on the real clock (for tests that must see real waiting, such
  as the SDK sleeping for retry-after), reset before the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .config import SandboxConfig
from .simulator import Simulator

TEST_KEY = "sk-test-sandbox"


def make_client(sim: Simulator, **options: Any) -> Any:
    """anthropic.Anthropic for `sim` with strict validation (options override the defaults)."""
    import anthropic

    kwargs: dict[str, Any] = {"api_key": TEST_KEY, "max_retries": 2, "_strict_response_validation": True}
    kwargs.update(options)
    return anthropic.Anthropic(base_url=sim.base_url, **kwargs)


def make_async_client(sim: Simulator, **options: Any) -> Any:
    """anthropic.AsyncAnthropic for `sim` with strict validation."""
    import anthropic

    kwargs: dict[str, Any] = {"api_key": TEST_KEY, "max_retries": 2, "_strict_response_validation": True}
    kwargs.update(options)
    return anthropic.AsyncAnthropic(base_url=sim.base_url, **kwargs)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Simulator]:
    sim = Simulator(SandboxConfig(virtual_clock=True))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sandbox(sandbox_server: Simulator) -> Simulator:
    sandbox_server.restore_config()
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
def sandbox_client(sandbox: Simulator) -> Iterator[Any]:
    client = make_client(sandbox)
    yield client
    client.close()


@pytest.fixture(scope="session")
def sandbox_realtime_server() -> Iterator[Simulator]:
    sim = Simulator(SandboxConfig(virtual_clock=False, ttft_ms=20, tokens_per_s=2000))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def sandbox_realtime(sandbox_realtime_server: Simulator) -> Simulator:
    sandbox_realtime_server.restore_config()
    sandbox_realtime_server.reset()
    return sandbox_realtime_server
