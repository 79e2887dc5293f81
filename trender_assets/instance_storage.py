"""Where trender's default Dagster instance keeps its state: beside the warehouse, in PostgreSQL.

The top-level ``dagster.yaml`` (what plain ``dagster dev`` reads in the checkout when DAGSTER_HOME is
unset) and the copy ``trender`` writes into ``$TRENDER_DATA_DIR/dagster_home`` both name the classes
below. Each resolves its location when a process starts, so ``trender run``, ``trender dev``,
``dagster dev`` and every run worker they launch share one instance:

* runs, event logs, schedules and sensor ticks: the database ``dagster`` on the embedded server,
  beside the ``trender`` warehouse; with DATABASE_URL, the schema ``dagster`` of that database. A
  DATABASE_URL names the one database an operator granted (hosted PostgreSQL often gives no
  CREATEDB): a schema needs no second URL or privilege, keeps Dagster's ``runs``, ``jobs``... apart
  from the warehouse's tables, and goes wherever the warehouse is backed up or dropped;
* artifacts and captured step logs: ``$TRENDER_DATA_DIR/dagster_home``.

A user who sets DAGSTER_HOME keeps full control: their own ``dagster.yaml`` is the one read.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import sqlalchemy as sa
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from trender_assets.errors import ConfigurationError, WarehouseUnavailable
from trender_assets.instance_home import default_instance_home

INSTANCE_DATABASE = "dagster"  # on the embedded server
INSTANCE_SCHEMA = "dagster"  # in the database DATABASE_URL names
_CREATION_LOCK_KEY = 7_310_221_003  # arbitrary, constant, unlike the others: "create trender's Dagster instance storage"

DEFAULT_INSTANCE_YAML = """\
# trender's default Dagster instance. Every entry point shares it: `trender run`, `trender dev` and
# plain `dagster dev` in this folder (with DAGSTER_HOME unset; set DAGSTER_HOME to use your own).
# Runs and event logs: PostgreSQL, the `dagster` database of the embedded server, or the `dagster`
# schema of DATABASE_URL's database. Artifacts and step logs: $TRENDER_DATA_DIR/dagster_home.
# See trender_assets/instance_storage.py; production uses deploy/dagster.yaml instead.
storage:
  custom:
    module: trender_assets.instance_storage
    class: TrenderInstanceStorage
local_artifact_storage:
  module: trender_assets.instance_storage
  class: TrenderArtifactStorage
compute_logs:
  module: trender_assets.instance_storage
  class: TrenderComputeLogs
telemetry:
  enabled: false
"""
# what earlier versions wrote into the default home (its runs stayed in SQLite there)
_LEGACY_DEFAULT_YAML = "# trender's default Dagster instance: local storage in this folder\n"


def write_default_config(home: Path) -> None:
    """Put trender's dagster.yaml into the default home, unless someone wrote their own there."""
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() == _LEGACY_DEFAULT_YAML:
        staged = home / f".dagster.yaml.{os.getpid()}.tmp"
        staged.write_text(DEFAULT_INSTANCE_YAML)
        os.replace(staged, config)  # atomic: a process starting beside us reads all of it or none


@dataclass(frozen=True)
class StorageLocation:
    url: sa.URL  # what dagster-postgres connects to (psycopg2, as it expects)
    schema: Optional[str] = None  # set when the storage is a schema of the warehouse database


def storage_location() -> StorageLocation:
    """Where the default instance's storage is, resolved from DATABASE_URL now."""
    configured = os.environ.get("DATABASE_URL")
    if configured is not None and not configured.strip():
        raise ConfigurationError("DATABASE_URL is set but empty: unset it to use the embedded PostgreSQL")
    if configured:
        from trender_assets.warehouse.engine import normalize_url

        url = normalize_url(configured)
        options = " ".join(filter(None, [url.query.get("options"), f"-csearch_path={INSTANCE_SCHEMA}"]))
        url, schema = url.update_query_dict({"options": options}), INSTANCE_SCHEMA
    else:
        from trender_assets.warehouse.embedded import embedded_database_url

        url, schema = sa.make_url(embedded_database_url()).set(database=INSTANCE_DATABASE), None
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres is built on psycopg2
    return StorageLocation(url.set(drivername="postgresql+psycopg2"), schema)


@contextlib.contextmanager
def _creation_lock(location: StorageLocation) -> Iterator[None]:
    """Create the database or schema, and hold an advisory lock while Dagster creates its tables.

    dagster-postgres creates missing tables when a storage is constructed; processes starting at
    once on an empty database collide, and it recovers by retrying (five times, each with a warning
    on stderr). Under the lock one process creates, the others find the tables, and CREATE DATABASE
    or SCHEMA cannot race either. The lock dies with its connection, so a crash leaves nothing held.
    """
    url = location.url
    lock_url = url if location.schema else url.set(database="postgres")  # the database may not exist yet
    engine = sa.create_engine(lock_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": _CREATION_LOCK_KEY})
            try:
                if location.schema:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{location.schema}"'))
                elif not conn.execute(sa.text("select 1 from pg_database where datname = :d"),
                                      {"d": url.database}).first():
                    conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
                yield
            finally:
                conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": _CREATION_LOCK_KEY})
    finally:
        engine.dispose()


def _unavailable(url: sa.URL, exc: BaseException) -> WarehouseUnavailable:
    cause = getattr(exc, "__cause__", None) or exc
    cause = getattr(cause, "orig", None) or cause
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    where = url.render_as_string(hide_password=True)
    return WarehouseUnavailable(f"cannot open Dagster's instance storage in {where}: {reason}")


class TrenderInstanceStorage(DagsterPostgresStorage):
    """dagster-postgres storage at the location trender resolves when the process starts."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: Optional[ConfigurableClassData], config_value) -> "TrenderInstanceStorage":
        location = storage_location()
        try:
            with _creation_lock(location):
                return cls(postgres_url=location.url.render_as_string(hide_password=False), inst_data=inst_data)
        except Exception as exc:  # dagster-postgres retries, then raises its own plain exception
            raise _unavailable(location.url, exc) from exc

    # The parent derives these from its own config schema, which ours is not; nothing in Dagster
    # reads them for a unified storage, so say there are none rather than a wrong one.
    @property
    def event_storage_data(self) -> Optional[ConfigurableClassData]:
        return None

    @property
    def run_storage_data(self) -> Optional[ConfigurableClassData]:
        return None

    @property
    def schedule_storage_data(self) -> Optional[ConfigurableClassData]:
        return None


class TrenderArtifactStorage(LocalArtifactStorage):
    """Local artifacts in the default home, wherever the instance was opened from."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: Optional[ConfigurableClassData], config_value) -> "TrenderArtifactStorage":
        return cls(str(default_instance_home()), inst_data=inst_data)


class TrenderComputeLogs(LocalComputeLogManager):
    """Captured step logs in the default home, so they outlive a `dagster dev` temporary folder."""

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: Optional[ConfigurableClassData], config_value) -> "TrenderComputeLogs":
        return cls(str(default_instance_home() / "storage"), inst_data=inst_data)
