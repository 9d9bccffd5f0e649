"""Signing in under AppTest, where there is no provider and no browser.

    at = AppTest.from_file(APP)
    at.secrets["auth"] = auth_section()          # the app sees [auth]: sign-in is required
    at.user = signed_in("rita@acme.com", groups=["scribe-managers"])   # or SIGNED_OUT
    at.run()

What AppTest does with sign-in (Streamlit 1.67):
- `at.user` becomes `st.user`. Its default is {"email": "test@example.com"} with no `is_logged_in`,
  which is neither what a local run has ({}) nor a signed-in user: always set it.
- `at.secrets` replaces `st.secrets`, but not the secrets Streamlit's own auth code reads: `st.login()`
  under AppTest looks at the real secrets files and raises StreamlitAuthError when they have no
  [auth]. So tests set `at.user` instead of pressing "Sign in"; the real round trip is a browser test.
- `st.logout()` under AppTest sets `at.user` to {"is_logged_in": False} for the following runs.
"""

from __future__ import annotations

from typing import Any

SIGNED_OUT: dict[str, Any] = {"is_logged_in": False}


def auth_section(provider: str | None = None) -> dict[str, Any]:
    """A complete [auth] section (values are placeholders; nothing contacts a provider)."""
    client = {"client_id": "scribe-tests", "client_secret": "test-client-secret",
              "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}
    shared = {"redirect_uri": "http://localhost:8501/oauth2callback",
              "cookie_secret": "test-cookie-secret-not-a-real-secret-0123456789"}
    return shared | ({provider: client} if provider else client)


def signed_in(email: str, name: str | None = None, **claims: Any) -> dict[str, Any]:
    """What st.user holds after a real sign-in (claims as oidc-provider-mock's ID token has them)."""
    return {"is_logged_in": True, "provider": "default", "iss": "http://localhost:9", "sub": email,
            "aud": ["scribe-tests"], "email": email, "name": name or email.split("@")[0],
            "iat": 1_700_000_000, "exp": 1_700_003_600, "tokens": {}} | claims
