"""Checks on URLs given to Lockgate."""

from urllib.parse import urlsplit


def check_base_url(url: str) -> str:
    """An upstream's base URL: http(s), a host, and no trailing /v1 (adapters add their paths)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://api.example.com")
    if parts.path.rstrip("/").endswith("/v1"):
        raise ValueError("give the base URL only, without /v1")
    return url


def check_qos_pair(metric: object | None, limit: float | None) -> None:
    if (metric is None) != (limit is None):
        raise ValueError("qos_metric and qos_limit go together: set both or neither")
