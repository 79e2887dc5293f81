"""GitHub, free of Dagster: the client trender fetches with, and what it needs around it.

``client`` (the domain questions) over ``transport`` (HTTP, the token pool, rate limits, ETags and
the one retry policy), with ``search``, ``readmes`` and ``graphql`` for each kind of request;
``ratelimit``, ``credentials``, ``cache`` and ``telemetry`` hold what outlives one request.
``resources.github.GitHubResource`` wraps it for Dagster.
"""

from trender_assets.github.client import GitHubClient
from trender_assets.github.readmes import README_STATUSES, Readme
from trender_assets.github.telemetry import Telemetry

__all__ = ["GitHubClient", "README_STATUSES", "Readme", "Telemetry"]
