"""Scribe's domain errors. `lib/claude/gateway.py` turns SDK errors into these; pages show them once.

    ScribeError                 base: `.message` says what happened, `.hint` what to do
    ├── ClaudeError             a call to Claude failed
    │   ├── AuthenticationFailed    401: the key was rejected
    │   ├── RateLimited             429 after the SDK's retries (or a spend limit)
    │   ├── Overloaded              529/5xx after the SDK's retries
    │   ├── ClaudeUnavailable       network error or timeout
    │   ├── InvalidRequest          400/404/413: the request itself is wrong
    │   ├── StreamInterrupted       an error event or a dropped connection mid-stream
    │   └── ReplyInvalid            the reply failed validation (structured output)
    ├── BudgetExceeded          a budget blocks the call (checked before sending)
    ├── InputRejected           bad user input (empty note, too long, not UTF-8, bad CSV)
    └── InvalidRecord           a CRM change that fails validation
"""

from __future__ import annotations


class ScribeError(Exception):
    """Base error: a message for the user and a hint about what to do next."""

    default_hint = ""

    def __init__(self, message: str, hint: str | None = None, *, request_id: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = self.default_hint if hint is None else hint
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.hint:
            parts.append(self.hint)
        if self.request_id:
            parts.append(f"(request id {self.request_id})")
        return " ".join(parts)


class ClaudeError(ScribeError):
    """A call to Claude failed."""


class AuthenticationFailed(ClaudeError):
    default_hint = (
        "Check ANTHROPIC_API_KEY in your environment or in .streamlit/secrets.toml, "
        "or remove it to run on the built-in sandbox."
    )


class RateLimited(ClaudeError):
    default_hint = "Wait a minute and try again, or send bulk work through the Batch API."

    def __init__(self, message: str, hint: str | None = None, *, request_id: str | None = None,
                 retry_after_s: float | None = None):
        super().__init__(message, hint, request_id=request_id)
        self.retry_after_s = retry_after_s


class Overloaded(ClaudeError):
    default_hint = "Claude is busy right now; try again in a moment."


class ClaudeUnavailable(ClaudeError):
    default_hint = "Check the network connection or ANTHROPIC_BASE_URL."


class InvalidRequest(ClaudeError):
    default_hint = "This is a bug in how Scribe built the request, or an unknown model was picked."


class StreamInterrupted(ClaudeError):
    default_hint = "What arrived so far is kept; run it again to get the rest."
    error_type: str | None = None  # the `error` event's type, or "disconnect"


class ReplyInvalid(ClaudeError):
    """Claude answered, but the reply failed validation; `raw_text` is what it said."""

    default_hint = "Nothing was saved. Try again, or pick another model."

    def __init__(self, message: str, *, raw_text: str, result: object = None, request_id: str | None = None):
        super().__init__(message, request_id=request_id)
        self.raw_text = raw_text
        self.result = result


class BudgetExceeded(ScribeError):
    default_hint = "Ask the person who owns the budget to raise it on the Usage page, or wait for the next period."


class InputRejected(ScribeError):
    """Bad user input; nothing was sent and nothing changed."""


class InvalidRecord(ScribeError):
    """A CRM change that fails validation; nothing was saved."""
