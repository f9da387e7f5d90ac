"""API key → Principal, from memory on the hot path; the database is read once per key per TTL."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.errors import PermissionDenied, Unauthenticated
from lockgate.identity import repository
from lockgate.identity.models import ApiKey, Role, User
from lockgate.identity.schemas import KeyKind, Limit, Permission, Principal
from lockgate.kit.db import Database
from lockgate.kit.secrets import hash_api_key, matches_salted, salted_key_hash

_MAX_ENTRIES = 100_000


def principal_from_rows(key: ApiKey, user: User, role: Role) -> Principal:
    permissions = frozenset(p.permission for p in role.permissions)
    if user.is_master:
        permissions = frozenset(p.value for p in Permission)
    return Principal(
        user_id=user.id,
        key_id=key.id,
        key_kind=key.kind,
        email=user.email,
        name=user.name,
        role_id=role.id,
        organization_id=user.organization_id,
        permissions=permissions,
        limits=tuple(Limit(router=lim.router_id, type=lim.type, value=lim.value) for lim in role.limits),
        budget=user.budget,
        priority=user.priority,
        user_expires=user.expires,
        key_expires=key.expires,
        is_master=user.is_master,
        key_name=key.name,
        role_name=role.name,
        collection_id=key.collection_id,
        created=user.created,
        updated=user.updated,
    )


async def _master_rows(session: AsyncSession, raw_key: str) -> tuple[ApiKey, User, Role] | None:
    """The master key's rows when `raw_key` is it (checked against its salted hash), else None."""
    for rows in await repository.master_principal_rows(session):
        if matches_salted(raw_key, rows[0].key_hash):
            return rows
    return None


class Authenticator:
    def __init__(self, db: Database, ttl_seconds: float):
        self._db = db
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        # Bumped on every invalidation: a load that raced with one must not re-insert stale data.
        self._generation = 0
        # One database read per key at a time: when a hot key's entry expires, the requests in flight
        # for it share one load instead of each opening a connection.
        self._loading: dict[str, asyncio.Task[Principal]] = {}

    async def authenticate(self, raw_key: str | None, expired_user_ok: bool = False) -> Principal:
        """The key's principal. 401 for a missing, unknown or expired key; 403 when the user's account
        expired, unless `expired_user_ok` (GET /v1/me/info still answers such a user, as OpenGateLLM)."""
        if not raw_key:
            raise Unauthenticated("Missing API key: send 'Authorization: Bearer <key>'.")
        key_hash = hash_api_key(raw_key)
        principal = self._cached(key_hash)
        if principal is None:
            principal = await self._shared_load(key_hash, raw_key)
        return self._check_expiry(principal, expired_user_ok)

    async def principal_for_key(self, key_id: int | None) -> Principal:
        """The principal of a key by its id, as fresh as the database (a background job acting for the
        key that submitted it): 401 when the key is gone or expired, 403 when the user expired."""
        if key_id is None:
            raise Unauthenticated("The API key that submitted this job is unknown.")
        async with self._db.transaction() as session:
            rows = await repository.load_principal_rows_by_key_id(session, key_id)
            if rows is None:
                raise Unauthenticated("The API key that submitted this job was deleted.")
            principal = principal_from_rows(*rows)
        return self._check_expiry(principal)

    @staticmethod
    def _check_expiry(principal: Principal, expired_user_ok: bool = False) -> Principal:
        now = time.time()
        if principal.key_expires is not None and principal.key_expires <= now:
            raise Unauthenticated("API key expired.")
        if not expired_user_ok and principal.user_expires is not None and principal.user_expires <= now:
            raise PermissionDenied("User account expired.")
        return principal

    def _cached(self, key_hash: str) -> Principal | None:
        entry = self._cache.get(key_hash)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._cache.pop(key_hash, None)
            return None
        return entry[1]

    async def _shared_load(self, key_hash: str, raw_key: str) -> Principal:
        task = self._loading.get(key_hash)
        if task is None:
            task = asyncio.ensure_future(self._load(key_hash, raw_key))
            self._loading[key_hash] = task
            task.add_done_callback(lambda done: self._loaded(key_hash, done))
        # shielded: one caller going away must not cancel the load the others wait for
        return await asyncio.shield(task)

    def _loaded(self, key_hash: str, task: asyncio.Task[Principal]) -> None:
        if self._loading.get(key_hash) is task:
            del self._loading[key_hash]
        if not task.cancelled():
            task.exception()  # retrieved here too, in case every waiter went away

    async def _load(self, key_hash: str, raw_key: str) -> Principal:
        generation = self._generation
        async with self._db.transaction() as session:
            rows = await repository.load_principal_rows(session, key_hash)
            if rows is not None and rows[0].kind == KeyKind.MASTER.value:
                # stored before master keys were salted: salted now, on its first use
                await repository.set_key_hash(session, rows[0].id, salted_key_hash(raw_key))
            if rows is None:
                rows = await _master_rows(session, raw_key)
            if rows is None:
                raise Unauthenticated("Invalid API key.")
            principal = principal_from_rows(*rows)
        if self._ttl > 0 and generation == self._generation:
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[key_hash] = (time.monotonic() + self._ttl, principal)
        return principal

    def forget(self, key_hashes: list[str]) -> None:
        self._generation += 1
        for key_hash in key_hashes:
            self._cache.pop(key_hash, None)
            self._loading.pop(key_hash, None)  # a load begun before the change must not serve later calls

    def clear(self) -> None:
        """Forget everything: called after any change to users, roles or keys."""
        self._generation += 1
        self._cache.clear()
        self._loading.clear()
