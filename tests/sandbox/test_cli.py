"""`python -m lib.sandbox` starts, prints its URL, serves the SDK and stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import anthropic

ROOT = Path(__file__).resolve().parents[2]


def test_cli_starts_serves_and_stops():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lib.sandbox",
            "--port",
            "0",
            "--rpm",
            "100",
            "--ttft-ms",
            "10",
            "--tokens-per-s",
            "1000",
            "--seed",
            "3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        match = re.match(
            r"Sandbox listening on (http://127\.0\.0\.1:\d+) — point ANTHROPIC_BASE_URL here", line
        )
        assert match, line
        with anthropic.Anthropic(
            base_url=match[1], api_key="sk-test-cli", _strict_response_validation=True
        ) as client:
            raw = client.messages.with_raw_response.create(
                model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "Hi?"}]
            )
        assert raw.headers["anthropic-ratelimit-requests-limit"] == "100"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Sandbox stopped." in out
