"""The warehouse as a Dagster resource; the engine itself is built in ``trender_assets.warehouse``."""

from __future__ import annotations

from typing import Optional

import dagster as dg
import sqlalchemy as sa
from pydantic import PrivateAttr

from trender_assets.resources.env import resolved
from trender_assets.warehouse.engine import shared_engine


class WarehouseResource(dg.ConfigurableResource):
    """SQLAlchemy engine over the warehouse; the schema in ``sql/`` is applied before the first write.

    ``database_url`` comes from ``EnvVar("DATABASE_URL")`` so the UI shows the variable's name, not
    the URL (which may hold a password). Unset means the embedded PostgreSQL.
    """

    database_url: Optional[str] = None
    _engine: Optional[sa.Engine] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._engine = shared_engine(self.database_url)

    @property
    def engine(self) -> sa.Engine:
        """The process's engine for this warehouse (``shared_engine``): it outlives a run, so the next
        run of the same process, and the GitHub resource's nested copy of this one, reuse its pool."""
        if self._engine is None:  # used outside a run (CLI, tests): EnvVar is not resolved for us
            self._engine = shared_engine(resolved(self.database_url))
        return self._engine
