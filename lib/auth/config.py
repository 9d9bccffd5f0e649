"""The `[auth]` section of .streamlit/secrets.toml, checked before the app uses it.

Streamlit's documented shape (st.login):

    [auth]
    redirect_uri = "http://localhost:8501/oauth2callback"   # the app's URL + /oauth2callback
    cookie_secret = "..."                                    # a long random string
    client_id = "..."                                        # the default provider: st.login()
    client_secret = "..."
    server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"

    [auth.okta]                                              # or named providers: st.login("okta")
    client_id = "..."
    client_secret = "..."
    server_metadata_url = "https://acme.okta.com/.well-known/openid-configuration"

Streamlit itself checks only when someone presses "Sign in", with a message about the first missing
key; `check_auth_section` checks everything at start and names every missing key, and never puts
a secret's value (cookie_secret, client_id, client_secret) in a message.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lib.auth.errors import AuthConfigError

SHARED_KEYS = ("redirect_uri", "cookie_secret")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
DEFAULT_PROVIDER = "default"
CALLBACK_PATH = "/oauth2callback"
MIN_COOKIE_SECRET = 32  # characters; Streamlit warns below 14 bytes, we ask for more
_ROOT_TABLES = ("client_kwargs",)  # tables at [auth] level that are not providers
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class AuthConfig:
    """A usable [auth] section: the providers to offer and what the app should warn about."""

    providers: tuple[str, ...]        # "default" (call st.login()) and/or names (st.login(name))
    redirect_uri: str                 # as written; may contain Streamlit's {port} placeholder
    warnings: tuple[str, ...] = ()

    @property
    def login_args(self) -> list[tuple[str, str | None]]:
        """(button label, argument for st.login) per provider."""
        return [("Sign in" if p == DEFAULT_PROVIDER else f"Sign in with {p.capitalize()}",
                 None if p == DEFAULT_PROVIDER else p) for p in self.providers]

    def redirect_port(self) -> int | None:
        """The port in redirect_uri (None for the {port} placeholder or a default port)."""
        if "{port}" in self.redirect_uri:
            return None
        return urlsplit(self.redirect_uri).port

    def check_port(self, server_port: int) -> str | None:
        """A warning when redirect_uri names a port on this machine other than the one the app serves
        on: the provider would send people back to a port where nothing (or another app) listens.
        Only for localhost-style hosts; behind a proxy the public port rightly differs."""
        port = self.redirect_port()
        if urlsplit(self.redirect_uri).hostname not in _LOOPBACK:
            return None
        if port is not None and port != server_port:
            return (f"[auth] redirect_uri points at port {port} but the app runs on port {server_port}; "
                    f"sign-in will come back to the wrong place. Use \"{{port}}\" in redirect_uri, or fix it.")
        return None


def check_auth_section(secrets: Mapping[str, Any]) -> AuthConfig | None:
    """`secrets` is the whole secrets mapping (st.secrets.to_dict(), or the parsed TOML file).
    None when there is no [auth] section (local mode); an AuthConfig when it is complete;
    AuthConfigError listing every problem otherwise."""
    section = secrets.get("auth")
    if section is None:
        return None
    if not isinstance(section, Mapping):
        raise AuthConfigError("In .streamlit/secrets.toml, `auth` must be a table: write it as [auth].")

    problems: list[str] = []
    warnings: list[str] = []
    missing_shared = [k for k in SHARED_KEYS if _blank(section.get(k))]
    if missing_shared:
        problems.append(f"[auth] is missing {_keys(missing_shared)}")

    redirect_uri = section.get("redirect_uri")
    if isinstance(redirect_uri, str) and redirect_uri.strip():
        problems += _check_redirect_uri(redirect_uri.strip(), warnings)
    elif not _blank(redirect_uri):
        problems.append("[auth] redirect_uri must be a string")

    cookie_secret = section.get("cookie_secret")
    if not _blank(cookie_secret):
        if not isinstance(cookie_secret, str):
            problems.append("[auth] cookie_secret must be a string")
        elif len(cookie_secret) < MIN_COOKIE_SECRET:
            problems.append(f"[auth] cookie_secret is too short (at least {MIN_COOKIE_SECRET} characters; "
                            "generate one with: python -c \"import secrets; print(secrets.token_hex(32))\")")

    providers: list[str] = []
    root_keys = [k for k in PROVIDER_KEYS if not _blank(section.get(k))]
    if root_keys:  # the default provider lives in [auth] itself
        missing = [k for k in PROVIDER_KEYS if k not in root_keys]
        if missing:
            problems.append(f"[auth] (the default provider) is missing {_keys(missing)}")
        else:
            problems += _check_metadata_url("[auth]", section["server_metadata_url"], warnings)
        providers.append(DEFAULT_PROVIDER)

    for name, table in section.items():
        if not isinstance(table, Mapping) or name in _ROOT_TABLES:
            continue
        where = f"[auth.{name}]"
        if "_" in name:
            problems.append(f"{where}: Streamlit does not allow '_' in a provider name; rename it")
        missing = [k for k in PROVIDER_KEYS if _blank(table.get(k))]
        if missing:
            problems.append(f"{where} is missing {_keys(missing)}")
        else:
            problems += _check_metadata_url(where, table["server_metadata_url"], warnings)
        providers.append(name)

    if not providers:
        problems.append("[auth] names no identity provider: add client_id, client_secret and "
                        "server_metadata_url to [auth], or a table [auth.NAME] with them")
    expose = section.get("expose_tokens")
    if expose is not None:
        tokens = [expose] if isinstance(expose, str) else expose
        if not isinstance(tokens, list) or not set(map(str, tokens)) <= {"id", "access"}:
            problems.append("[auth] expose_tokens may only list \"id\" and \"access\"")
    if problems:
        raise AuthConfigError("Sign-in is not configured correctly in .streamlit/secrets.toml: "
                              + "; ".join(problems) + ".")
    return AuthConfig(providers=tuple(providers), redirect_uri=redirect_uri.strip(), warnings=tuple(warnings))


def require_readable_secrets(paths: Iterable[str | Path]) -> None:
    """Fail closed on a secrets.toml that exists but does not parse.

    Streamlit treats an unparseable secrets file like a missing one (st.secrets.load_if_toml_exists()
    is False, st.user has no is_logged_in): a typo in [auth] would silently switch sign-in off and run
    the app in local mode, where everyone is an admin. Call this with st.get_option("secrets.files")
    whenever load_if_toml_exists() is False. The message names the file and the TOML error's position,
    never a value.
    """
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            continue
        try:
            with path.open("rb") as fh:
                tomllib.load(fh)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            where = re.search(r"\(at line \d+, column \d+\)", str(exc))
            raise AuthConfigError(
                f"{path} is not valid TOML{' ' + where.group(0) if where else ''}, so sign-in cannot be "
                "checked; Scribe will not start in local mode by accident.") from None
        except OSError as exc:
            raise AuthConfigError(f"{path} cannot be read ({exc.strerror}).") from None


def _check_redirect_uri(uri: str, warnings: list[str]) -> list[str]:
    parts = urlsplit(uri.replace("{port}", "8501"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"[auth] redirect_uri must be an absolute http(s) URL, like http://localhost:8501{CALLBACK_PATH} "
                f"(it is {_shown(uri)})"]
    problems = []
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number from 0 to 65535)
    except ValueError:
        problems.append(f"[auth] redirect_uri has an invalid port (it is {_shown(uri)})")
    if not parts.path.endswith(CALLBACK_PATH):
        problems.append(f"[auth] redirect_uri must end with {CALLBACK_PATH} (it is {_shown(uri)})")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        warnings.append("[auth] redirect_uri uses plain http on a host other than localhost; "
                        "providers refuse it and the identity cookie would travel unencrypted. Use https.")
    return problems


def _check_metadata_url(where: str, url: Any, warnings: list[str]) -> list[str]:
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        return [f"{where} server_metadata_url must be an absolute http(s) URL"]
    if re.search(r"\{[^}]*\}", url):
        return [f"{where} server_metadata_url still has a placeholder like {{tenant}} in it ({_shown(url)})"]
    if not url.rstrip("/").endswith("/.well-known/openid-configuration"):
        warnings.append(f"{where} server_metadata_url usually ends with /.well-known/openid-configuration "
                        f"({_shown(url)})")
    return []


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _keys(keys: list[str]) -> str:
    return ", ".join(keys)


def _shown(url: str) -> str:
    """A URL as it may appear in a message: without any user:password or query (never secret-bearing)."""
    parts = urlsplit(url)
    host_port = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host_port}{parts.path}" if parts.scheme else "not a URL"
