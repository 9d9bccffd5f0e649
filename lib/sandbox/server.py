"""Run the ASGI app with uvicorn on a socket we bind ourselves (so port 0 works), in a daemon thread."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.request
from typing import Any

import uvicorn

DROPPED = "ASGI callable returned without completing response."


class _DroppedConnectionFilter(logging.Filter):
    """Deliberate mid-response disconnects (a simulated fault) are not server errors worth logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != DROPPED


def quiet_uvicorn() -> None:
    """Install the filter once on uvicorn's error logger."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DroppedConnectionFilter) for f in logger.filters):
        logger.addFilter(_DroppedConnectionFilter())


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 = any free port); uvicorn accepts on it."""
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every keep-alive response waits ~40 ms for a delayed ACK (Nagle).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listen now, so that a client that read the printed URL queues in the backlog instead of being refused.
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def make_server(app: Any, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=2,
        ws="none",
    )
    quiet_uvicorn()
    return uvicorn.Server(config)


def wait_ready(base_url: str, timeout: float = 10.0) -> None:
    """Poll GET /_sandbox/health until it answers 200 (raise TimeoutError otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base_url + "/_sandbox/health", timeout=1) as response:  # noqa: S310
                if response.status == 200 and json.loads(response.read())["status"] == "ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"sandbox at {base_url} did not become ready within {timeout} s")
        time.sleep(0.02)


class ThreadedServer:
    """uvicorn in a daemon thread; start() returns the base URL once the server answers."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.sock = bind(host, port)
        self.server = make_server(app)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def start(self) -> str:
        self.thread.start()
        wait_ready(self.base_url)
        return self.base_url

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
