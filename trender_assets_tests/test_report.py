"""The trending report: built from the warehouse, sanitized, and looked at in a real browser.

Three snapshot days (D-3, D-1, D) are loaded through the assets with the scenario's GitHub plus one
repository whose description and README carry script injections; stars grow by a known rate per
repository, so star velocity and the sparkline have known values.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.assets.report import SECTIONS, report_dir, trending_report
from trender_assets.definitions import defs
from trender_assets.partitions import LANGUAGES, by_snapshot_date, daily_partitions, partition_key_for
from trender_assets.report.cards import load_cards
from trender_assets.report.page import ReportCard, format_velocity, render_report, sparkline_svg
from trender_assets.report.readme import README_MAX_CHARS, render_readme, repository_url, safe_url, sanitize_html
from trender_assets.warehouse.migrations import apply_migrations
from trender_assets_tests import scenario
from trender_assets_tests.conftest import WAREHOUSE_TABLES, make_resources
from trender_assets_tests.e2e_support import PAYLOAD_README, PAYLOAD_REPO_ID, PROJECT_ROOT, payload_repo
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import INGEST, MARTS, rows

DAY = scenario.DAY
DAYS = [DAY - timedelta(days=3), DAY - timedelta(days=1), DAY]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]


def growth_per_day(repo_id: int) -> int:
    return 3 + repo_id % 7


@pytest.fixture(scope="module")
def report_days(database_url, tmp_path_factory):
    """Three days through every asset, the report of D included; yields what the tests read."""
    engine = sa.create_engine(database_url)
    apply_migrations(engine)
    with engine.begin() as conn:
        conn.execute(sa.text(f"truncate {', '.join(WAREHOUSE_TABLES)} restart identity cascade"))
    out_dir = tmp_path_factory.mktemp("reports")
    with pytest.MonkeyPatch.context() as mp, scenario.serve(FakeGitHub(token=scenario.TOKEN)) as fake:
        mp.setenv("TRENDER_NOW", scenario.NOW)
        mp.setenv("TRENDER_REPORT_DIR", str(out_dir))
        fake.add_repo(payload_repo(DAY))
        with fake._lock:
            repos = list(fake._repos.values())
        base = {r.id: r.stars for r in repos}
        resources = make_resources(fake, database_url)
        results = {}
        with dg.DagsterInstance.ephemeral() as instance:  # 15 runs; only their results are read
            for day in DAYS:
                mp.setenv("TRENDER_NOW", f"{day.isoformat()}T15:00:00Z")  # each day fetched on its day
                for repo in repos:  # the fake's repos are live: the day's star counts
                    repo.stars = base[repo.id] - growth_per_day(repo.id) * (DAY - day).days
                for language in LANGUAGES:
                    assert dg.materialize(INGEST, partition_key=partition_key_for(day.isoformat(), language),
                                          resources=resources, instance=instance).success
                results[day] = dg.materialize([*MARTS, trending_report], partition_key=day.isoformat(),
                                              resources=resources, instance=instance)
                assert results[day].success
        yield {"engine": engine, "dir": out_dir, "results": results}
    engine.dispose()


# --------------------------------------------------------------------------------------------
# the asset


def test_report_is_a_daily_asset_in_the_reports_group():
    assets_def = defs.resolve_assets_def("trending_report")
    spec = assets_def.specs_by_key[dg.AssetKey("trending_report")]
    assert spec.group_name == "reports"
    assert set(spec.kinds) == {"html", "postgres"}
    assert spec.owners == ["team:data-engineering"]
    assert spec.partitions_def == daily_partitions
    assert spec.automation_condition is not None and "dagster/code_references" in spec.metadata
    assert dg.AssetKey("trending_report") in defs.resolve_job_def("marts_job").asset_layer.selected_asset_keys


def test_report_declares_every_asset_it_reads():
    """The lineage graph shows what load_cards reads: the day's facts and their dimension version, and
    README text from staging, else raw, of all four categories of the day."""
    graph = defs.resolve_asset_graph()
    report = dg.AssetKey("trending_report")
    assert graph.get(report).parent_keys == {dg.AssetKey(k) for k in (
        "fact_repo_snapshots", "dim_repositories", "stg_repos_validated", "raw_github_repos")}
    spec = defs.resolve_assets_def("trending_report").specs_by_key[report]
    mappings = {d.asset_key.to_user_string(): d.partition_mapping for d in spec.deps}
    assert mappings["stg_repos_validated"] == by_snapshot_date and mappings["raw_github_repos"] == by_snapshot_date
    assert mappings["fact_repo_snapshots"] is None and mappings["dim_repositories"] is None  # day to day
    day = DAY.isoformat()
    for upstream in ("stg_repos_validated", "raw_github_repos"):
        upstream_keys = graph.get_parent_partition_keys_for_child(day, dg.AssetKey(upstream), report).partitions_subset
        assert set(upstream_keys.get_partition_keys()) == {str(partition_key_for(day, lang)) for lang in LANGUAGES}
    for upstream in ("fact_repo_snapshots", "dim_repositories"):
        upstream_keys = graph.get_parent_partition_keys_for_child(day, dg.AssetKey(upstream), report).partitions_subset
        assert set(upstream_keys.get_partition_keys()) == {day}
    # only new facts re-render the page (each run writes the other three before them)
    assert spec.automation_condition == dg.AutomationCondition.eager().ignore(
        dg.AssetSelection.assets("dim_repositories", "stg_repos_validated", "raw_github_repos"))


def test_report_is_written_and_linked_from_the_metadata(report_days, monkeypatch):
    path = report_days["dir"] / f"trending-{DAY}.html"
    assert path.is_file()
    assert sorted(p.name for p in report_days["dir"].iterdir()) == [f"trending-{d}.html" for d in DAYS]
    [mat] = report_days["results"][DAY].asset_materializations_for_node("trending_report")
    meta = mat.metadata
    facts = rows(report_days["engine"], "select language, repo_full_name, momentum_score, rank_in_language"
                                        " from fact_repo_snapshots where snapshot_date = :d", d=DAY)
    assert mat.partition == DAY.isoformat()
    assert meta["dagster/row_count"].value == len(facts)
    assert meta["path"].value == str(path)
    assert meta["url"].value == path.resolve().as_uri()
    assert meta["bytes"].value == path.stat().st_size
    # the summary: top 5 per category, by momentum
    summary = meta["summary"].value
    for category, title in SECTIONS:
        top = sorted((f for f in facts if f["language"] == category), key=lambda f: -f["momentum_score"])[:5]
        assert f"**{title}**" in summary
        positions = [summary.index(f"| {f['repo_full_name']} |") for f in top]
        assert positions == sorted(positions)
    # default folder: $TRENDER_DATA_DIR/reports
    monkeypatch.delenv("TRENDER_REPORT_DIR")
    monkeypatch.setenv("TRENDER_DATA_DIR", "/srv/trender")
    assert report_dir() == Path("/srv/trender/reports")


def test_readme_excerpts_are_rendered_once_and_reused(report_days):
    """A re-rendered day reads its README excerpts from report_readme_html; a changed one renders anew."""
    import dataclasses

    from trender_assets.report.readme_cache import with_rendered_readmes

    engine = report_days["engine"]
    with engine.connect() as conn:
        cards = load_cards(conn, DAY)
    with_readme = [c for c in cards if c.readme_markdown and c.readme_markdown.strip()]
    distinct = {(c.full_name, c.readme_markdown) for c in with_readme}
    assert with_readme and all(len(c.readme_markdown) <= README_MAX_CHARS + 1 for c in cards if c.readme_markdown)
    [mat] = report_days["results"][DAY].asset_materializations_for_node("trending_report")
    assert mat.metadata["readmes_rendered"].value + mat.metadata["readmes_reused"].value == len(distinct)
    assert mat.metadata["readmes_reused"].value > 0  # the earlier days rendered most of them already

    cached, rendered_now, reused = with_rendered_readmes(engine, cards, DAY)
    assert (rendered_now, reused) == (0, len(distinct))
    for card in cached:
        if card.readme_markdown and card.readme_markdown.strip():
            assert card.readme_html == render_readme(card.readme_markdown, repository_url(card.full_name, card.html_url))
    changed = [dataclasses.replace(with_readme[0], readme_markdown=with_readme[0].readme_markdown + "\n\nnew line")]
    [fresh], rendered_now, reused = with_rendered_readmes(engine, changed, DAY)
    assert (rendered_now, reused) == (1, 0) and "new line" in fresh.readme_html


def test_velocity_and_history_come_from_the_stored_snapshots(report_days):
    engine = report_days["engine"]
    with engine.connect() as conn:
        cards = load_cards(conn, DAY)
        first_cards = load_cards(conn, DAYS[0])
        middle_cards = load_cards(conn, DAYS[1])
    assert {c.star_velocity for c in first_cards} == {None}  # nothing before the first day
    for card in cards:  # one day since D-1
        # a day holds only what existed on it: a repository created after D-3 has fewer points
        existed = [d for d in DAYS if d >= DAY - timedelta(days=card.age_days)]
        assert [d for d, _ in card.history] == existed
        assert card.star_velocity == (growth_per_day(card.repo_id) if len(existed) > 1 else None)
        assert card.history[-1][1] == card.stars
    assert any(len(c.history) < len(DAYS) for c in cards)  # e.g. web/edge, created D-3 at noon
    for card in middle_cards:  # two days since D-3: still stars per day; None on a first snapshot
        first = len(card.history) == 1
        assert card.star_velocity == (None if first else growth_per_day(card.repo_id))
    payload = next(c for c in cards if c.repo_id == PAYLOAD_REPO_ID)
    assert payload.readme_markdown == PAYLOAD_README


# --------------------------------------------------------------------------------------------
# sanitizing untrusted text


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"java&#x09;script:alert(1)\">x</a>",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "[x](javascript:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<svg onload=alert(1)></svg>",
    "<iframe src=\"https://example.com\"></iframe>",
    "<details ontoggle=alert(1) open><summary>s</summary></details>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<object data=\"x.swf\"></object><embed src=\"x.swf\">",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<scr<script>ipt>alert(1)</script>",
])
def test_hostile_readme_html_is_neutralized(hostile):
    rendered = render_readme(f"before\n\n{hostile}\n\nafter", "https://github.com/o/r")
    lowered = rendered.lower()
    assert "<script" not in lowered and "<iframe" not in lowered and "<svg" not in lowered
    assert "<img" not in lowered and "<object" not in lowered and "<embed" not in lowered
    assert "<form" not in lowered and "<style" not in lowered and "style=" not in lowered
    assert not re.search(r"\son[a-z]+\s*=", rendered)
    assert not re.search(r"(href|src|action)\s*=\s*[\"']?\s*(javascript|vbscript|data):", lowered)
    assert rendered.startswith("<p>before</p>")  # the rest of the README is kept (or dropped), never run


def test_readme_markdown_renders_with_safe_links():
    rendered = render_readme(
        "# Title\n\nSee [usage](docs/usage.md), [site](https://example.com), [top](#install)"
        " and ![logo](img/logo.png).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\n<b>code</b>\n```\n",
        "https://github.com/o/r")
    assert "<h1>Title</h1>" in rendered
    assert 'href="https://github.com/o/r/blob/HEAD/docs/usage.md"' in rendered
    assert 'href="https://example.com"' in rendered and 'href="https://github.com/o/r#install"' in rendered
    assert '[image: logo]</a>' in rendered and "<img" not in rendered  # images become links: nothing loads
    assert "<table>" in rendered and "&lt;b&gt;code&lt;/b&gt;" in rendered
    assert 'rel="noopener noreferrer nofollow ugc"' in rendered


def test_long_readmes_are_cut_with_a_link_to_github():
    rendered = render_readme("line of text\n" * 10_000, "https://github.com/o/r")
    assert rendered.count("line of text") < 3_000 and "read it all on GitHub" in rendered


def test_urls_and_numbers():
    assert safe_url("https://github.com/a/b") == "https://github.com/a/b"
    assert safe_url("javascript:alert(1)") is None and safe_url("//evil.example/x") is None
    assert safe_url("java\nscript:alert(1)") is None and safe_url("docs/x.md") is None
    assert safe_url("docs/x.md", "https://github.com/a/b/blob/HEAD/") == "https://github.com/a/b/blob/HEAD/docs/x.md"
    assert sanitize_html('<a href="docs/x.md">x</a>') == '<a rel="noopener noreferrer nofollow ugc">x</a>'
    assert [format_velocity(v) for v in (None, 0.0, 2.25, -3.0, 1234.0)] == [
        "new", "±0.0/day", "+2.2/day", "−3.0/day", "+1,234/day"]
    assert "<polyline" not in sparkline_svg([(DAY, 5)]) and "<circle" in sparkline_svg([(DAY, 5)])
    assert "<polyline" in sparkline_svg([(DAYS[0], 5), (DAY, 9)])


def test_page_escapes_what_github_wrote():
    """The template autoescapes every value; only the sanitized README is inserted as HTML."""
    hostile = "<script>alert(1)</script>"
    card = ReportCard(category="python", repo_id=7, full_name='o/"><script>x</script>', html_url="javascript:alert(1)",
                      description=f"Totally {hostile} & more", stars=12_345, star_velocity=2.5, momentum=0.75,
                      rank_in_language=1, rank_overall=2, age_days=3, history=((DAYS[0], 5), (DAY, 9)),
                      readme_markdown=f"# Kit\n\n{hostile}\n\nbody")
    page = render_report(DAY, [card], [("python", "Python <3")], generated_at=scenario_now())
    assert "<script" not in page.lower()
    assert "<p class=\"desc\">Totally &lt;script&gt;alert(1)&lt;/script&gt; &amp; more</p>" in page
    assert "data-repo=\"o/&#34;&gt;&lt;script&gt;x&lt;/script&gt;\"" in page
    assert "javascript:" not in page  # the repository link falls back to github.com
    assert '<h2>Python &lt;3 <span class="count">1</span></h2>' in page
    assert '<div class="md"><h1>Kit</h1>' in page and "<p>body</p>" in page  # the README as sanitized HTML
    assert '<span class="v">12.3k</span>' in page and '<span class="v">+2.5/day</span>' in page
    assert page.count("<polyline") == 1 and f"<title>GitHub trending — {DAY}</title>" in page


def scenario_now():
    from datetime import datetime, timezone

    return datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


# --------------------------------------------------------------------------------------------
# in a real browser


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("TRENDER_TEST_ARTIFACTS") or PROJECT_ROOT / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def served_reports(report_days):
    handler = functools.partial(_QuietHandler, directory=str(report_days["dir"]))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def browser_page():
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
        finally:
            browser.close()


@pytest.mark.e2e
def test_report_in_a_browser(report_days, served_reports, browser_page):
    page = browser_page
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(f"{served_reports}/trending-{DAY}.html", wait_until="load")
    shots = artifacts_dir()
    page.screenshot(path=str(shots / "trending-report.png"))

    # nothing injected ran, and nothing but the page itself was loaded
    assert page.title() == f"GitHub trending — {DAY}"
    assert page.evaluate("() => window.__pwned") is None
    assert [u for u in requests if not u.endswith("/favicon.ico")] == [f"{served_reports}/trending-{DAY}.html"]

    # one section per category, cards in momentum order, matching the warehouse
    facts = rows(report_days["engine"], "select language, repo_full_name, momentum_score from fact_repo_snapshots"
                                        " where snapshot_date = :d", d=DAY)
    for category, title in SECTIONS:
        section = page.locator(f"section#category-{category}")
        assert section.locator("h2").inner_text().startswith(title)
        names = section.locator("article.card").evaluate_all("els => els.map(e => e.dataset.repo)")
        momentum = [float(m) for m in section.locator("article.card").evaluate_all(
            "els => els.map(e => e.dataset.momentum)")]
        expected = sorted((f for f in facts if f["language"] == category),
                          key=lambda f: -f["momentum_score"])
        assert names == [f["repo_full_name"] for f in expected]
        assert momentum == sorted(momentum, reverse=True)
        first = section.locator("article.card").first
        assert first.locator(".rank").inner_text() == "1"
        assert first.locator("svg.spark polyline").count() == 1  # three days of stars
        assert first.locator("h3 a").get_attribute("href").startswith("https://github.com/")

    # a README expands on click, rendered from Markdown
    card = page.locator(f"article#card-python-{PAYLOAD_REPO_ID}")
    readme = card.locator("details.readme")
    assert not readme.locator(".md").is_visible()
    readme.locator("summary").first.click()
    assert readme.locator(".md").is_visible()
    assert "the body text survives" in readme.locator(".md").inner_text()
    assert readme.locator(".md h1").inner_text() == "evil-kit"
    readme.locator(".md details summary").click()  # the README's own <details> (its ontoggle is gone)
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(shots / "trending-report-readme.png"))
    page.screenshot(path=str(shots / "trending-report-full.png"), full_page=True)

    # the payloads are inert: shown as text at most, never as script, handler or javascript: link
    assert page.evaluate("() => [window.__pwned, document.title]") == [None, f"GitHub trending — {DAY}"]
    dom = page.evaluate("""() => {
        const all = [...document.querySelectorAll('*')];
        return {
          scripts: document.scripts.length,
          handlers: all.flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name)).map(a => e.tagName + ' ' + a.name)),
          jsLinks: all.flatMap(e => ['href', 'src', 'action', 'formaction', 'xlink:href']
                      .map(n => e.getAttribute(n)).filter(v => v && /^\\s*(javascript|vbscript|data):/i.test(v))),
          loaders: document.querySelectorAll('img, iframe, object, embed, link, form, style:not(head style)').length,
        };
    }""")
    assert dom == {"scripts": 0, "handlers": [], "jsLinks": [], "loaders": 0}, dom
    description = card.locator(".desc").inner_text()
    assert description.startswith("Totally <script>")  # the description is shown as the text it is
    assert problems == [], problems
