"""Rules of identity administration: organizations, roles, users, and the caller's own profile."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from lockgate.identity import repository
from lockgate.identity.authenticator import Authenticator
from lockgate.identity.models import Organization, Role, User
from lockgate.identity.schemas import (
    KeyKind,
    Limit,
    OrganizationView,
    Permission,
    Principal,
    RoleView,
    UserView,
)
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.kit.pagination import Page
from lockgate.kit.secrets import hash_password, verify_password


def _check_permissions(permissions: list[str]) -> None:
    known = {p.value for p in Permission}
    unknown = sorted(set(permissions) - known)
    if unknown:
        raise InvalidRequest(
            f"permissions: unknown permission(s) {', '.join(unknown)}; use {', '.join(sorted(known))}.",
            param="permissions",
        )


def _check_unique_limits(limits: list[dict[str, Any]]) -> None:
    seen: set[tuple[int, str]] = set()
    for limit in limits:
        pair = (limit["router"], limit["type"])
        if pair in seen:
            raise InvalidRequest(
                f"limits: duplicate limit for router {pair[0]} and type {pair[1]}", param="limits"
            )
        seen.add(pair)


async def _check_routers_exist(session: AsyncSession, limits: list[dict[str, Any]]) -> None:
    missing = await repository.missing_routers(session, {limit["router"] for limit in limits})
    if missing:
        raise InvalidRequest(f"limits: router(s) {', '.join(map(str, missing))} not found.", param="limits")


def _role_view(role: Role, users: int) -> RoleView:
    return RoleView(
        id=role.id,
        name=role.name,
        permissions=[p.permission for p in role.permissions],
        limits=[Limit(router=lim.router_id, type=lim.type, value=lim.value) for lim in role.limits],
        users=users,
        created=role.created,
        updated=role.updated,
    )


def _user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role_id,
        organization=user.organization_id,
        budget=user.budget,
        expires=user.expires,
        priority=user.priority,
        created=user.created,
        updated=user.updated,
    )


class IdentityService:
    def __init__(
        self,
        db: Database,
        authenticator: Authenticator,
        on_budget_change: Callable[[int], Awaitable[None]] | None = None,
    ):
        self._db = db
        self._auth = authenticator
        self._on_budget_change = on_budget_change

    # -- organizations -----------------------------------------------------------------------------

    async def create_organization(self, name: str) -> int:
        async with self._db.transaction() as session:
            if await repository.organization_name_taken(session, name):
                raise Conflict(f"An organization named '{name}' already exists.", param="name")
            try:
                return (await repository.add(session, Organization(name=name))).id
            except IntegrityError as exc:
                raise Conflict(f"An organization named '{name}' already exists.", param="name") from exc

    async def list_organizations(self, page: Page) -> list[OrganizationView]:
        async with self._db.transaction() as session:
            rows = await repository.list_organizations(session, page)
            counts = await repository.count_users_by(session, User.organization_id, [r.id for r in rows])
            return [OrganizationView(r.id, r.name, counts.get(r.id, 0), r.created, r.updated) for r in rows]

    async def get_organization(self, organization_id: int) -> OrganizationView:
        async with self._db.transaction() as session:
            row = await self._organization(session, organization_id)
            counts = await repository.count_users_by(session, User.organization_id, [row.id])
            return OrganizationView(row.id, row.name, counts.get(row.id, 0), row.created, row.updated)

    async def update_organization(self, organization_id: int, changes: dict[str, Any]) -> None:
        async with self._db.transaction() as session:
            row = await self._organization(session, organization_id)
            name = changes.get("name")
            if name is not None:
                if await repository.organization_name_taken(session, name, except_id=row.id):
                    raise Conflict(f"An organization named '{name}' already exists.", param="name")
                row.name = name

    async def delete_organization(self, organization_id: int) -> None:
        async with self._db.transaction() as session:
            row = await self._organization(session, organization_id)
            users = (await repository.count_users_by(session, User.organization_id, [row.id])).get(row.id, 0)
            if users:
                raise Conflict(f"Organization {row.id} still has {users} user(s); move or delete them first.")
            await session.delete(row)

    @staticmethod
    async def _organization(session: AsyncSession, organization_id: int) -> Organization:
        row = await repository.get_organization(session, organization_id)
        if row is None:
            raise NotFound(f"Organization {organization_id} not found.")
        return row

    # -- roles -------------------------------------------------------------------------------------

    async def create_role(self, name: str, permissions: list[str], limits: list[dict[str, Any]]) -> int:
        _check_permissions(permissions)
        _check_unique_limits(limits)
        async with self._db.transaction() as session:
            if await repository.role_name_taken(session, name):
                raise Conflict(f"A role named '{name}' already exists.", param="name")
            await _check_routers_exist(session, limits)
            role = Role(name=name)
            repository.set_role_permissions(role, permissions)
            repository.set_role_limits(role, limits)
            try:
                return (await repository.add(session, role)).id
            except IntegrityError as exc:
                raise Conflict(f"A role named '{name}' already exists.", param="name") from exc

    async def list_roles(self, page: Page) -> list[RoleView]:
        async with self._db.transaction() as session:
            rows = await repository.list_roles(session, page)
            counts = await repository.count_users_by(session, User.role_id, [r.id for r in rows])
            return [_role_view(r, counts.get(r.id, 0)) for r in rows]

    async def get_role(self, role_id: int) -> RoleView:
        async with self._db.transaction() as session:
            role = await self._role(session, role_id)
            counts = await repository.count_users_by(session, User.role_id, [role.id])
            return _role_view(role, counts.get(role.id, 0))

    async def update_role(self, role_id: int, changes: dict[str, Any]) -> None:
        async with self._db.transaction() as session:
            role = await self._role(session, role_id)
            if changes.get("name") is not None:
                if await repository.role_name_taken(session, changes["name"], except_id=role.id):
                    raise Conflict(f"A role named '{changes['name']}' already exists.", param="name")
                role.name = changes["name"]
            if changes.get("permissions") is not None:
                _check_permissions(changes["permissions"])
                repository.set_role_permissions(role, changes["permissions"])
            if changes.get("limits") is not None:
                _check_unique_limits(changes["limits"])
                await _check_routers_exist(session, changes["limits"])
                role.limits.clear()
                await session.flush()
                repository.set_role_limits(role, changes["limits"])
            role.updated = now_ts()  # child rows changing does not trigger onupdate
        self._auth.clear()

    async def delete_role(self, role_id: int) -> None:
        async with self._db.transaction() as session:
            role = await self._role(session, role_id)
            users = (await repository.count_users_by(session, User.role_id, [role.id])).get(role.id, 0)
            if users:
                raise Conflict(f"Role {role.id} is still assigned to {users} user(s); reassign them first.")
            await session.delete(role)
        self._auth.clear()

    @staticmethod
    async def _role(session: AsyncSession, role_id: int) -> Role:
        role = await repository.get_role(session, role_id)
        if role is None:
            raise NotFound(f"Role {role_id} not found.")
        return role

    # -- users -------------------------------------------------------------------------------------

    async def create_user(
        self,
        email: str,
        password: str,
        role: int,
        name: str | None = None,
        organization: int | None = None,
        budget: float | None = None,
        expires: int | None = None,
        priority: int = 0,
    ) -> int:
        email = email.lower()
        password_hash = await anyio.to_thread.run_sync(hash_password, password)
        async with self._db.transaction() as session:
            await self._check_references(session, role=role, organization=organization)
            if await repository.email_taken(session, email):
                raise Conflict(f"A user with email '{email}' already exists.", param="email")
            user = User(
                email=email,
                name=name,
                password_hash=password_hash,
                role_id=role,
                organization_id=organization,
                budget=budget,
                expires=expires,
                priority=priority or 0,
            )
            try:
                return (await repository.add(session, user)).id
            except IntegrityError as exc:  # a concurrent insert of the same email
                raise Conflict(f"A user with email '{email}' already exists.", param="email") from exc

    async def list_users(
        self, page: Page, role: int | None = None, organization: int | None = None, email: str | None = None
    ) -> list[UserView]:
        async with self._db.transaction() as session:
            rows = await repository.list_users(session, page, role, organization, email)
            return [_user_view(u) for u in rows]

    async def get_user(self, user_id: int) -> UserView:
        async with self._db.transaction() as session:
            return _user_view(await self._user(session, user_id))

    async def update_user(self, user_id: int, changes: dict[str, Any]) -> None:
        """Fields absent from `changes` stay; organization/budget/expires sent as null are cleared."""
        password = changes.get("password")
        password_hash = await anyio.to_thread.run_sync(hash_password, password) if password else None
        async with self._db.transaction() as session:
            user = await self._user(session, user_id)
            if changes.get("email") is not None:
                if await repository.email_taken(session, changes["email"], except_id=user.id):
                    raise Conflict(f"A user with email '{changes['email']}' already exists.", param="email")
                user.email = changes["email"].lower()
            if changes.get("name") is not None:
                user.name = changes["name"]
            if password_hash:
                user.password_hash = password_hash
                # A new password ends every login session; API keys stay (they are managed explicitly).
                await repository.delete_keys_of(session, user.id, KeyKind.SESSION.value)
            if changes.get("role") is not None:
                await self._check_references(session, role=changes["role"])
                user.role_id = changes["role"]
            if "organization" in changes:
                await self._check_references(session, organization=changes["organization"])
                user.organization_id = changes["organization"]
            if user.is_master and changes.get("expires") is not None:
                raise Conflict("The master user never expires.", param="expires")
            for field in ("budget", "expires"):
                if field in changes:
                    setattr(user, field, changes[field])
            if changes.get("priority") is not None:
                user.priority = changes["priority"]
        self._auth.clear()
        if "budget" in changes and self._on_budget_change is not None:
            await self._on_budget_change(user_id)

    async def delete_user(self, user_id: int) -> None:
        async with self._db.transaction() as session:
            user = await self._user(session, user_id)
            if user.is_master:
                raise Conflict("The master user cannot be deleted.")
            await session.delete(user)
        self._auth.clear()

    @staticmethod
    async def _user(session: AsyncSession, user_id: int) -> User:
        user = await repository.get_user(session, user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found.")
        return user

    @staticmethod
    async def _check_references(
        session: AsyncSession, role: int | None = None, organization: int | None = None
    ) -> None:
        if role is not None and await repository.get_role(session, role) is None:
            raise NotFound(f"Role {role} not found.", param="role")
        if organization is not None and await repository.get_organization(session, organization) is None:
            raise NotFound(f"Organization {organization} not found.", param="organization")

    # -- me ----------------------------------------------------------------------------------------

    async def update_me(self, principal: Principal, changes: dict[str, Any]) -> None:
        """A user edits their own name, email or password; email and password need the current password."""
        allowed = {k: v for k, v in changes.items() if k in {"name", "email", "password"} and v is not None}
        async with self._db.transaction() as session:
            user = await self._user(session, principal.user_id)
            needs_proof = ("email" in allowed and allowed["email"] != user.email) or "password" in allowed
            stored_hash = user.password_hash
        if needs_proof and stored_hash is not None:
            current = changes.get("current_password")
            if not current:
                raise InvalidRequest(
                    "current_password is required to change email or password.", param="current_password"
                )
            if not await anyio.to_thread.run_sync(verify_password, stored_hash, current):
                raise PermissionDenied("current_password is incorrect.")
        await self.update_user(principal.user_id, allowed)
