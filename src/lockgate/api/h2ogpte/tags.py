"""h2oGPTe tags routes (filled in by the h2oGPTe surface work)."""

from lockgate.api.h2ogpte.common import h2ogpte_router

router = h2ogpte_router("tags")
