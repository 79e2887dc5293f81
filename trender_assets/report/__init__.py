"""The daily report page, without Dagster: the cards read from the warehouse (``cards``), README
excerpts rendered and sanitized (``readme``) and cached (``readme_cache``), and the page rendered
from a Jinja2 template with autoescaping (``page``, ``templates/``)."""
