"""README excerpts for the report, rendered once per unchanged text and kept in the warehouse.

Rendering Markdown and sanitizing it costs ~10 ms per excerpt; a day shows ~90 READMEs that rarely
change between days, so the report reads them from ``report_readme_html`` and renders only new ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date
from importlib.metadata import version
from typing import Sequence

import sqlalchemy as sa

from trender_assets.report.page import ReportCard
from trender_assets.report.readme import README_MAX_CHARS, render_readme, repository_url

RENDERER = f"readme-v2|{README_MAX_CHARS}|markdown-it-py {version('markdown-it-py')}|nh3 {version('nh3')}"
"""Part of every key: a change of excerpt size, renderer or sanitizer invalidates what was cached."""


def _key(card: ReportCard) -> str:
    url = repository_url(card.full_name, card.html_url)
    return hashlib.sha256(f"{RENDERER}\0{url}\0{card.readme_markdown}".encode("utf-8", "surrogatepass")).hexdigest()


def with_rendered_readmes(engine: sa.Engine, cards: Sequence[ReportCard],
                          day: date) -> tuple[list[ReportCard], int, int]:
    """The cards with ``readme_html`` set, and how many distinct excerpts were rendered now and reused."""
    wanted = {_key(c): c for c in cards if c.readme_markdown and c.readme_markdown.strip()}
    with engine.begin() as conn:
        cached = dict(conn.execute(sa.text(
            "update report_readme_html set used_on = greatest(used_on, :d) where cache_key = any(:keys)"
            " returning cache_key, html"), {"keys": list(wanted), "d": day}).all())
        fresh = {key: render_readme(card.readme_markdown, repository_url(card.full_name, card.html_url))
                 for key, card in wanted.items() if key not in cached}
        if fresh:
            conn.execute(sa.text(
                "insert into report_readme_html (cache_key, html, used_on) values (:k, :h, :d)"
                " on conflict (cache_key) do update set used_on = greatest(report_readme_html.used_on, :d)"),
                [{"k": k, "h": h, "d": day} for k, h in fresh.items()])
    rendered = {**cached, **fresh}
    out = [dataclasses.replace(c, readme_html=rendered.get(_key(c))) if c.readme_markdown else c for c in cards]
    return out, len(fresh), len(cached)
