"""An OpenID Connect provider for tests: `oidc-provider-mock` in a thread on a free port.

    def test_x(oidc_provider):
        oidc_provider.set_user("rep@example.com", email="rep@example.com", name="Rita Rep")
        oidc_provider.metadata_url  # -> [auth] server_metadata_url

The mock accepts any client id and secret (no registration), signs real ID tokens, and has a sign-in
form (an input named `sub` and an "Authorize" button) that a browser test fills in. Claims are set
per subject with `PUT /users/{sub}` (a JSON object of claims; `sub` itself is added by the mock).
`email` and `name` are standard claims, released only for the `email` / `profile` scopes, which
Streamlit asks for by default ("openid email profile"); non-standard claims (`groups`) always are.

Import the fixture into a test module: `from tests.support.oidc import oidc_provider  # noqa: F401`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest


@dataclass(frozen=True)
class OidcProvider:
    """A running mock provider. `base_url` uses `localhost`: the mock derives its issuer and every
    endpoint from the Host header, so the app server and the browser must both use this name."""

    base_url: str

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def set_user(self, sub: str, **claims: Any) -> None:
        """Create or replace the user `sub` with these ID-token claims (email, name, groups, ...)."""
        response = httpx2.put(f"{self.base_url}/users/{sub}", json=claims, timeout=10)
        if response.status_code != 204:
            raise RuntimeError(f"oidc-provider-mock refused PUT /users/{sub}: {response.status_code} {response.text}")

    def revoke_tokens(self, sub: str) -> None:
        httpx2.post(f"{self.base_url}/users/{sub}/revoke-tokens", timeout=10).raise_for_status()


# The suite turns warnings into errors; the mock (0.3.4) still calls Authlib APIs that Authlib 1.9
# deprecates, and a warning raised in its server thread turns the token endpoint into a 500. pytest
# wraps each test's whole run (setup, call, teardown) in one `catch_warnings`, so filters added here
# hold for this test's server and are undone after it.
WARNING_MODULES = (r"authlib(\..*)?", r"oidc_provider_mock(\..*)?")


@pytest.fixture
def oidc_provider() -> Iterator[OidcProvider]:
    """A fresh provider per test (its users and tokens live in memory), stopped afterwards."""
    for module in WARNING_MODULES:
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
    with warnings.catch_warnings():  # importing it: "authlib.jose module is deprecated"
        warnings.simplefilter("ignore", DeprecationWarning)
        from oidc_provider_mock import run_server_in_thread

    with run_server_in_thread(port=0) as server:
        yield OidcProvider(base_url=f"http://localhost:{server.server_port}")


def auth_secrets_toml(provider: OidcProvider, *, host: str = "127.0.0.1", provider_name: str | None = None,
                      extra: str = "") -> str:
    """A secrets.toml `[auth]` section for the mock provider.

    `{port}` in redirect_uri is Streamlit's own placeholder (it fills in server.port), so the file can
    be written before the app's port is known. `host` must be the host the browser opens the app
    on: Streamlit drops the identity cookie when the page's origin differs from redirect_uri's.
    A named provider goes in `[auth.NAME]` (then the app calls st.login(NAME)).
    """
    head = (
        "[auth]\n"
        f'redirect_uri = "http://{host}:{{port}}/oauth2callback"\n'
        'cookie_secret = "test-cookie-secret-not-a-real-secret-0123456789"\n'
    )
    client = (
        'client_id = "scribe-tests"\n'
        'client_secret = "test-client-secret"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n'
    )
    if provider_name:
        return head + extra + f"\n[auth.{provider_name}]\n" + client
    return head + client + extra
