"""`ApiError`: one failed request, answered in the OpenAI error shape so OpenAI clients show its message.

    {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": null}}
"""

from __future__ import annotations

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 405: "invalid_request_error", 413: "invalid_request_error",
          415: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
          503: "server_busy", 500: "server_error"}


class ApiError(Exception):
    """An HTTP error answer: `status`, a one-line `message` saying what is wrong, the `param` concerned,
    an OpenAI-style `code`, and extra response `headers` (Retry-After, WWW-Authenticate)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers = headers or {}

    def body(self) -> dict:
        return error_body(self.status, self.message, self.param, self.code)


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    """The OpenAI error object for an HTTP status."""
    return {"error": {"message": message, "type": _TYPES.get(status, "invalid_request_error" if status < 500
                                                              else "server_error"),
                      "param": param, "code": code}}
