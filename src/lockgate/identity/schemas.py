"""Domain types of identity: what services return and what the rest of Lockgate reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    ADMIN = "admin"
    CREATE_PUBLIC_COLLECTION = "create_public_collection"
    READ_METRIC = "read_metric"
    PROVIDE_MODELS = "provide_models"


class LimitType(StrEnum):
    RPM = "rpm"
    RPD = "rpd"
    TPM = "tpm"
    TPD = "tpd"


class KeyKind(StrEnum):
    API = "api"
    SESSION = "session"
    MASTER = "master"


@dataclass(frozen=True, slots=True)
class Limit:
    router: int
    type: str
    value: int | None


@dataclass(frozen=True, slots=True)
class OrganizationView:
    id: int
    name: str
    users: int
    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class RoleView:
    id: int
    name: str
    permissions: list[str]
    limits: list[Limit]
    users: int
    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    email: str
    name: str | None
    role: int
    organization: int | None
    budget: float | None
    expires: int | None
    priority: int
    created: int
    updated: int


@dataclass(frozen=True, slots=True)
class KeyView:
    id: int
    name: str
    token: str  # truncated display form, never the key
    user: int
    expires: int | None
    created: int


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: int
    key: str  # the full key: returned once, at creation


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from an API key, cached in memory, read on every request."""

    user_id: int
    key_id: int
    key_kind: str
    email: str
    name: str | None
    role_id: int
    organization_id: int | None
    permissions: frozenset[str]
    limits: tuple[Limit, ...]
    budget: float | None
    priority: int
    user_expires: int | None
    key_expires: int | None
    is_master: bool = False
    key_name: str | None = None
    role_name: str = ""  # labels metrics (spend and tokens by role)
    # Set for a collection key: it may only chat with this collection (h2oGPTe); all else is refused.
    collection_id: int | None = None
    created: int = 0
    updated: int = 0

    def has(self, permission: Permission) -> bool:
        return self.is_master or Permission.ADMIN in self.permissions or permission in self.permissions

    def blocked_from(self, router_id: int) -> bool:
        """A limit of 0 on a router (requests or tokens) means the role may not use that model."""
        return not self.is_master and any(lim.router == router_id and lim.value == 0 for lim in self.limits)
