"""h2oGPTe uploads and jobs routes (filled in by the h2oGPTe surface work)."""

from lockgate.api.h2ogpte.common import h2ogpte_router

router = h2ogpte_router("uploads and jobs")
