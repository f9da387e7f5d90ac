"""Where providers added through the API may connect: public addresses only, unless the operator allows
a network (`provider_allowed_networks`). Checked on every connection, after DNS resolution, so a name
that later resolves to 127.0.0.1 or 169.254.169.254 (DNS rebinding) is refused too. Providers declared
in the config file are the operator's own and are not restricted."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

import aiohttp


class EgressRefused(OSError):
    """A provider's host resolves only to addresses this server may not reach."""


class EgressPolicy:
    def __init__(self, allowed_networks: Iterable[str] = ()):
        self.allowed: tuple[IPv4Network | IPv6Network, ...] = tuple(
            ip_network(network, strict=False) for network in allowed_networks
        )

    def permits(self, address: str) -> bool:
        """Public (globally routable, not multicast), or inside an allowed network."""
        try:
            ip = ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in network for network in self.allowed):
            return True
        return ip.is_global and not ip.is_multicast


class GuardedConnector(aiohttp.TCPConnector):
    """A TCPConnector that drops resolved addresses the policy refuses (IP literals included: aiohttp
    passes them through `_resolve_host` too)."""

    def __init__(self, policy: EgressPolicy, **kwargs: Any):
        super().__init__(**kwargs)
        self._policy = policy

    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> list[Any]:
        hosts = await super()._resolve_host(host, port, traces=traces)
        permitted = [entry for entry in hosts if self._policy.permits(entry["host"])]
        if not permitted:
            raise EgressRefused(
                f"{host} is a loopback, private, link-local or reserved address; "
                "an operator may allow its network with provider_allowed_networks"
            )
        return permitted
