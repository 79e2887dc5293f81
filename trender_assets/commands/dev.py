"""``trender dev``: Dagster's UI and daemon on this project, on the instance ``trender run`` uses."""

from __future__ import annotations

import os
import sys

import click


# no -h for help: it is dagster dev's --host
@click.command(context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def dev(dagster_args: tuple[str, ...]) -> None:
    """Start `dagster dev` on this project, sharing the instance `trender run` uses.

    It works from any folder: the workspace file ships inside the package. With DAGSTER_HOME unset,
    Dagster opens trender's default instance ($TRENDER_DATA_DIR/dagster_home, the one `trender run`
    writes its dagster.yaml into); a DAGSTER_HOME you set serves both.
    """
    from importlib import resources

    if not os.environ.get("DAGSTER_HOME"):
        from trender_assets.instance_home import prepare_instance_home
        from trender_assets.instance_storage import TrenderInstanceStorage, default_instance_home, write_default_config

        home = default_instance_home()
        prepare_instance_home(home)
        write_default_config(home)
        TrenderInstanceStorage.from_config_value(None, {})  # start and create it now: one line if that fails
        os.environ["DAGSTER_HOME"] = str(home)
    workspace = resources.files("trender_assets") / "workspace.yaml"
    os.execvp(sys.executable, [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), *dagster_args])
