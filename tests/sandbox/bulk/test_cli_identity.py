"""`python -m lib.bulk --user`: who ran the CLI is recorded, and with sign-in on, that person's role
applies as in the app (a rep collects only their own jobs)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.services import open_database

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"
AUTH = """[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "test-cookie-secret-not-a-real-secret-0123456789"
client_id = "scribe-tests"
client_secret = "test-client-secret"
server_metadata_url = "http://localhost:9/.well-known/openid-configuration"
"""


@pytest.fixture
def cli(sandbox_realtime, hermetic_env, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(AUTH)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "STREAMLIT_", "SCRIBE_"))}
    env |= {"ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DB": str(hermetic_env),
            "STREAMLIT_SECRETS_FILES": str(secrets), "SCRIBE_MANAGER_EMAILS": "max@acme.com"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib.bulk", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    return run


def test_the_cli_records_who_ran_it_and_applies_their_role(cli, hermetic_env, sandbox_realtime):
    sandbox_realtime.configure(batch_delay_s=8)  # still running when --no-wait returns, on a loaded machine too
    sent = cli("enrich", str(SAMPLE), "--mode", "batch", "--no-wait", "--user", "rita@acme.com")
    assert sent.returncode == 0, sent.stderr
    job_id = sent.stdout.split("collect ")[-1].split()[0]

    refused = cli("collect", job_id, "--user", "rob@acme.com")  # another rep: not his job
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr and "rita" not in refused.stderr
    collected = cli("collect", job_id, "--poll-s", "0.3", "--user", "rita@acme.com")
    assert collected.returncode == 0, collected.stderr

    db = open_database(hermetic_env)
    cur = db.cursor()
    assert cur.execute('SELECT DISTINCT "user" FROM jobs WHERE id = ?', [job_id]).fetchall() == [("rita@acme.com",)]
    users = {r[0] for r in cur.execute('SELECT DISTINCT "user" FROM usage_log').fetchall()}
    assert users == {"rita@acme.com"}
