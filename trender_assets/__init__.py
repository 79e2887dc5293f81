"""trender: daily snapshots of GitHub's trending repositories, as Dagster assets over PostgreSQL."""

__version__ = "0.1.0"
