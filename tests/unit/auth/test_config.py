"""The [auth] section of .streamlit/secrets.toml, checked at start: complete ones give the providers to
offer, incomplete ones an AuthConfigError naming every missing key and never a secret's value."""

import tomllib

import pytest

from lib.auth import AuthConfig, AuthConfigError, check_auth_section, require_readable_secrets

COOKIE = "c00kie-s3cret-" + "k" * 40
CLIENT_SECRET = "cl1ent-s3cret-value"
CLIENT_ID = "cl1ent-id-value"
GOOGLE = "https://accounts.google.com/.well-known/openid-configuration"
OKTA = "https://acme.okta.com/.well-known/openid-configuration"


def toml(text: str) -> dict:
    return tomllib.loads(text)


DEFAULT = toml(f'''
ANTHROPIC_API_KEY = "not-for-auth"
[auth]
redirect_uri = "http://localhost:8501/oauth2callback"
cookie_secret = "{COOKIE}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{GOOGLE}"
''')

NAMED = toml(f'''
[auth]
redirect_uri = "https://scribe.acme.com/oauth2callback"
cookie_secret = "{COOKIE}"
expose_tokens = ["id"]
[auth.okta]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{OKTA}"
client_kwargs = {{ prompt = "login" }}
[auth.microsoft]
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "https://login.microsoftonline.com/0000-tenant/v2.0/.well-known/openid-configuration"
''')


def problem(secrets: dict) -> str:
    with pytest.raises(AuthConfigError) as exc:
        check_auth_section(secrets)
    text = str(exc.value)
    for secret in (COOKIE, CLIENT_SECRET, CLIENT_ID, "short-secret"):
        assert secret not in text
    return exc.value.message


def without(secrets: dict, *keys: str, provider: str | None = None) -> dict:
    auth = {k: (dict(v) if isinstance(v, dict) else v) for k, v in secrets["auth"].items()}
    table = auth[provider] if provider else auth
    for key in keys:
        table.pop(key)
    return {"auth": auth}


def test_no_auth_section_is_local_mode():
    assert check_auth_section({}) is None
    assert check_auth_section({"ANTHROPIC_API_KEY": "x"}) is None


def test_a_complete_default_provider():
    config = check_auth_section(DEFAULT)
    assert config == AuthConfig(providers=("default",), redirect_uri="http://localhost:8501/oauth2callback")
    assert config.login_args == [("Sign in", None)]


def test_named_providers():
    config = check_auth_section(NAMED)
    assert config.providers == ("okta", "microsoft") and config.warnings == ()
    assert config.login_args == [("Sign in with Okta", "okta"), ("Sign in with Microsoft", "microsoft")]


def test_a_streamlit_attrdict_section_is_accepted():
    from streamlit.runtime.secrets import AttrDict  # tests may import streamlit; lib/ may not

    assert check_auth_section({"auth": AttrDict(NAMED["auth"])}).providers == ("okta", "microsoft")


@pytest.mark.parametrize("keys", [("redirect_uri",), ("cookie_secret",), ("redirect_uri", "cookie_secret")])
def test_missing_shared_keys_are_named(keys):
    message = problem(without(DEFAULT, *keys))
    assert f"[auth] is missing {', '.join(keys)}" in message


@pytest.mark.parametrize("keys", [("client_secret",), ("client_id", "server_metadata_url")])
def test_an_incomplete_default_provider_names_its_missing_keys(keys):
    assert f"[auth] (the default provider) is missing {', '.join(keys)}" in problem(without(DEFAULT, *keys))


def test_an_incomplete_named_provider_names_itself_and_its_missing_keys():
    message = problem(without(NAMED, "client_secret", "server_metadata_url", provider="okta"))
    assert "[auth.okta] is missing client_secret, server_metadata_url" in message
    assert "microsoft" not in message


def test_every_problem_is_listed_at_once():
    broken = without(without(NAMED, "cookie_secret"), "client_id", provider="microsoft")
    message = problem(broken)
    assert "[auth] is missing cookie_secret" in message and "[auth.microsoft] is missing client_id" in message


def test_blank_values_count_as_missing():
    assert "is missing client_secret" in problem({"auth": DEFAULT["auth"] | {"client_secret": "  "}})


def test_a_section_without_any_provider():
    message = problem({"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": COOKIE}})
    assert "names no identity provider" in message


def test_an_empty_section_names_everything_it_lacks():
    message = problem({"auth": {}})
    assert "[auth] is missing redirect_uri, cookie_secret" in message and "names no identity provider" in message


def test_auth_must_be_a_table():
    assert "must be a table" in problem({"auth": "yes"})


