"""trender: daily snapshots of GitHub's trending repositories, as Dagster assets over PostgreSQL."""

__version__ = "0.1.0"

import logging

logging.getLogger("trender").addHandler(logging.NullHandler())  # a library: the app decides what prints
