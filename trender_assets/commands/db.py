"""``trender db``: the embedded PostgreSQL's URL, and stopping it."""

from __future__ import annotations

import os

import click


@click.group()
def db() -> None:
    """The embedded PostgreSQL (used when DATABASE_URL is unset)."""


@db.command()
def url() -> None:
    """Print the warehouse's URL, e.g. for psql: DATABASE_URL's (password hidden), else the embedded
    server's, saying whether it is running. It starts nothing: `db url` after `db stop` leaves the
    server stopped."""
    from trender_assets.warehouse.engine import normalize_url, shown_url

    configured = os.environ.get("DATABASE_URL")
    if configured:
        click.echo(shown_url(normalize_url(configured)))
        click.echo("trender: notice: the warehouse is the server named by DATABASE_URL (password hidden)", err=True)
        return
    from trender_assets.errors import WarehouseUnavailable
    from trender_assets.warehouse.embedded import embedded_url_if_any, pgdata_dir

    address, running = embedded_url_if_any()
    if address is None:
        raise WarehouseUnavailable(f"no embedded PostgreSQL in {pgdata_dir()} yet: the first command that needs "
                                   "the warehouse (e.g. trender run) creates and starts it")
    click.echo(address.replace("+psycopg", "", 1))
    if running:
        click.echo(f"trender: notice: the embedded PostgreSQL in {pgdata_dir()} is running", err=True)
    else:
        click.echo(f"trender: notice: the embedded PostgreSQL in {pgdata_dir()} is not running; the next command "
                   "that needs the warehouse (e.g. trender run) starts it", err=True)


@db.command()
@click.option("--force", is_flag=True, help="Stop it even while other processes use it (disconnects them).")
def stop(force: bool) -> None:
    """Stop the embedded server (checked with pg_ctl status; refused while other processes use it)."""
    from trender_assets.warehouse.embedded import stop_embedded_server

    click.echo(stop_embedded_server(force=force))
    if os.environ.get("DATABASE_URL"):
        click.echo("trender: notice: DATABASE_URL is set, so the warehouse is that server, not the embedded one",
                   err=True)
