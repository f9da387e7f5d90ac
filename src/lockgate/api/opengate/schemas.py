"""Wire models of the OpenGateLLM identity API (spec 000), field names exactly as specified."""

from __future__ import annotations

import time
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from lockgate.identity.schemas import LimitType, Permission

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# Bounded so oversized numbers are a 422 naming the field, never a database overflow.
RefId = Annotated[int, Field(ge=0, le=2**31 - 1)]
Timestamp = Annotated[int, Field(ge=0, le=2**53)]
Priority = Annotated[int, Field(ge=0, le=2**31 - 1)]


def _future(value: int | None) -> int | None:
    if value is not None and value <= int(time.time()):
        raise ValueError("must be a Unix timestamp in the future")
    return value


class Wire(BaseModel):
    # OpenGateLLM accepts additional properties; ignore them rather than fail old clients.
    model_config = ConfigDict(extra="ignore")


class CreatedId(Wire):
    id: int


class LimitBody(Wire):
    router: int = Field(ge=0, le=2**31 - 1, description="The router (model) ID the limit applies to.")
    type: LimitType
    value: int | None = Field(default=None, ge=0, le=2**62, description="null = unlimited.")


class RoleCreate(Wire):
    name: Name
    permissions: list[Permission] | None = Field(default_factory=list)
    limits: list[LimitBody] | None = Field(default_factory=list)


class RoleUpdate(Wire):
    name: Name | None = None
    permissions: list[Permission] | None = None
    limits: list[LimitBody] | None = None


class RoleOut(Wire):
    object: Literal["role"] = "role"
    id: int
    name: str
    permissions: list[Permission]
    limits: list[LimitBody]
    users: int
    created: int
    updated: int


class OrganizationCreate(Wire):
    name: Name


class OrganizationUpdate(Wire):
    name: Name | None = None


class OrganizationOut(Wire):
    object: Literal["organization"] = "organization"
    id: int
    name: str
    users: int
    created: int
    updated: int


class UserCreate(Wire):
    email: Email
    name: Name | None = None
    password: Password
    role: RefId
    organization: RefId | None = None
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    expires: Timestamp | None = None
    priority: Priority | None = 0

    _expires_future = field_validator("expires")(_future)


class UserUpdate(Wire):
    email: Email | None = None
    name: Name | None = None
    current_password: str | None = None
    password: Password | None = None
    role: RefId | None = None
    organization: RefId | None = None
    budget: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    expires: Timestamp | None = None
    priority: Priority | None = None

    _expires_future = field_validator("expires")(_future)


class UserOut(Wire):
    object: Literal["user"] = "user"
    id: int
    email: str
    name: str | None
    role: RefId
    organization: int | None
    budget: float | None
    expires: int | None
    priority: int
    created: int
    updated: int


class TokenCreate(Wire):
    name: Name
    user: RefId | None = Field(default=None, description="User ID to create the token for (default: caller).")
    expires: Timestamp | None = None

    _expires_future = field_validator("expires")(_future)


class TokenUpdate(Wire):
    name: Name | None = None
    expires: Timestamp | None = None

    _expires_future = field_validator("expires")(_future)


class CreatedToken(Wire):
    id: int
    token: str


class TokenOut(Wire):
    object: Literal["token"] = "token"
    id: int
    name: str
    token: str
    user: int
    expires: int | None
    created: int


class KeyCreate(Wire):
    name: Name
    expires: Timestamp | None = None
    # Lockgate extension: a collection key, limited to chatting with this collection (h2oGPTe surface).
    collection_id: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None

    _expires_future = field_validator("expires")(_future)


class KeyOut(Wire):
    object: Literal["key"] = "key"
    id: int
    name: str
    token: str
    expires: int | None
    created: int


class Login(Wire):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    password: Annotated[str, StringConstraints(min_length=1)]


class LoginOut(Wire):
    id: int
    key: str


class MeUpdate(Wire):
    name: Name | None = None
    email: Email | None = None
    current_password: str | None = None
    password: Password | None = None


class UserInfo(Wire):
    object: Literal["userInfo"] = "userInfo"
    id: int
    email: str
    name: str | None
    organization: int | None
    budget: float | None
    permissions: list[Permission]
    limits: list[LimitBody]
    expires: int | None
    priority: int
    created: int
    updated: int


T = TypeVar("T")


class ListOf(Wire, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
