"""Models declared in the config file become routers and providers in the database at startup.

The file is the source of truth for what it declares: routers it no longer lists are removed, and
each declared router's providers are replaced by the declared ones. Upstreams are not contacted
here: a dead upstream never stops Lockgate from starting (the registry probes in the background)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from lockgate.errors import Conflict
from lockgate.gateway import repository
from lockgate.gateway.admin import bump, check_provider_fits
from lockgate.gateway.declared import ModelSettings
from lockgate.gateway.models import Provider, Router
from lockgate.kit.crypto import SecretBox
from lockgate.kit.db import Database

# Provider settings carried in a local provider's url (local:///model.gguf?n_ctx=...), not columns.
LOCAL_ENGINE_FIELDS = {"key", "model_path", "chat_format", "n_ctx", "n_threads"}


async def sync_config_models(
    db: Database, box: SecretBox, models: list[ModelSettings], owner_id: int | None = None
) -> None:
    """`owner_id`: the master user, who owns the declared routers and providers (as in OpenGateLLM,
    where they are never ownerless). Safe on several processes at once (`lockgate serve --workers N`,
    replicas on one database): a lost race on a router's name is retried and finds the winner's rows."""
    for model in models:
        for provider in model.providers:
            check_provider_fits(provider.type.value, model.type.value)
    for attempt in range(3):
        try:
            return await _sync_once(db, box, models, owner_id)
        except (IntegrityError, Conflict):  # a Conflict too: the winner's router may commit between
            if attempt == 2:  # our lookup of it (none) and of its names (taken); a real one stays
                raise


async def _sync_once(db: Database, box: SecretBox, models: list[ModelSettings], owner_id: int | None) -> None:
    declared = {m.name for m in models}
    async with db.transaction() as session:
        for undeclared in await repository.config_routers(session):
            if undeclared.name not in declared:
                await repository.delete_providers_of(session, undeclared.id)
                await session.delete(undeclared)
        await session.flush()
        for model in models:
            router = await repository.get_router_by_name(session, model.name)
            taken = await repository.names_taken(
                session, [model.name, *model.aliases], except_router=router.id if router else None
            )
            if (router is None and taken) or (router is not None and set(taken) - {model.name}):
                raise Conflict(f"config model '{model.name}': name or alias already used: {', '.join(taken)}")
            if router is None:
                router = await repository.add(
                    session, Router(name=model.name, type=model.type.value, aliases=[])
                )
            router.type = model.type.value
            router.load_balancing_strategy = model.load_balancing_strategy.value
            router.cost_prompt_tokens = model.cost_prompt_tokens
            router.cost_completion_tokens = model.cost_completion_tokens
            router.from_config = True
            router.user_id = owner_id
            router.updated = bump(router.updated or 0)
            router.aliases.clear()
            await session.flush()
            repository.set_aliases(router, model.aliases)
            # Providers keep their ids across restarts (usage rows and metrics refer to them): match
            # the declared ones on (url, model_name), update them in place, drop the undeclared ones.
            existing = {(p.url, p.model_name): p for p in await repository.providers_of(session, router.id)}
            for declared_provider in model.providers:
                fields = declared_provider.model_dump(exclude=LOCAL_ENGINE_FIELDS)
                fields["type"] = declared_provider.type.value
                fields["qos_metric"] = (
                    declared_provider.qos_metric.value if declared_provider.qos_metric else None
                )
                fields["url"] = (declared_provider.url or "").rstrip("/")  # set for every type by then
                fields["user_id"] = owner_id
                fields["from_config"] = True  # the operator's: past the SSRF guard (gateway/egress.py)
                key = declared_provider.key or None
                row = existing.pop((fields["url"], fields["model_name"]), None)
                if row is None:
                    session.add(
                        Provider(
                            **fields, router_id=router.id, key_encrypted=box.encrypt(key) if key else None
                        )
                    )
                    continue
                for name, value in fields.items():
                    setattr(row, name, value)
                if (box.decrypt(row.key_encrypted) if row.key_encrypted else None) != key:
                    row.key_encrypted = box.encrypt(key) if key else None
            for stale in existing.values():
                await session.delete(stale)
            await session.flush()
