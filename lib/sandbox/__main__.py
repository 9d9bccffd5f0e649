"""CLI: `python -m lib.sandbox --port 8765 ...` runs the sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from .config import SandboxConfig
from .server import bind, make_server
from .simulator import Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m lib.sandbox", description="Offline Claude Messages API (sandbox)."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--rpm", type=int, help="requests per minute per API key")
    p.add_argument("--itpm", type=int, help="input tokens per minute per API key")
    p.add_argument("--otpm", type=int, help="output tokens per minute per API key")
    p.add_argument("--burst-s", type=float,
                   help="bucket capacity in seconds of refill (default 60; a requests bucket holds at least one request)")
    p.add_argument("--ttft-ms", type=float, help="time to first token, ms (default: per model)")
    p.add_argument("--tokens-per-s", type=float, help="output tokens per second (default: per model)")
    p.add_argument("--fail-rate", type=float, help="share of requests answered 500 api_error")
    p.add_argument("--overload-rate", type=float, help="share of requests answered 529 overloaded_error")
    p.add_argument("--rate-limit-rate", type=float, help="share of requests answered 429 (retry-after 1) regardless of buckets")
    p.add_argument("--seed", type=int, help="seed for replies, ids and faults")
    p.add_argument(
        "--virtual-clock", action="store_true", help="simulated time (advance via POST /_sandbox/clock)"
    )
    p.add_argument("--log-level", default="warning")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> SandboxConfig:
    names = (
        "rpm",
        "itpm",
        "otpm",
        "burst_s",
        "ttft_ms",
        "tokens_per_s",
        "fail_rate",
        "overload_rate",
        "rate_limit_rate",
        "seed",
    )
    given = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    return SandboxConfig(virtual_clock=args.virtual_clock, **given)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sim = Simulator(config_from(args))
    sock = bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    server = make_server(sim.app, args.log_level)
    print(f"Sandbox listening on {url} — point ANTHROPIC_BASE_URL here (Ctrl-C to stop)", flush=True)
    try:
        server.run(sockets=[sock])  # uvicorn handles SIGINT/SIGTERM and shuts down gracefully
    except KeyboardInterrupt:
        pass
    print("Sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
