"""Scribe's settings: one typed object, read once.

Source order, first match wins: environment variable > root key of `.streamlit/secrets.toml` > default.
Every field is listed in the README (a test checks it). The API key is a SecretStr so that printing
the settings, or an exception that carries them, never shows it.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

ROOT = Path(__file__).resolve().parents[2]
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
FEATURES = ("summarize", "extract", "follow_up", "assistant", "batch")


class Settings(BaseModel):
    """What Scribe needs to know about its environment. Field name = env var name, lower-cased."""

    anthropic_api_key: SecretStr | None = Field(None, description="Claude API key; none = the built-in sandbox")
    anthropic_base_url: str | None = Field(None, description="Send API calls here instead (proxy or sandbox)")
    anthropic_admin_key: SecretStr | None = Field(None, description="Admin key, only for cost reconciliation")
    scribe_db: Path = Field(ROOT / "data" / "scribe.duckdb", description="DuckDB file (git-ignored)")
    scribe_fallback_dir: Path | None = Field(None, description="Second place for usage rows the database refuses "
                                             "(default ~/.local/state/scribe; beside the database first)")
    scribe_database_url: SecretStr | None = Field(
        None, description="postgresql://… puts all state in Postgres (team mode); none = the DuckDB file")
    scribe_user: str = Field("rep", description="Local mode (no [auth]): the user everything is recorded as")
    scribe_admin_emails: str | None = Field(None, description="Admins: emails or @domain entries, comma-separated")
    scribe_manager_emails: str | None = Field(None, description="Managers: emails or @domain entries")
    scribe_role_groups: str | None = Field(None, description="ID-token group -> role: group=role, comma-separated")
    scribe_group_claim: str = Field("groups", description="The ID-token claim that holds the groups")
    scribe_model_summarize: str = Field("claude-sonnet-4-6", description="Model for summaries")
    scribe_model_extract: str = Field("claude-sonnet-4-6", description="Model for CRM extraction")
    scribe_model_follow_up: str = Field("claude-sonnet-4-6", description="Model for follow-up drafts")
    scribe_model_assistant: str = Field("claude-opus-4-8", description="Model for the CRM assistant")
    scribe_max_retries: int = Field(2, ge=0, le=10, description="SDK retries per call (429, 5xx, network)")
    scribe_timeout_s: float = Field(120.0, gt=0, description="Per-request timeout in seconds")
    scribe_budget_daily_usd: Decimal | None = Field(None, ge=0, description="Team spend cap per UTC day")
    scribe_budget_monthly_usd: Decimal | None = Field(None, ge=0, description="Team spend cap per UTC month")
    scribe_budget_policy: str = Field("block", description="At 100% of a budget: block | step_down | batch")
    scribe_assistant_context_tokens: int = Field(50_000, gt=1000, description="Assistant context budget")
    scribe_bulk_concurrency: int = Field(8, ge=1, le=64, description="Bulk live runner: most requests in flight")
    scribe_sandbox_ttft_ms: float | None = Field(None, ge=0, description="Sandbox time to first token")
    scribe_sandbox_tokens_per_s: float | None = Field(None, gt=0, description="Sandbox output speed")
    hubspot_access_token: SecretStr | None = Field(None, description="HubSpot private-app token; none = built-in CRM")
    hubspot_base_url: str = Field("https://api.hubapi.com", description="HubSpot API base URL (proxy, test server)")
    scribe_field_catalogue: Path | None = Field(None, description="The team's own fields (TOML); none = config/fields.toml")

    def model_for(self, feature: str) -> str:
        """The configured model id for a feature (batch work uses the extraction model)."""
        name = "extract" if feature == "batch" else feature
        return getattr(self, f"scribe_model_{name}")

    @property
    def uses_sandbox(self) -> bool:
        """No key means the app runs on the in-process sandbox."""
        return self.anthropic_api_key is None

    @field_validator("scribe_database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(POSTGRES_SCHEMES):
            raise ValueError("SCRIBE_DATABASE_URL must start with postgresql:// (or postgres://)")
        return value

    @property
    def uses_postgres(self) -> bool:
        """SCRIBE_DATABASE_URL puts all state in Postgres; else the DuckDB file SCRIBE_DB."""
        return self.scribe_database_url is not None

    @property
    def uses_hubspot(self) -> bool:
        """A HubSpot token makes HubSpot the system of record; else the built-in CRM."""
        return self.hubspot_access_token is not None


def read_secrets_file(path: Path = SECRETS_FILE) -> dict[str, Any]:
    """Root-level keys of `.streamlit/secrets.toml`, or {} when there is no such file."""
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {k: v for k, v in data.items() if not isinstance(v, dict)}


def load_settings(
    env: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from env > secrets > defaults. Empty strings count as unset."""
    env = os.environ if env is None else env
    secrets = read_secrets_file() if secrets is None else secrets
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        key = name.upper()
        for source in (env, secrets):
            raw = source.get(key)
            if raw is not None and str(raw).strip() != "":
                values[name] = raw
                break
    return Settings(**values)
