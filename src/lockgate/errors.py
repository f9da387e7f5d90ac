"""One error hierarchy for the whole core. Each surface renders it in its own dialect."""

from __future__ import annotations


class AppError(Exception):
    """A failure the caller should see, with the HTTP status it maps to."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}


class InvalidRequest(AppError):
    status_code = 422
    code = "invalid_request"


class Unauthenticated(AppError):
    status_code = 401
    code = "invalid_api_key"

    def __init__(self, message: str = "Invalid or missing API key.", **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class PermissionDenied(AppError):
    status_code = 403
    code = "permission_denied"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
