"""Same seed, same requests -> byte-identical replies; another seed differs; concurrency does not matter."""

from __future__ import annotations

import asyncio

from lib.sandbox import SandboxConfig, Simulator
from lib.sandbox.testing import make_async_client, make_client

MODEL = "claude-haiku-4-5"
TOOLS = [
    {
        "name": "lookup_contact",
        "description": "By email",
        "input_schema": {
            "type": "object",
            "properties": {"email": {"type": "string"}},
            "required": ["email"],
        },
    }
]


def _session(seed: int, note: str) -> list[str]:
    sim = Simulator(SandboxConfig(seed=seed, virtual_clock=True))
    with sim.serve(), make_client(sim) as client:
        out = [
            client.messages.create(model=MODEL, max_tokens=300, messages=[{"role": "user", "content": note}])
        ]
        out.append(
            client.messages.create(model=MODEL, max_tokens=300, messages=[{"role": "user", "content": note}])
        )
        with client.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=2000,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "What changed this week?"}],
        ) as stream:
            out.append(stream.get_final_message())
        out.append(
            client.messages.create(
                model=MODEL,
                max_tokens=300,
                tools=TOOLS,
                messages=[{"role": "user", "content": "Who is dana@acme.com?"}],
            )
        )
        return [m.model_dump_json() for m in out]


def test_same_seed_is_byte_identical(sales_note):
    first, second = _session(7, sales_note), _session(7, sales_note)
    assert first == second
    assert first[0] != first[1]  # the n-th repeat of a request gets its own id


def test_another_seed_differs(sales_note):
    assert _session(7, sales_note) != _session(8, sales_note)


def test_stable_under_concurrency(sandbox):
    async def burst() -> set[str]:
        async with make_async_client(sandbox) as client:
            params = {
                "model": MODEL,
                "max_tokens": 200,
                "messages": [{"role": "user", "content": "Where are we with Acme?"}],
            }
            replies = await asyncio.gather(*(client.messages.create(**params) for _ in range(8)))
            return {r.model_dump_json() for r in replies}

    first = asyncio.run(burst())
    sandbox.reset()
    assert asyncio.run(burst()) == first and len(first) == 8
