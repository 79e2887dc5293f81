"""trending_report: the day's trending repositories as a self-contained static HTML page.

What it reads, declared as deps so the lineage graph is true: the day's facts (and, through the same
table, 30 days of star history and the ``analytics_repo_history`` view's velocity), the dimension
version each fact names, the ``analytics_rising_by_day`` view (stars gained over 7 days), and the
README text of staging, else raw, for every category of the day. Only the facts drive its
automation, as before: the others are written before them in every run. Its own
``report_readme_html`` cache is no asset.
"""

import os
import re
from datetime import date
from pathlib import Path

import dagster as dg

from trender_assets import categories
from trender_assets.assets.common import OWNERS
from trender_assets.assets.marts import dim_repositories, fact_repo_snapshots
from trender_assets.assets.ranges import RANGE_BACKFILL_POLICY, materialize_days
from trender_assets.assets.raw import raw_github_repos
from trender_assets.assets.staging import stg_repos_validated
from trender_assets.clock import utc_now
from trender_assets.environment import data_dir
from trender_assets.partitions import by_snapshot_date, daily_partitions
from trender_assets.processes import is_alive
from trender_assets.report.cards import load_cards
from trender_assets.report.page import render_report, summary_markdown
from trender_assets.report.readme_cache import with_rendered_readmes
from trender_assets.report.rising import late_snapshots, load_rising
from trender_assets.resources import WarehouseResource

SECTIONS = [(c.key, c.title) for c in categories.configured()]
"""A section per configured category, in the configuration's order (default: Python, TypeScript,
Go, Render projects)."""


def sections_for(present: set[str]) -> list[tuple[str, str]]:
    """The configured sections, then one per category of the day no longer configured (a past
    day's page keeps every category it had)."""
    return [*SECTIONS, *((key, key) for key in sorted(present - {k for k, _ in SECTIONS}))]


READ_ONLY = [dim_repositories, stg_repos_validated, raw_github_repos]
"""Upstream assets the report reads whose updates need not re-render it: each run writes them before
the facts, and a new fact materialization is what the eager condition waits for."""


def report_dir() -> Path:
    """``$TRENDER_REPORT_DIR``, else ``$TRENDER_DATA_DIR/reports`` (default ``~/.trender/reports``)."""
    configured = os.environ.get("TRENDER_REPORT_DIR", "").strip()
    return Path(configured).expanduser() if configured else data_dir() / "reports"


def report_path(day: date) -> Path:
    return report_dir() / f"trending-{day.isoformat()}.html"


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
    deps=[
        fact_repo_snapshots,
        dim_repositories,
        dg.AssetDep(stg_repos_validated, partition_mapping=by_snapshot_date),
        dg.AssetDep(raw_github_repos, partition_mapping=by_snapshot_date),
    ],
    group_name="reports",
    kinds={"html", "postgres"},
    owners=OWNERS,
    tags={"layer": "report"},
    automation_condition=dg.AutomationCondition.eager().ignore(dg.AssetSelection.assets(*READ_ONLY)),
    backfill_policy=RANGE_BACKFILL_POLICY,  # with the marts: a backfill's days in one run
    metadata={
        "location": "$TRENDER_REPORT_DIR/trending-YYYY-MM-DD.html "
                    "(default $TRENDER_DATA_DIR/reports, i.e. ~/.trender/reports)",
        "reads": "fact_repo_snapshots (the day; 30 days of stars), analytics_repo_history (velocity, a view"
                 " of the facts), analytics_rising_by_day (stars gained in 7 days), dim_repositories,"
                 " stg_repos_validated / raw_github_repos (READMEs)",
    },
)
def trending_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The day's trending repositories as one self-contained HTML page: a section per category
    (trender.yaml), cards ordered by momentum, each with stars, star velocity, momentum, rank, a
    30-day star sparkline and the README (sanitized; no scripts, no remote loads); then "Rising
    this week": each category's top 5 by stars gained over 7 days. Written to
    ``$TRENDER_REPORT_DIR/trending-YYYY-MM-DD.html``."""
    return materialize_days(context, lambda day: write_report(context, warehouse, day))


def write_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource, day: date) -> dict:
    """Write one day's page; returns that partition's materialization metadata."""
    with warehouse.engine.connect() as conn:
        cards = load_cards(conn, day)
        rising = load_rising(conn, day)
        late = late_snapshots(conn, day)
    cards, rendered_now, reused = with_rendered_readmes(warehouse.engine, cards, day)
    sections = sections_for({c.category for c in cards})
    page = render_report(day, cards, sections, generated_at=utc_now(), rising=rising, late=late)
    path = report_path(day)
    write_atomically(path, page)
    context.log.info(f"wrote {path} ({len(cards)} cards, {len(page):,} bytes)")
    per_category = {key: sum(1 for c in cards if c.category == key) for key, _ in sections}
    return {
        "dagster/row_count": len(cards),
        "outcome": f"{len(cards)} rows, {path}",
        "path": dg.MetadataValue.path(str(path)),
        "url": dg.MetadataValue.url(path.resolve().as_uri()),
        "bytes": len(page.encode("utf-8")),
        "readmes_rendered": rendered_now,
        "readmes_reused": reused,
        "cards_per_section": dg.MetadataValue.json(per_category),
        "rising_rows": len(rising),
        "late_snapshots_left_out": sum(late.values()),
        "summary": dg.MetadataValue.md(summary_markdown(cards, sections, top=5)),
    }
