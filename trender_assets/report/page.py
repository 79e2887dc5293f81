"""The daily trending report as one self-contained static HTML page, rendered from a Jinja2 template.

Descriptions and READMEs come from GitHub and are untrusted: the template autoescapes everything it
is given, and READMEs arrive already sanitized (``readme.render_readme``). The page carries no
JavaScript and a Content-Security-Policy that forbids scripts and remote loads, as a second wall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Mapping, Optional, Sequence

import jinja2
from markupsafe import Markup

from trender_assets.report.readme import render_readme, repository_url

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 132, 36, 3

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("trender_assets.report", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
)


@dataclass(frozen=True)
class ReportCard:
    """One repository in one category of the day."""

    category: str
    repo_id: int
    full_name: str
    html_url: Optional[str]
    description: Optional[str]
    stars: int
    star_velocity: Optional[float]
    """Stars per day since the previous snapshot; None when this is the first one."""
    momentum: float
    rank_in_language: int
    rank_overall: int
    age_days: int
    history: Sequence[tuple[date, int]] = field(default_factory=tuple)
    """(day, stars) up to and including the report day, oldest first."""
    readme_markdown: Optional[str] = None
    readme_html: Optional[str] = None
    """The README already rendered (``render_readme``), e.g. from a cache; else it is rendered here."""
    observed_late: bool = False
    """Its stars were fetched after its day (a backfill): shown as observed later, with no velocity."""


def format_count(n: int) -> str:
    if n >= 100_000:
        return f"{n / 1000:.0f}k"
    if n >= 10_000:
        return f"{n / 1000:.1f}k"
    return f"{n:,}"


def velocity_text(card: ReportCard) -> str:
    """A late snapshot's stars are a later fetch's: it has no velocity to show, only that."""
    return "observed later" if card.observed_late else format_velocity(card.star_velocity)


def format_velocity(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "new"
    sign = "+" if v > 0 else ("−" if v < 0 else "±")
    magnitude = abs(v)
    number = f"{magnitude:,.0f}" if magnitude >= 100 else f"{magnitude:.1f}"
    return f"{sign}{number}/day"


@dataclass(frozen=True)
class Sparkline:
    """Stars over time as the template draws it: x by day, y scaled to the window's range."""

    label: str
    line: str = ""
    area: str = ""
    dot: Optional[tuple[float, float]] = None
    width: int = SPARK_WIDTH
    height: int = SPARK_HEIGHT


def sparkline(history: Sequence[tuple[date, int]]) -> Sparkline:
    points = sorted(history)
    if not points:
        return Sparkline("no star history")
    first, last = points[0], points[-1]
    label = (f"stars {first[1]:,} on {first[0]} → {last[1]:,} on {last[0]}" if (last[0] - first[0]).days
             else f"stars {last[1]:,} on {last[0]} (first snapshot)")
    span_days = max((last[0] - first[0]).days, 1)
    low, high = min(s for _, s in points), max(s for _, s in points)
    inner_w, inner_h = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD

    def xy(day: date, stars: int) -> tuple[float, float]:
        x = SPARK_PAD + inner_w * ((day - first[0]).days / span_days if len(points) > 1 else 1.0)
        y = SPARK_PAD + inner_h * (0.5 if high == low else 1 - (stars - low) / (high - low))
        return round(x, 1), round(y, 1)

    coords = [xy(d, s) for d, s in points]
    if len(coords) == 1:
        return Sparkline(label, dot=coords[0])
    line = " ".join(f"{x},{y}" for x, y in coords)
    floor = SPARK_HEIGHT - SPARK_PAD
    return Sparkline(label, line=line, area=f"{coords[0][0]},{floor} {line} {coords[-1][0]},{floor}", dot=coords[-1])


def sparkline_svg(history: Sequence[tuple[date, int]]) -> str:
    """A small inline SVG of stars over time, as the page shows it."""
    return str(_TEMPLATES.get_template("card.html.j2").module.sparkline(sparkline(history)))


def _history_caption(history: Sequence[tuple[date, int]]) -> str:
    if len(history) < 2:
        return "stars: first snapshot"
    first = min(d for d, _ in history)
    return f"stars since {first.day} {first:%b}"


def _card_view(card: ReportCard) -> dict:
    """What the template shows of a card: plain values (escaped there), and the sanitized README."""
    url = repository_url(card.full_name, card.html_url)
    owner, _, name = card.full_name.partition("/")
    velocity = card.star_velocity or 0
    readme = card.readme_html
    if readme is None and card.readme_markdown and card.readme_markdown.strip():
        readme = render_readme(card.readme_markdown, url)
    return {
        "category": card.category, "repo_id": card.repo_id, "full_name": card.full_name, "url": url,
        "owner": owner, "name": name or owner, "description": card.description,
        "stars": format_count(card.stars), "velocity": velocity_text(card), "observed_late": card.observed_late,
        "trend": "late" if card.observed_late else "up" if velocity > 0 else ("down" if velocity < 0 else "flat"),
        "momentum": card.momentum, "momentum_pct": max(0.0, min(1.0, card.momentum)) * 100,
        "rank_in_language": card.rank_in_language, "rank_overall": card.rank_overall, "age_days": card.age_days,
        "spark": sparkline(card.history), "caption": _history_caption(card.history),
        "readme": Markup(readme) if readme else None,  # sanitized by render_readme (nh3)
    }


def order_cards(cards: Sequence[ReportCard]) -> list[ReportCard]:
    """By momentum, best first; rank breaks exact ties."""
    return sorted(cards, key=lambda c: (-c.momentum, c.rank_in_language, c.full_name))


def render_report(day: date, cards: Sequence[ReportCard], sections: Sequence[tuple[str, str]],
                  generated_at: datetime, rising: Sequence = (), late: Mapping[str, int] = {}) -> str:
    """The whole page: one section per (category, title), cards ordered by momentum; then the
    rising table of each category that has one (``report.rising.RisingRow``s, in rank order), and
    per category how many late snapshots of the week it left out (``report.rising.late_snapshots``)."""
    shown = [{"category": category, "title": title,
              "cards": [_card_view(c) for c in order_cards([c for c in cards if c.category == category])]}
             for category, title in sections]
    titles = dict(sections)
    risers = [{"category": category, "title": titles.get(category, category),
               "rows": [r for r in rising if r.category == category], "late": late.get(category, 0)}
              for category in [*titles, *sorted(({r.category for r in rising} | set(late)) - set(titles))]]
    return _TEMPLATES.get_template("page.html.j2").render(
        day=day, sections=shown, total=len({c.repo_id for c in cards}), generated_at=generated_at,
        rising=[r for r in risers if r["rows"] or r["late"]], format_count=format_count,
        late_cards=sum(c.observed_late for c in cards),
        csp=Markup(CSP),  # ours; its quotes stay as the policy's syntax reads best
    )


def summary_markdown(cards: Sequence[ReportCard], sections: Sequence[tuple[str, str]], top: int = 5) -> str:
    """Top ``top`` per category as Markdown tables, for the asset's metadata."""
    parts = []
    for category, title in sections:
        members = order_cards([c for c in cards if c.category == category])[:top]
        if not members:
            continue
        rows = ["| rank | repository | stars | velocity | momentum |", "|---:|---|---:|---:|---:|"]
        for c in members:
            name = c.full_name.replace("|", "\\|")
            rows.append(f"| {c.rank_in_language} | {name} | {c.stars:,} | "
                        f"{velocity_text(c)} | {c.momentum:.4f} |")
        parts.append(f"**{title}**\n\n" + "\n".join(rows))
    return "\n\n".join(parts) or "_no repositories this day_"
