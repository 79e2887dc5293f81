"""The daily trending report as one self-contained static HTML page (no Dagster imports).

Descriptions and READMEs come from GitHub and are untrusted. Descriptions are escaped as text.
READMEs are rendered from Markdown with markdown-it-py and the result is sanitized with nh3
(ammonia): an allowlist of tags and attributes, no ``<script>``/``<style>`` (content dropped), no
event handlers, only http(s)/mailto links, relative links resolved against the repository on
GitHub, and no images (the page loads nothing from elsewhere). The page itself carries no
JavaScript and a Content-Security-Policy that forbids scripts and remote loads, as a second wall.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Optional, Sequence
from urllib.parse import quote, urljoin, urlsplit

import nh3
from markdown_it import MarkdownIt

README_MAX_CHARS = 6_000
"""The report shows an excerpt: READMEs longer than this are cut (at a line break) and link to the
full text on GitHub. A digest page of ~90 cards stays small, and rendering stays cheap."""

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 132, 36, 3

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_SAFE_SCHEMES = {"http", "https", "mailto"}
_README_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "ul", "var",
}
_README_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "abbr": {"title"},
}


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


# --------------------------------------------------------------------------------------------
# untrusted text


def safe_url(url: Optional[str], base: Optional[str] = None) -> Optional[str]:
    """An absolute http(s)/mailto URL, or None. Relative URLs are resolved against ``base``."""
    if not url:
        return None
    url = url.strip()
    if any(ord(c) < 0x20 or c.isspace() for c in url):  # "java\tscript:", newlines: never a real link
        return None
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_SCHEMES:
        return None
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return None
    return url


def repository_url(full_name: str, html_url: Optional[str]) -> str:
    return safe_url(html_url) or f"https://github.com/{quote(full_name, safe='/')}"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])

    def image_as_link(renderer, tokens, idx, options, env):  # load nothing: show the image as a link
        token = tokens[idx]
        alt = "".join(t.content for t in (token.children or [])) or "image"
        src = token.attrGet("src") or ""
        return f'<a href="{html.escape(str(src))}">[image: {html.escape(alt)}]</a>'

    md.add_render_rule("image", image_as_link)
    return md


_MD = _markdown()


def sanitize_html(fragment: str, repo_url: Optional[str] = None) -> str:
    """Allowlist-sanitize an HTML fragment from an untrusted source. Relative links resolve against
    the repository's files on GitHub (``repo_url``); without it they are dropped."""
    base = repo_url.rstrip("/") + "/blob/HEAD/" if repo_url else None

    def keep(tag: str, attribute: str, value: str) -> Optional[str]:
        if attribute == "href":
            if repo_url and value.startswith("#"):
                return safe_url(repo_url.rstrip("/") + value)
            return safe_url(value, base)
        return value

    return nh3.clean(
        fragment,
        tags=_README_TAGS,
        clean_content_tags={"script", "style", "noscript", "template", "iframe", "object", "svg", "math"},
        attributes=_README_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )


