"""Giving back what an admission held when a request ends without an answer, whatever ended it."""

from __future__ import annotations

import asyncio

from lockgate.accounting.service import Accountant, Admission, ProviderFacts
from lockgate.errors import AppError
from lockgate.gateway.runtime import ProviderRuntime

# Recorded when the client went away before the answer was complete (nginx's convention).
CLIENT_CLOSED = 499


def status_of(exc: BaseException | None) -> int:
    """The status a usage row records for a request that ended with `exc`."""
    if isinstance(exc, AppError):
        return exc.status_code
    if exc is None or isinstance(exc, Exception):
        return 500
    return CLIENT_CLOSED  # cancelled: the client left


def facts(provider: ProviderRuntime | None) -> ProviderFacts:
    if provider is None:
        return ProviderFacts(None, 0, 0, "WOR")
    return ProviderFacts(provider.id, provider.active_params, provider.total_params, provider.hosting_zone)


async def release_admission(
    accountant: Accountant, admission: Admission, exc: BaseException | None, provider_id: int | None = None
) -> None:
    """Release the holds and record the failed request. Shielded: a second cancellation while the
    limiter answers cannot leave a reservation behind."""
    await asyncio.shield(accountant.fail(admission, status_of(exc), provider_id))
