"""Rules of access: API keys, login sessions, and the bootstrap master key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import BadRequest, NotFound, PermissionDenied, ServiceUnavailable, Unauthenticated
from lockgate.identity import repository
from lockgate.identity.authenticator import Authenticator
from lockgate.identity.models import ApiKey, Role, User
from lockgate.identity.schemas import CreatedKey, KeyKind, KeyView, Permission
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.kit.pagination import Page
from lockgate.kit.secrets import (
    display_api_key,
    generate_api_key,
    hash_api_key,
    matches_salted,
    salted_key_hash,
    verify_password,
)

MASTER_EMAIL = "master@lockgate.local"
ADMIN_ROLE = "admin"
DEFAULT_ROLE = "user"


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    master_user_id: int
    generated_master_key: str | None  # set only when a key was generated now: print it once


def _key_view(key: ApiKey) -> KeyView:
    return KeyView(
        id=key.id,
        name=key.name,
        token=key.display,
        user=key.user_id,
        expires=key.expires,
        created=key.created,
    )


class LoginGuard(Protocol):
    """Throttles password attempts (accounting's LoginThrottle): `admit` raises (429) or returns a
    ticket, given back with `succeeded` so that only failures accumulate."""

    async def admit(self, email: str, address: str | None) -> Any: ...

    async def succeeded(self, ticket: Any) -> None: ...


# Password checks waiting for a hashing slot past this are refused (503) rather than queued.
MAX_WAITING_PASSWORD_CHECKS = 64


class AccessService:
    def __init__(
        self,
        db: Database,
        authenticator: Authenticator,
        session_ttl_seconds: int,
        guard: LoginGuard | None = None,
        hashing_slots: int = 1,
        max_key_lifetime_days: int | None = None,
    ):
        self._db = db
        self._auth = authenticator
        self._session_ttl = session_ttl_seconds
        self._guard = guard
        self._hashing_slots = hashing_slots
        self._hashing: anyio.CapacityLimiter | None = None
        self._waiting = 0
        self._max_key_lifetime_days = max_key_lifetime_days or None

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        """argon2 in a worker thread, at most `hashing_slots` at once: a login flood queues here
        instead of taking every core from the requests being served."""
        if self._hashing is None:
            self._hashing = anyio.CapacityLimiter(self._hashing_slots)
        if self._waiting >= MAX_WAITING_PASSWORD_CHECKS:
            raise ServiceUnavailable("Too many logins in progress; retry shortly.", retry_after=1)
        self._waiting += 1
        try:
            return await anyio.to_thread.run_sync(
                verify_password, password_hash, password, limiter=self._hashing
            )
        finally:
            self._waiting -= 1

    def own_key_expiry(self, expires: int | None) -> int | None:
        """The expiry of a key a user makes for themselves, as OpenGateLLM bounds it: none given → the
        longest lifetime allowed; past it → 400. Without a configured maximum, `expires` as given."""
        if self._max_key_lifetime_days is None:
            return expires
        latest = now_ts() + self._max_key_lifetime_days * 86400
        if expires is None:
            return latest
        if expires > latest:
            raise BadRequest(
                f"Token expiration timestamp cannot be greater than {self._max_key_lifetime_days} days "
                "from now.",
                param="expires",
            )
        return expires

    async def create_key(
        self,
        user_id: int,
        name: str,
        expires: int | None = None,
        kind: KeyKind = KeyKind.API,
        collection_id: int | None = None,
    ) -> CreatedKey:
        """A new key. With `collection_id` (checked readable by the caller's surface first), a collection
        key: it may only chat with that collection."""
        raw = generate_api_key()
        async with self._db.transaction() as session:
            if await repository.get_user(session, user_id) is None:
                raise NotFound(f"User {user_id} not found.", param="user")
            row = ApiKey(
                user_id=user_id,
                name=name,
                kind=kind.value,
                key_hash=hash_api_key(raw),
                display=display_api_key(raw),
                expires=expires,
                collection_id=collection_id,
            )
            return CreatedKey(id=(await repository.add(session, row)).id, key=raw)

    async def list_keys(self, page: Page, user_id: int | None = None) -> list[KeyView]:
        async with self._db.transaction() as session:
            return [_key_view(k) for k in await repository.list_keys(session, page, user_id=user_id)]

    async def get_key(self, key_id: int, user_id: int | None = None) -> KeyView:
        async with self._db.transaction() as session:
            return _key_view(await self._key(session, key_id, user_id))

    async def update_key(self, key_id: int, changes: dict[str, Any], user_id: int | None = None) -> None:
        async with self._db.transaction() as session:
            key = await self._key(session, key_id, user_id)
            if changes.get("name") is not None:
                key.name = changes["name"]
            if "expires" in changes:
                key.expires = changes["expires"]
            key_hash = key.key_hash
        self._auth.forget([key_hash])

    async def delete_key(self, key_id: int, user_id: int | None = None) -> None:
        async with self._db.transaction() as session:
            key = await self._key(session, key_id, user_id)
            key_hash = key.key_hash
            await session.delete(key)
        self._auth.forget([key_hash])

    @staticmethod
    async def _key(session: AsyncSession, key_id: int, user_id: int | None) -> ApiKey:
        """A visible API key; another user's key is indistinguishable from a missing one."""
        key = await repository.get_key(session, key_id)
        if key is None or key.kind != KeyKind.API or (user_id is not None and key.user_id != user_id):
            raise NotFound(f"Key {key_id} not found.")
        return key

    async def login(self, email: str, password: str, address: str | None = None) -> CreatedKey:
        """Email + password → a fresh session key; the user's previous session key is revoked.
        `address`: the client's, throttled with the account (429 + Retry-After after too many
        failures)."""
        ticket = await self._guard.admit(email, address) if self._guard is not None else None
        async with self._db.transaction() as session:
            user = await repository.get_user_by_email(session, email)
            password_hash = user.password_hash if user else None
        valid = await self._verify(password_hash, password)
        if user is None or not valid:
            raise Unauthenticated("Wrong email or password.")
        if self._guard is not None:
            await self._guard.succeeded(ticket)
        now = now_ts()
        if user.expires is not None and user.expires <= now:
            raise PermissionDenied("User account expired.")
        expires = now + self._session_ttl
        if user.expires is not None:
            expires = min(expires, user.expires)
        raw = generate_api_key()
        async with self._db.transaction() as session:
            old_hashes = await repository.delete_keys_of(session, user.id, KeyKind.SESSION.value)
            row = ApiKey(
                user_id=user.id,
                name="session",
                kind=KeyKind.SESSION.value,
                key_hash=hash_api_key(raw),
                display=display_api_key(raw),
                expires=expires,
            )
            key_id = (await repository.add(session, row)).id
        self._auth.forget(old_hashes)
        return CreatedKey(id=key_id, key=raw)

    async def logout(self, raw_key: str) -> None:
        """End a login session: its key stops working at once. Unknown or non-session keys are ignored
        (signing out twice is not an error, and an API key is never revoked this way)."""
        key_hash = hash_api_key(raw_key)
        async with self._db.transaction() as session:
            await repository.delete_key_by_hash(session, key_hash, KeyKind.SESSION.value)
        self._auth.forget([key_hash])

    async def bootstrap(self, master_key: str | None) -> BootstrapResult:
        """Make sure the admin role, the master user and its key exist. Safe to run on every start,
        and on several replicas at once (a lost race is retried and finds the winner's rows)."""
        for attempt in range(3):
            try:
                return await self._bootstrap_once(master_key)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _bootstrap_once(self, master_key: str | None) -> BootstrapResult:
        generated: str | None = None
        async with self._db.transaction() as session:
            admin_role = await repository.get_role_by_name(session, ADMIN_ROLE)
            if admin_role is None:
                first_start = await repository.get_role_by_name(session, DEFAULT_ROLE) is None
                admin_role = Role(name=ADMIN_ROLE)
                repository.set_role_permissions(admin_role, [p.value for p in Permission])
                await repository.add(session, admin_role)
                if first_start:
                    await repository.add(session, Role(name=DEFAULT_ROLE))
            master = await repository.get_master_user(session)
            if master is None:
                master = await repository.add(
                    session, User(email=MASTER_EMAIL, name="master", role_id=admin_role.id, is_master=True)
                )
            existing = await repository.key_hashes_of_user(session, master.id, KeyKind.MASTER.value)
            current = (
                len(existing) == 1 and master_key is not None and matches_salted(master_key, existing[0])
            )
            if master_key is not None and not current:
                await repository.delete_keys_of(session, master.id, KeyKind.MASTER.value)
                await repository.add(session, self._master_key_row(master.id, master_key))
            elif master_key is None and not existing:
                generated = generate_api_key()
                await repository.add(session, self._master_key_row(master.id, generated))
            master_id = master.id
        self._auth.clear()
        return BootstrapResult(master_user_id=master_id, generated_master_key=generated)

    @staticmethod
    def _master_key_row(user_id: int, raw: str) -> ApiKey:
        return ApiKey(
            user_id=user_id,
            name="master",
            kind=KeyKind.MASTER.value,
            key_hash=salted_key_hash(raw),  # it may have been chosen by a person (master_key)
            display=f"{raw[:3]}...{raw[-2:]}",  # and so shows less of itself than generated keys
        )
