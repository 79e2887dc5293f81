"""Configuration an operator can get wrong, or change at the wrong moment: what is at ./trender.yaml,
a YAML alias bomb, a frozen clock outside the partitions, a category key that names a page
section, and trender.yaml edited while runs are launched from it. Each is one line or an exact
result, never a silent default, a hang or a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from html.parser import HTMLParser

import pytest

from trender_assets.categories import parse
from trender_assets.errors import ConfigurationError
from trender_assets_tests import scenario
from trender_assets_tests.helpers import one_line_error, trender

DAY = scenario.DAY.isoformat()


# -- what is at ./trender.yaml ------------------------------------------------------------------------

@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working folder of its own and no TRENDER_CONFIG: ./trender.yaml is the one read."""
    monkeypatch.delenv("TRENDER_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _configured_error() -> str:
    from trender_assets.categories import configured

    with pytest.raises(ConfigurationError) as caught:
        configured()
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300
    return message


def test_a_dangling_symlink_at_trender_yaml_is_an_error_naming_it(here):
    (here / "trender.yaml").symlink_to(here / "moved-away.yaml")
    message = _configured_error()
    assert message.startswith(f"{here / 'trender.yaml'}: ") and "does not exist" in message


def test_a_fifo_at_trender_yaml_is_an_error_not_a_wait(here):
    os.mkfifo(here / "trender.yaml")  # no writer: opening it to read would block for ever
    message = _configured_error()
    assert message.startswith(f"{here / 'trender.yaml'}: ") and "not a regular file" in message


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null"])
def test_a_device_at_trender_yaml_is_an_error_not_an_endless_read(here, target):
    (here / "trender.yaml").symlink_to(target)
    message = _configured_error()
    assert message.startswith(f"{here / 'trender.yaml'}: ") and "not a regular file" in message


def test_a_folder_at_trender_yaml_is_an_error(here):
    (here / "trender.yaml").mkdir()
    assert "not a regular file" in _configured_error()


def test_trender_config_naming_a_device_or_fifo_is_an_error(here, monkeypatch):
    os.mkfifo(here / "pipe.yaml")
    for named in (here / "pipe.yaml", "/dev/zero"):
        monkeypatch.setenv("TRENDER_CONFIG", str(named))
        assert str(named) in _configured_error()


def test_an_oversized_trender_yaml_is_an_error(here):
    from trender_assets.categories import MAX_CONFIG_BYTES

    (here / "trender.yaml").write_text("categories:\n  rust: {language: Rust}\n" + "#" * MAX_CONFIG_BYTES + "\n")
    message = _configured_error()
    assert message.startswith(f"{here / 'trender.yaml'}: ") and "larger than" in message


def test_a_symlink_to_a_regular_file_is_read(here):
    (here / "real.yaml").write_text("categories:\n  rust: {language: Rust}\n")
    (here / "trender.yaml").symlink_to(here / "real.yaml")
    from trender_assets.categories import keys

    assert keys() == ["rust"]


def test_a_fifo_at_trender_yaml_stops_the_command_with_one_line(cli_env, tmp_path):
    os.mkfifo(tmp_path / "trender.yaml")
    env = {k: v for k, v in cli_env.items() if k != "TRENDER_CONFIG"}
    result = subprocess.run([sys.executable, "-c", "from trender_assets.cli import main; main()", "run"],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    line = one_line_error(result)
    assert line == f"trender: error: {tmp_path / 'trender.yaml'}: not a regular file (a FIFO); " \
                   "trender.yaml must be a file"


# -- a YAML alias bomb ----------------------------------------------------------------------------------

def _alias_bomb() -> str:
    """'Billion laughs': nine levels of nine aliases, a few hundred bytes that stand for 9**9 items,
    where a watched name belongs (an error line would write the value out)."""
    levels = ["&a [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&{name} [" + ", ".join([f"*{previous}"] * 9) + "]" for previous, name in zip("abcdefgh", "bcdefghi")]
    return "categories:\n  team:\n    watchlist:\n      - - " + "\n        - ".join(levels) + "\n"


def test_an_alias_bomb_is_refused_in_one_line_naming_the_line():
    text = "x: &i [1]\n" + "categories:\n  team: {watchlist: *i}\n"
    with pytest.raises(ConfigurationError) as caught:
        parse(text, "trender.yaml")
    assert str(caught.value) == ("trender.yaml: not valid YAML (line 3): aliases (*name) are not allowed "
                                 "in trender.yaml: write the value out")


def test_an_alias_bomb_gives_one_line_from_the_command_and_the_code_location(cli_env, tmp_path):
    bomb = tmp_path / "trender.yaml"
    bomb.write_text(_alias_bomb())
    assert len(bomb.read_bytes()) < 1000
    env = {**cli_env, "TRENDER_CONFIG": str(bomb)}
    # the timeouts only stop a broken build from eating the machine: the answer comes at once
    line = one_line_error(trender(env, "run", timeout=60))
    assert line.startswith(f"trender: error: {bomb}: not valid YAML (line ") and "aliases" in line

    loading = subprocess.run([sys.executable, "-c", "import trender_assets.definitions"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert loading.returncode != 0
    assert f"ConfigurationError: {bomb}: not valid YAML (line " in loading.stderr
    assert "MemoryError" not in loading.stderr


def test_a_bad_value_of_any_size_is_shown_short():
    """A value shown in an error line is cut before it is written out whole."""
    nested = ["lol"]
    for _ in range(9):
        nested = [nested] * 9  # 9**9 leaves, shared: cheap to hold, ruinous to print in full
    from trender_assets.categories import _shown

    assert len(_shown(nested)) <= 80


# -- a frozen clock outside the partitions -----------------------------------------------------------

def test_a_frozen_clock_before_the_first_partition_day_is_one_line(cli_env):
    env = {**cli_env, "TRENDER_NOW": "2025-12-31T12:00:00Z"}
    expected = ("trender: error: TRENDER_NOW makes today 2025-12-31, before the first partition day "
                "(2026-01-01): no day can be snapshotted; unset it or set a later time")
    assert one_line_error(trender(env, "run")) == expected
    # an explicit day names the clock, not a range "to today (2025-12-31)" that does not exist
    assert one_line_error(trender(env, "run", "--date", "2026-01-05")) == expected


def test_a_frozen_clock_after_the_real_today_is_one_line(cli_env):
    real_today = datetime.now(timezone.utc).date()
    env = {**cli_env, "TRENDER_NOW": "2099-06-01T12:00:00Z"}
    line = one_line_error(trender(env, "run"))
    assert line.startswith("trender: error: TRENDER_NOW makes today 2099-06-01, after the real today (")
    assert line.endswith("): its partition does not exist yet; unset it or set an earlier time")
    assert str(real_today) in line or str(date.fromordinal(real_today.toordinal() + 1)) in line  # midnight
    assert one_line_error(trender(env, "backfill", "--start", "2099-05-30")).startswith(
        "trender: error: TRENDER_NOW makes today 2099-06-01, after the real today (")


def test_an_explicit_day_outside_the_partitions_names_the_true_range(cli_env):
    line = one_line_error(trender(cli_env, "run", "--date", "2026-11-21"))
    assert line == ("trender: error: --date 2026-11-21 is outside the partitions: snapshots exist from "
                    f"2026-01-01 to today ({DAY})")


# -- a category key that names a section of the page -----------------------------------------------

class _Anchors(HTMLParser):
    """The page's element ids, its navigation links and the title of each section."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.nav: list[tuple[str, str]] = []  # (href, link text)
        self.headings: dict[str, str] = {}  # section id -> its h2 text
        self._in_nav = self._link = self._section = self._heading = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "nav":
            self._in_nav = True
        elif tag == "a" and self._in_nav:
            self._link, self._text = attrs.get("href"), ""
        elif tag == "section":
            self._section = attrs.get("id")
        elif tag == "h2" and self._section:
            self._heading, self._text = self._section, ""

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_nav = False
        elif tag == "a" and self._link is not None:
            self.nav.append((self._link, self._text.strip()))
            self._link = None
        elif tag == "h2" and self._heading:
            self.headings[self._heading] = self._text.strip()
            self._heading = None

    def handle_data(self, data):
        if self._link is not None or self._heading:
            self._text += data


def test_a_category_keyed_like_a_page_section_keeps_the_navigation_right():
    from trender_assets.report.page import ReportCard, render_report
    from trender_assets.report.rising import RisingRow

    day = scenario.DAY
    cards = [ReportCard("python", 1, "a/one", None, None, 50, 1.0, 0.9, 1, 1, 3),
             ReportCard("rising", 2, "b/two", None, None, 40, 2.0, 0.8, 1, 2, 3)]
    rising = [RisingRow("python", 1, 1, "a/one", None, 50, 10, 7, 1.4),
              RisingRow("rising", 1, 2, "b/two", None, 40, 12, 7, 1.7)]
    html = render_report(day, cards, [("python", "Python"), ("rising", "Rising repos")],
                         generated_at=datetime(2026, 11, 20, 15, tzinfo=timezone.utc), rising=rising)
    page = _Anchors()
    page.feed(html)
    assert len(page.ids) == len(set(page.ids)), sorted(page.ids)
    assert [text.split()[0] for _, text in page.nav] == ["Python", "Rising"]
    for href, text in page.nav:
        assert href.startswith("#") and href[1:] in page.headings, (href, page.headings)
        assert page.headings[href[1:]].startswith(text.rsplit(" ", 1)[0])  # the title, without the count
    assert "Rising this week" in page.headings.values()


# -- trender.yaml edited between a run's launch and its execution ---------------------------------------

# The launcher reads the shipped configuration (python, typescript, go, render); a worker reads B (rust
# inserted in the middle, render, a range's end, removed) or C (rust added at the end).
CONFIG_B = ("categories:\n  python: {language: Python}\n  rust: {language: Rust}\n  typescript: {language: TypeScript}\n"
            "  go: {language: Go}\n")
CONFIG_C = ("categories:\n  python: {language: Python}\n  typescript: {language: TypeScript}\n  go: {language: Go}\n"
            "  render: {root_file: render.yaml, label: Render projects}\n  rust: {language: Rust}\n")

EXECUTE = """
import json, sys
import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import execute_run

instance = dg.DagsterInstance.get()
job = ReconstructableRepository.for_module("trender_assets.definitions", "defs").get_reconstructable_job("ingest_job")
outcome = {}
for run_id in sys.argv[1:]:
    execute_run(job, instance.get_run_by_id(run_id), instance)
    failures = [e.dagster_event.event_specific_data for e in instance.all_logs(run_id)
                if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE]
    outcome[run_id] = [instance.get_run_by_id(run_id).status.value,
                       [f.user_failure_data.description if f.user_failure_data else f.error.message for f in failures]]
print(json.dumps(outcome))
"""


def _run_worker(env: dict, config, *run_ids: str) -> dict:
    """A run worker as Dagster starts one: a process of its own that reads ``config`` and executes
    the stored runs; each run's status and its step failures."""
    import json

    done = subprocess.run([sys.executable, "-c", EXECUTE, *run_ids], env={**env, "TRENDER_CONFIG": str(config)},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_range_run_refuses_when_trender_yaml_changed_under_it_and_never_fetches_fewer(cli_env, tmp_path,
                                                                                          engine):
    import dagster as dg

    from trender_assets.assets.ranges import CATEGORIES_TAG, day_range_tags
    from trender_assets.definitions import defs
    from trender_assets.partitions import LANGUAGES
    from trender_assets_tests.helpers import rows

    assert LANGUAGES == ["python", "typescript", "go", "render"]  # the launcher: the shipped trender.yaml
    tagged = day_range_tags(DAY, ["python", "typescript"])  # as the runner and the daily schedule launch
    untagged = {k: v for k, v in day_range_tags(DAY, LANGUAGES).items() if k != CATEGORIES_TAG}  # as a backfill
    with dg.DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        job = defs.resolve_job_def("ingest_job")
        one = {"dagster/partition": f"{DAY}|render"}  # one partition, as the UI launches it
        tagged_run, untagged_run, one_run, kept_run = (instance.create_run_for_job(job_def=job, tags=tags).run_id
                                                       for tags in (tagged, untagged, one, untagged))
    (tmp_path / "b.yaml").write_text(CONFIG_B)
    (tmp_path / "c.yaml").write_text(CONFIG_C)

    refused = _run_worker(cli_env, tmp_path / "b.yaml", tagged_run, untagged_run, one_run)
    changed = "trender.yaml changed after the run was launched (reload the code location, or restart trender " \
              "dev, and launch it again)"
    assert refused[tagged_run] == ["FAILURE", [
        f"run {DAY}|python..{DAY}|typescript was launched for categories python, typescript, but this process's "
        f"trender.yaml reads it as python, rust, typescript: {changed}"]]
    assert refused[untagged_run] == ["FAILURE", [
        f"run {DAY}|python..{DAY}|render was launched for categories python, typescript, go, render, but this "
        f"process's trender.yaml has no render: {changed}"]]
    assert refused[one_run] == ["FAILURE", [
        f"run {DAY}|render was launched for categories render, but this process's trender.yaml has no render: "
        f"{changed}"]]
    assert rows(engine, "select * from raw_github_repos") == []  # nothing fetched, nothing half-done

    # a category added at the end leaves the range's meaning alone: exactly the four are fetched
    assert _run_worker(cli_env, tmp_path / "c.yaml", kept_run)[kept_run] == ["SUCCESS", []]
    assert [r["language"] for r in rows(engine, "select distinct language from raw_github_repos order by 1")] == [
        "go", "python", "render", "typescript"]
    assert {r["language"] for r in rows(engine, "select distinct language from stg_repos_validated")} == {
        "go", "python", "render", "typescript"}