def render_readme(markdown: str, repo_url: str) -> str:
    """README Markdown -> sanitized HTML; relative links point into the repository on GitHub."""
    text = markdown
    truncated = len(text) > README_MAX_CHARS
    if truncated:
        cut = text.rfind("\n", 0, README_MAX_CHARS)
        text = text[: cut if cut > README_MAX_CHARS // 2 else README_MAX_CHARS]
    rendered = sanitize_html(_MD.render(text), repo_url=repo_url)
    if truncated:
        rendered += (f'<p class="cut">README shortened here — <a href="{html.escape(repo_url)}#readme" '
                     f'rel="noopener noreferrer nofollow">read it all on GitHub</a>.</p>')
    return rendered


# --------------------------------------------------------------------------------------------
# numbers and the sparkline


def format_count(n: int) -> str:
    if n >= 100_000:
        return f"{n / 1000:.0f}k"
    if n >= 10_000:
        return f"{n / 1000:.1f}k"
    return f"{n:,}"


def format_velocity(v: Optional[float]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "new"
    sign = "+" if v > 0 else ("−" if v < 0 else "±")
    magnitude = abs(v)
    number = f"{magnitude:,.0f}" if magnitude >= 100 else f"{magnitude:.1f}"
    return f"{sign}{number}/day"


def sparkline_svg(history: Sequence[tuple[date, int]]) -> str:
    """A small inline SVG of stars over time (x by day, y scaled to the window's range)."""
    points = sorted(history)
    label = "no star history"
    if points:
        first, last = points[0], points[-1]
        span = (last[0] - first[0]).days
        label = (f"stars {first[1]:,} on {first[0]} → {last[1]:,} on {last[0]}"
                 if span else f"stars {last[1]:,} on {last[0]} (first snapshot)")
    head = (f'<svg class="spark" width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" '
            f'viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" role="img" aria-label="{html.escape(label)}">'
            f"<title>{html.escape(label)}</title>")
    if not points:
        return head + "</svg>"
    day0 = points[0][0]
    span_days = max((points[-1][0] - day0).days, 1)
    low, high = min(s for _, s in points), max(s for _, s in points)
    inner_w, inner_h = SPARK_WIDTH - 2 * SPARK_PAD, SPARK_HEIGHT - 2 * SPARK_PAD

    def xy(day: date, stars: int) -> tuple[float, float]:
        x = SPARK_PAD + inner_w * ((day - day0).days / span_days if len(points) > 1 else 1.0)
        y = SPARK_PAD + inner_h * (0.5 if high == low else 1 - (stars - low) / (high - low))
        return round(x, 1), round(y, 1)

    coords = [xy(d, s) for d, s in points]
    body = ""
    if len(coords) > 1:
        line = " ".join(f"{x},{y}" for x, y in coords)
        area = f"{coords[0][0]},{SPARK_HEIGHT - SPARK_PAD} {line} {coords[-1][0]},{SPARK_HEIGHT - SPARK_PAD}"
        body += f'<polygon class="area" points="{area}"/><polyline class="line" points="{line}"/>'
    x, y = coords[-1]
    body += f'<circle class="dot" cx="{x}" cy="{y}" r="2.6"/>'
    return head + body + "</svg>"


# --------------------------------------------------------------------------------------------
# the page


def _history_caption(history: Sequence[tuple[date, int]]) -> str:
    if len(history) < 2:
        return "stars: first snapshot"
    first = min(d for d, _ in history)
    return f"stars since {first.day} {first:%b}"


def _card(card: ReportCard) -> str:
    e = html.escape
    url = repository_url(card.full_name, card.html_url)
    owner, _, name = card.full_name.partition("/")
    description = (f'<p class="desc">{e(card.description)}</p>' if card.description
                   else '<p class="desc none">No description.</p>')
    velocity = format_velocity(card.star_velocity)
    trend = "up" if (card.star_velocity or 0) > 0 else ("down" if (card.star_velocity or 0) < 0 else "flat")
    rendered = card.readme_html
    if rendered is None and card.readme_markdown and card.readme_markdown.strip():
        rendered = render_readme(card.readme_markdown, url)
    readme = (f'<details class="readme"><summary>README</summary><div class="md">{rendered}</div></details>'
              if rendered else '<p class="noreadme">No README.</p>')
    momentum_pct = max(0.0, min(1.0, card.momentum)) * 100
    return (
        f'<article class="card" id="{e(card.category)}-{card.repo_id}" data-repo="{e(card.full_name)}" '
        f'data-momentum="{card.momentum:.6f}" data-rank="{card.rank_in_language}">'
        f'<div class="rank" title="rank {card.rank_in_language} in {e(card.category)}, '
        f'{card.rank_overall} overall">{card.rank_in_language}</div>'
        f'<div class="main">'
        f'<h3><a href="{e(url)}" rel="noopener noreferrer nofollow">'
        f'<span class="owner">{e(owner)}/</span><span class="name">{e(name or owner)}</span></a></h3>'
        f"{description}"
        f'<ul class="stats">'
        f'<li><span class="k">Stars</span><span class="v">{e(format_count(card.stars))}</span></li>'
        f'<li class="vel {trend}"><span class="k">Velocity</span><span class="v">{e(velocity)}</span></li>'
        f'<li><span class="k">Momentum</span><span class="v">{card.momentum:.3f}</span>'
        f'<span class="bar"><span style="width:{momentum_pct:.1f}%"></span></span></li>'
        f'<li><span class="k">Age</span><span class="v">{card.age_days} d</span></li>'
        f'<li><span class="k">Overall</span><span class="v">#{card.rank_overall}</span></li>'
        f"</ul></div>"
        f'<div class="trend">{sparkline_svg(card.history)}<span class="cap">{e(_history_caption(card.history))}</span></div>'
        f"{readme}</article>"
    )


def order_cards(cards: Sequence[ReportCard]) -> list[ReportCard]:
    """By momentum, best first; rank breaks exact ties."""
    return sorted(cards, key=lambda c: (-c.momentum, c.rank_in_language, c.full_name))


def render_report(day: date, cards: Sequence[ReportCard], sections: Sequence[tuple[str, str]],
                  generated_at: datetime, note: str = "") -> str:
    """The whole page: one section per (category, title), cards ordered by momentum."""
    e = html.escape
    by_category: dict[str, list[ReportCard]] = {}
    for card in cards:
        by_category.setdefault(card.category, []).append(card)
    nav, body = [], []
    for category, title in sections:
        members = order_cards(by_category.get(category, []))
        nav.append(f'<a href="#{e(category)}">{e(title)} <span>{len(members)}</span></a>')
        items = "".join(_card(c) for c in members) or \
            '<p class="empty">No repositories in this category today.</p>'
        body.append(f'<section id="{e(category)}" data-category="{e(category)}">'
                    f'<h2>{e(title)} <span class="count">{len(members)}</span></h2>{items}</section>')
    total = len({c.repo_id for c in cards})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>GitHub trending — {day.isoformat()}</title>
<style>{_CSS}</style></head>
<body><header><div class="wrap">
<h1>GitHub trending <time datetime="{day.isoformat()}">{day:%A}, {day.day} {day:%B %Y}</time></h1>
<p class="sub">{total} repositories · ordered by momentum = 0.7 × recency + 0.3 × stars / category's most
stars · velocity = stars per day since the previous snapshot{(' · ' + e(note)) if note else ''}</p>
<nav>{''.join(nav)}</nav></div></header>
<main class="wrap">{''.join(body)}</main>
<footer class="wrap">Generated by trender at {e(generated_at.strftime('%Y-%m-%d %H:%M UTC'))} from
fact_repo_snapshots and dim_repositories. READMEs and descriptions are shown as GitHub served them,
sanitized; images are shown as links.</footer>
</body></html>
"""


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
                        f"{format_velocity(c.star_velocity)} | {c.momentum:.4f} |")
        parts.append(f"**{title}**\n\n" + "\n".join(rows))
    return "\n\n".join(parts) or "_no repositories this day_"


_CSS = """
:root{--bg:#f6f7f9;--card:#fff;--ink:#1b1f24;--muted:#5b6470;--line:#e3e6ea;--accent:#2f6feb;
--up:#1a7f37;--down:#cf222e;--spark:#2f6feb;--spark-fill:rgba(47,111,235,.10)}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.wrap{max-width:980px;margin:0 auto;padding:0 20px}
header{background:#fff;border-bottom:1px solid var(--line);padding:22px 0 0;margin-bottom:8px}
h1{font-size:24px;margin:0 0 4px;letter-spacing:-.01em}
h1 time{color:var(--muted);font-weight:500;margin-left:6px}
.sub{color:var(--muted);margin:0 0 14px;font-size:13px}
nav{display:flex;gap:4px;flex-wrap:wrap}
nav a{padding:8px 12px;color:var(--ink);text-decoration:none;border-bottom:2px solid transparent;font-weight:500}
nav a:hover{border-bottom-color:var(--accent)}
nav a span{background:var(--bg);border-radius:10px;padding:1px 7px;font-size:12px;color:var(--muted);margin-left:2px}
section{margin:26px 0 8px}
h2{font-size:18px;margin:0 0 12px;display:flex;align-items:center;gap:8px}
h2 .count{font-size:12px;font-weight:500;color:var(--muted);background:#fff;border:1px solid var(--line);
border-radius:10px;padding:1px 8px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:0 0 10px;
display:grid;grid-template-columns:40px 1fr auto;column-gap:14px;align-items:start;
box-shadow:0 1px 2px rgba(27,31,36,.04)}
.rank{width:34px;height:34px;border-radius:50%;background:#eef2fb;color:var(--accent);font-weight:700;
display:flex;align-items:center;justify-content:center;font-size:14px}
.main{min-width:0}
h3{margin:0;font-size:16px;font-weight:600;overflow-wrap:anywhere}
h3 a{color:var(--ink);text-decoration:none}
h3 a:hover .name{text-decoration:underline}
h3 .owner{color:var(--muted);font-weight:400}
.desc{margin:3px 0 8px;color:#333a42;overflow-wrap:anywhere}
.desc.none{color:var(--muted);font-style:italic}
.stats{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:6px 18px;font-size:13px}
.stats li{display:flex;align-items:baseline;gap:6px}
.stats .k{color:var(--muted);font-size:11px;text-transform:uppercase;letter-spacing:.04em}
.stats .v{font-weight:600;font-variant-numeric:tabular-nums}
.vel.up .v{color:var(--up)}.vel.down .v{color:var(--down)}
.bar{display:inline-block;width:54px;height:6px;background:#e9edf3;border-radius:3px;overflow:hidden;align-self:center}
.bar span{display:block;height:100%;background:var(--accent)}
.trend{display:flex;flex-direction:column;align-items:flex-end;gap:2px}
.trend .cap{font-size:10px;color:var(--muted)}
.spark .line{fill:none;stroke:var(--spark);stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
.spark .area{fill:var(--spark-fill);stroke:none}.spark .dot{fill:var(--spark)}
.readme,.noreadme{grid-column:2 / 4;margin:10px 0 0}
.noreadme{color:var(--muted);font-size:13px}
.readme>summary{cursor:pointer;color:var(--accent);font-size:13px;font-weight:600;width:max-content}
.readme[open]>summary{margin-bottom:8px}
.md summary{cursor:pointer}
.md{border-top:1px solid var(--line);padding-top:8px;max-height:560px;overflow:auto;font-size:14px;overflow-wrap:anywhere}
.md h1,.md h2,.md h3,.md h4{font-size:15px;margin:14px 0 6px;display:block}
.md h1{font-size:17px}.md p{margin:6px 0}
.md pre{background:#f6f8fa;padding:10px;border-radius:6px;overflow:auto;font-size:12.5px}
.md code{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.md pre code{padding:0;background:none}
.md table{border-collapse:collapse;margin:8px 0;font-size:13px}.md td,.md th{border:1px solid var(--line);padding:4px 8px}
.md blockquote{margin:6px 0;padding:0 12px;color:var(--muted);border-left:3px solid var(--line)}
.md a{color:var(--accent)}.md a:not([href]){color:inherit}.cut{color:var(--muted);font-style:italic}
.empty{color:var(--muted)}
footer{color:var(--muted);font-size:12px;padding:24px 20px 40px}
@media (max-width:640px){.card{grid-template-columns:34px 1fr}.trend{grid-column:2;align-items:flex-start;margin-top:8px}
.readme,.noreadme{grid-column:1 / 3}}
"""
