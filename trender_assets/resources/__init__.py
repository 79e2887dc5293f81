"""Resources: GitHub and the warehouse, each with domain methods."""

from trender_assets.resources.github import GitHubResource
from trender_assets.resources.settings import TrenderSettings
from trender_assets.resources.warehouse import WarehouseResource

__all__ = ["GitHubResource", "TrenderSettings", "WarehouseResource"]
