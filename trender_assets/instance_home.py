"""Where the command's Dagster instance lives, checked before Dagster is imported: a DAGSTER_HOME
that cannot be used is one line in a fraction of a second, not after seconds of start-up."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from trender_assets.errors import ConfigurationError
from trender_assets.environment import data_dir


def default_instance_home() -> Path:
    return (data_dir() / "dagster_home").absolute()  # Dagster requires DAGSTER_HOME to be absolute


def instance_home() -> Path:
    """DAGSTER_HOME, or trender's default instance folder ($TRENDER_DATA_DIR/dagster_home) when unset."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) if home else default_instance_home()


def prepare_instance_home(home: Path) -> None:
    """Create the instance folder, or say in one line why it cannot be used."""
    name = "DAGSTER_HOME" if os.environ.get("DAGSTER_HOME") else "the Dagster instance folder"
    if not home.is_absolute():
        raise ConfigurationError(f"{name} {home} must be an absolute path")
    unusable = sorted(set("?%") & set(str(home)))
    if unusable:  # Dagster writes the path into its SQLite storage's URL unescaped
        raise ConfigurationError(f"{name} {home} contains {' and '.join(map(repr, unusable))}, which Dagster's "
                                 "storage cannot use in a path: choose a folder without them")
    if home.exists() and not home.is_dir():
        raise ConfigurationError(f"{name} {home} is a file, not a folder")
    blocking = next((p for p in home.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ConfigurationError(f"{name} {home} cannot be created: {blocking} is a file")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"{name} {home} cannot be created: {exc.strerror or exc}") from None
    try:
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        raise ConfigurationError(f"{name} {home} is not writable: {exc.strerror or exc}") from None
