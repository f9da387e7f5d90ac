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

    def __init__(
        self,
        message: str = "Invalid or missing API key.",
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message, param=param, headers=headers or {"WWW-Authenticate": "Bearer"})


class PermissionDenied(AppError):
    status_code = 403
    code = "permission_denied"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class FailedDependency(AppError):
    """An upstream needed to complete an admin change cannot be reached (e.g. probing a provider)."""

    status_code = 424
    code = "failed_dependency"


class UpstreamError(AppError):
    """Base of everything that goes wrong on the far side of a provider."""

    status_code = 502
    code = "upstream_error"
    retryable = True
    upstream_status: int | None = None  # the HTTP status the upstream answered, when it answered one


class UpstreamBadGateway(UpstreamError):
    """Connection refused/reset, 5xx, or a response we cannot understand."""


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamRejected(UpstreamError):
    """The upstream refused the request itself (4xx such as context too long): passed through as is."""

    code = "invalid_request_error"
    retryable = False

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message, param=param, headers=headers)
        self.status_code = status_code


class UpstreamRateLimited(UpstreamError):
    """The provider said 429: another provider may take the call; if none does, the client is told when
    to come back (the provider's own Retry-After, forwarded)."""

    status_code = 503
    code = "upstream_rate_limited"

    def __init__(
        self,
        message: str,
        retry_after: float | None,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.retry_after = retry_after
        if headers is None and retry_after is not None:
            headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))}
        super().__init__(message, param=param, headers=headers)


class ServiceUnavailable(AppError):
    """Every provider of a model is busy (QoS), cooling down or unhealthy. `retry_after` (seconds) is
    when it may serve again; None when nothing known will change that (no Retry-After header then)."""

    status_code = 503
    code = "service_unavailable"

    def __init__(
        self,
        message: str,
        retry_after: float | None,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        if headers is None and retry_after is not None:
            headers = {"Retry-After": str(max(1, int(retry_after + 0.999)))}
        super().__init__(message, param=param, headers=headers)


class BadRequest(AppError):
    status_code = 400
    code = "invalid_request_error"
