"""Import every domain's ORM models so Base.metadata is complete (for Alembic and tests)."""

from lockgate.accounting import models as accounting_models  # noqa: F401
from lockgate.gateway import models as gateway_models  # noqa: F401
from lockgate.identity import models as identity_models  # noqa: F401
from lockgate.kit.db import Base

metadata = Base.metadata
