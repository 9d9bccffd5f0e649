"""The real API's error envelope and status/type pairs."""

from __future__ import annotations

from typing import Any

STATUS_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    """An error the simulator answers with: HTTP status, error type, message, extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
        decision: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type or STATUS_TYPES.get(status, "api_error")
        self.message = message
        self.headers = dict(headers or {})
        self.details = details
        self.decision = decision or self.type


def invalid(message: str) -> ApiError:
    """400 invalid_request_error."""
    return ApiError(400, message)


def error_body(err_type: str, message: str, request_id: str | None, details: dict[str, Any] | None = None):
    """{"type":"error","error":{"type":…,"message":…},"request_id":…} as the real API sends it."""
    error: dict[str, Any] = {"type": err_type, "message": message}
    if details:
        error["details"] = details
    return {"type": "error", "error": error, "request_id": request_id}
