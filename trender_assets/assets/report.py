"""trending_report: the day's trending repositories as a self-contained static HTML page."""


import os
import re
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from trender_assets.assets.common import OWNERS
from trender_assets.assets.marts import fact_repo_snapshots
from trender_assets.clock import utc_now
from trender_assets.assets.report_readmes import with_rendered_readmes
from trender_assets.logic.report_html import README_MAX_CHARS, ReportCard, render_report, summary_markdown
from trender_assets.partitions import LANGUAGE_LABELS, LANGUAGES, RENDER, daily_partitions
from trender_assets.processes import is_alive
from trender_assets.resources import WarehouseResource
from trender_assets.warehouse.embedded import data_dir

HISTORY_DAYS = 30
SECTIONS = [*((key, LANGUAGE_LABELS[key]) for key in LANGUAGES if key != RENDER), (RENDER, "Render projects")]

_CARDS_OF_DAY = sa.text(
    "select f.language, f.repo_id, f.repo_full_name, f.stars, f.age_days, f.momentum_score,"
    " f.rank_in_language, f.rank_overall, d.html_url, d.description,"
    " left(coalesce(s.readme_content, r.readme_content), :excerpt) as readme"
    " from fact_repo_snapshots f"
    " join dim_repositories d on d.repo_key = f.repo_key"
    " left join stg_repos_validated s"
    "   on s.snapshot_date = f.snapshot_date and s.language = f.language and s.repo_id = f.repo_id"
    " left join raw_github_repos r"
    "   on r.snapshot_date = f.snapshot_date and r.language = f.language and r.repo_id = f.repo_id"
    " where f.snapshot_date = :d"
    " order by f.language, f.momentum_score desc, f.rank_in_language"
)
_STAR_HISTORY = sa.text(
    "select repo_id, snapshot_date, max(stars) as stars from fact_repo_snapshots"
    " where repo_id = any(:ids) and snapshot_date between :since and :d"
    " group by repo_id, snapshot_date order by repo_id, snapshot_date"
)
# Star velocity comes from the history view (stars per day since the previous snapshot).
_VELOCITY = sa.text(
    "select repo_id, max(star_velocity) as star_velocity from analytics_repo_history"
    " where snapshot_date = :d and repo_id = any(:ids) group by repo_id"
)


def report_dir() -> Path:
    """``$TRENDER_REPORT_DIR``, else ``$TRENDER_DATA_DIR/reports`` (default ``~/.trender/reports``)."""
    configured = os.environ.get("TRENDER_REPORT_DIR", "").strip()
    return Path(configured).expanduser() if configured else data_dir() / "reports"


def report_path(day: date) -> Path:
    return report_dir() / f"trending-{day.isoformat()}.html"


def load_cards(conn: sa.Connection, day: date) -> list[ReportCard]:
    """The day's cards, with star history for the sparkline and velocity from the history view."""
    # one character past the excerpt, so the renderer knows to say "shortened"
    rows = conn.execute(_CARDS_OF_DAY, {"d": day, "excerpt": README_MAX_CHARS + 1}).mappings().all()
    ids = sorted({r["repo_id"] for r in rows})
    history: dict[int, list[tuple[date, int]]] = {}
    for h in conn.execute(_STAR_HISTORY, {"ids": ids, "since": day - timedelta(days=HISTORY_DAYS - 1), "d": day}):
        history.setdefault(h.repo_id, []).append((h.snapshot_date, h.stars))
    velocity = {v.repo_id: v.star_velocity for v in conn.execute(_VELOCITY, {"ids": ids, "d": day})}
    cards = [
        ReportCard(
            category=r["language"], repo_id=r["repo_id"], full_name=r["repo_full_name"], html_url=r["html_url"],
            description=r["description"], stars=r["stars"],
            star_velocity=None if velocity.get(r["repo_id"]) is None else float(velocity[r["repo_id"]]),
            momentum=r["momentum_score"], rank_in_language=r["rank_in_language"], rank_overall=r["rank_overall"],
            age_days=r["age_days"], history=tuple(history.get(r["repo_id"], ())), readme_markdown=r["readme"],
        )
        for r in rows
    ]
    return cards


_TMP_PAGE = re.compile(r"^\.trending-.*\.html\.(\d+)\.tmp$")


def remove_abandoned_pages(folder: Path) -> list[Path]:
    """Delete half-written pages (``.trending-*.html.<pid>.tmp``) whose writer process is gone:
    one killed mid-write never reached its own clean-up."""
    removed = []
    for leftover in folder.glob(".trending-*.html.*.tmp"):
        match = _TMP_PAGE.match(leftover.name)
        if match and not is_alive(int(match.group(1))):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_pages(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # a reader never sees half a page
    finally:
        tmp.unlink(missing_ok=True)  # an error or Ctrl-C mid-write leaves nothing behind


@dg.asset(
    partitions_def=daily_partitions,
    deps=[fact_repo_snapshots],
    group_name="reports",
    kinds={"html", "postgres"},
    owners=OWNERS,
    tags={"layer": "report"},
    automation_condition=dg.AutomationCondition.eager(),
    metadata={
        "location": "$TRENDER_REPORT_DIR/trending-YYYY-MM-DD.html "
                    "(default $TRENDER_DATA_DIR/reports, i.e. ~/.trender/reports)",
        "reads": "fact_repo_snapshots, dim_repositories, stg_repos_validated / raw_github_repos (READMEs)",
    },
)
def trending_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The day's trending repositories as one self-contained HTML page: a section per language
    and one for render projects, ordered by momentum, each card with stars, star velocity,
    momentum, rank, a 30-day star sparkline and the README (sanitized; no scripts, no remote
    loads). Written to ``$TRENDER_REPORT_DIR/trending-YYYY-MM-DD.html``."""
    day = date.fromisoformat(context.partition_key)
    with warehouse.engine.connect() as conn:
        cards = load_cards(conn, day)
    cards, rendered_now, reused = with_rendered_readmes(warehouse.engine, cards, day)
    page = render_report(day, cards, SECTIONS, generated_at=utc_now())
    path = report_path(day)
    write_atomically(path, page)
    context.log.info(f"wrote {path} ({len(cards)} cards, {len(page):,} bytes)")
    per_category = {key: sum(1 for c in cards if c.category == key) for key, _ in SECTIONS}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(cards),
        "path": dg.MetadataValue.path(str(path)),
        "url": dg.MetadataValue.url(path.resolve().as_uri()),
        "bytes": len(page.encode("utf-8")),
        "readmes_rendered": rendered_now,
        "readmes_reused": reused,
        "cards_per_section": dg.MetadataValue.json(per_category),
        "summary": dg.MetadataValue.md(summary_markdown(cards, SECTIONS, top=5)),
    })
