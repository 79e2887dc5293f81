"""The code location and the Dagster instance, loaded once a command's input is known to be good."""

from __future__ import annotations


def load():
    """Definitions and instance, loaded only once arguments and the instance folder are valid
    (importing Dagster takes a second)."""
    from trender_assets.instance_home import instance_home, prepare_instance_home

    prepare_instance_home(instance_home())
    from trender_assets.definitions import defs
    from trender_assets.runner import get_instance

    return defs, get_instance()
