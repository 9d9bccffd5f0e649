"""Settings: one typed object, env > secrets.toml > defaults, every setting documented."""

import re
from decimal import Decimal
from pathlib import Path

import pytest

from lib.core.settings import Settings, load_settings, read_secrets_file

README = Path(__file__).resolve().parents[3] / "README.md"


def test_defaults_when_nothing_is_set():
    s = load_settings(env={}, secrets={})
    assert s.anthropic_api_key is None and s.uses_sandbox
    assert s.model_for("summarize") == "claude-sonnet-4-6"
    assert s.model_for("extract") == "claude-sonnet-4-6"
    assert s.model_for("follow_up") == "claude-sonnet-4-6"
    assert s.model_for("assistant") == "claude-opus-4-8"
    assert s.scribe_db.name == "scribe.duckdb" and s.scribe_db.parent.name == "data"


def test_env_wins_over_secrets_which_win_over_defaults():
    s = load_settings(
        env={"SCRIBE_MODEL_SUMMARIZE": "claude-haiku-4-5"},
        secrets={"SCRIBE_MODEL_SUMMARIZE": "claude-opus-4-8", "SCRIBE_MODEL_EXTRACT": "claude-opus-4-8"},
    )
    assert s.scribe_model_summarize == "claude-haiku-4-5"
    assert s.scribe_model_extract == "claude-opus-4-8"
    assert s.scribe_model_assistant == "claude-opus-4-8"


def test_empty_values_count_as_unset():
    s = load_settings(env={"ANTHROPIC_API_KEY": "  "}, secrets={"ANTHROPIC_API_KEY": ""})
    assert s.anthropic_api_key is None


def test_budgets_are_decimals():
    s = load_settings(env={"SCRIBE_BUDGET_DAILY_USD": "12.50"}, secrets={})
    assert s.scribe_budget_daily_usd == Decimal("12.50")


def test_the_key_never_shows_in_repr_or_dump():
    s = load_settings(env={"ANTHROPIC_API_KEY": "sk-ant-secret-value-123"}, secrets={})
    assert "sk-ant-secret-value-123" not in repr(s)
    assert "sk-ant-secret-value-123" not in s.model_dump_json()
    assert s.anthropic_api_key.get_secret_value() == "sk-ant-secret-value-123"


def test_secrets_file_root_keys_only(tmp_path):
    f = tmp_path / "secrets.toml"
    f.write_text('ANTHROPIC_API_KEY = "k"\n[connections.x]\nurl = "y"\n')
    assert read_secrets_file(f) == {"ANTHROPIC_API_KEY": "k"}
    assert read_secrets_file(tmp_path / "missing.toml") == {}


def test_bad_value_is_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="scribe_max_retries"):
        load_settings(env={"SCRIBE_MAX_RETRIES": "many"}, secrets={})


def test_every_setting_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in documented]
    assert not missing, f"settings missing from README.md: {missing}"


def test_the_hubspot_token_is_a_secret_and_without_it_the_builtin_crm_is_used(monkeypatch):
    from lib.core.settings import load_settings

    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("HUBSPOT_BASE_URL", raising=False)
    plain = load_settings()
    assert not plain.uses_hubspot and plain.hubspot_base_url == "https://api.hubapi.com"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-secret-value")
    monkeypatch.setenv("HUBSPOT_BASE_URL", "http://127.0.0.1:9")
    s = load_settings()
    assert s.uses_hubspot and s.hubspot_base_url == "http://127.0.0.1:9"
    assert "pat-na1-secret-value" not in repr(s) and "pat-na1-secret-value" not in s.model_dump_json()
    assert s.hubspot_access_token.get_secret_value() == "pat-na1-secret-value"