@pytest.mark.parametrize("uri, words", [
    ("localhost:8501/oauth2callback", "absolute http(s) URL"),
    ("ftp://localhost/oauth2callback", "absolute http(s) URL"),
    ("http://localhost:8501/", "must end with /oauth2callback"),
    ("http://localhost:8501/callback", "must end with /oauth2callback"),
    ("http://localhost:{port}/callback", "(it is http://localhost:{port}/callback)"),
    ("http://localhost:85o1/oauth2callback", "invalid port"),
    ("http://localhost:99999/oauth2callback", "invalid port"),
])
def test_a_bad_redirect_uri(uri, words):
    assert words in problem({"auth": DEFAULT["auth"] | {"redirect_uri": uri}})


def test_the_redirect_uri_in_a_message_never_carries_credentials_or_a_query():
    message = problem({"auth": DEFAULT["auth"] | {"redirect_uri": "http://me:pw@localhost:8501/x?token=abc"}})
    assert "pw" not in message and "abc" not in message and "http://localhost:8501/x" in message


def test_streamlits_port_placeholder_is_accepted_and_has_no_port_to_check():
    config = check_auth_section({"auth": DEFAULT["auth"] | {"redirect_uri": "http://localhost:{port}/oauth2callback"}})
    assert config.redirect_port() is None and config.check_port(8765) is None


def test_a_redirect_uri_on_another_port_than_the_app_is_a_warning():
    config = check_auth_section(DEFAULT)
    assert config.redirect_port() == 8501 and config.check_port(8501) is None
    assert "port 8501 but the app runs on port 8765" in config.check_port(8765)
    assert check_auth_section(NAMED).redirect_port() is None  # https default port
    behind_proxy = check_auth_section({"auth": DEFAULT["auth"] | {"redirect_uri": "https://scribe.acme.com:8443/oauth2callback"}})
    assert behind_proxy.redirect_port() == 8443 and behind_proxy.check_port(8501) is None


def test_plain_http_outside_localhost_is_a_warning():
    config = check_auth_section({"auth": DEFAULT["auth"] | {"redirect_uri": "http://scribe.acme.com/oauth2callback"}})
    assert any("plain http" in w for w in config.warnings)
    assert check_auth_section({"auth": DEFAULT["auth"] | {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback"}}).warnings == ()


def test_a_short_cookie_secret_is_refused_without_being_shown():
    message = problem({"auth": DEFAULT["auth"] | {"cookie_secret": "short-secret"}})
    assert "cookie_secret is too short" in message and "token_hex" in message


@pytest.mark.parametrize("url, words", [
    ("accounts.google.com", "absolute http(s) URL"),
    ("https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration", "placeholder"),
])
def test_a_bad_metadata_url(url, words):
    assert words in problem({"auth": DEFAULT["auth"] | {"server_metadata_url": url}})


def test_a_metadata_url_that_is_not_a_discovery_document_is_a_warning():
    config = check_auth_section({"auth": DEFAULT["auth"] | {"server_metadata_url": "https://idp.acme.com/oidc"}})
    assert any("/.well-known/openid-configuration" in w for w in config.warnings)


def test_provider_names_with_underscores_are_refused_as_streamlit_does():
    auth = dict(NAMED["auth"])
    auth["my_okta"] = auth.pop("okta")
    assert "'_'" in problem({"auth": auth})


@pytest.mark.parametrize("value, ok", [("id", True), (["id", "access"], True), (["refresh"], False), (3, False)])
def test_expose_tokens(value, ok):
    secrets = {"auth": DEFAULT["auth"] | {"expose_tokens": value}}
    if ok:
        assert check_auth_section(secrets) is not None
    else:
        assert "expose_tokens" in problem(secrets)


def test_client_kwargs_at_the_root_is_not_a_provider():
    config = check_auth_section({"auth": DEFAULT["auth"] | {"client_kwargs": {"prompt": "login"}}})
    assert config.providers == ("default",)


def test_a_secrets_file_that_does_not_parse_fails_closed(tmp_path):
    """Streamlit reads a broken secrets.toml as no secrets at all, which would mean local mode (admin)."""
    good = tmp_path / "good.toml"
    good.write_text('ANTHROPIC_API_KEY = "x"\n')
    broken = tmp_path / "secrets.toml"
    broken.write_text(f'[auth]\ncookie_secret = "{COOKIE}\nclient_secret = "{CLIENT_SECRET}"\n')
    require_readable_secrets([tmp_path / "missing.toml", good])  # absent or valid: fine
    with pytest.raises(AuthConfigError) as exc:
        require_readable_secrets([str(good), str(broken)])
    assert str(broken) in exc.value.message and "(at line 2, column" in exc.value.message
    assert COOKIE not in str(exc.value) and CLIENT_SECRET not in str(exc.value)
