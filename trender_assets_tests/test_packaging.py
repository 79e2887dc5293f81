"""trender installs like a package: a wheel built from the sources, installed into a fresh virtual
environment and run from a folder outside the checkout, applies its migrations, renders its report
page and loads the code location `trender dev` serves.

The wheel is built offline with this environment's setuptools and wheel; the fresh environment reuses
this one's installed dependencies (a path entry, not its site hooks: the editable install of the
checkout stays out), so nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from trender_assets_tests import e2e_support
from trender_assets_tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e  # builds, installs and starts four Python processes: ~30 s
SOURCES = ["setup.py", "pyproject.toml", "README.md", "sql", "trender_assets"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (the checkout gets no build/ or egg-info)."""
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    for name in SOURCES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    [path] = dist.glob("trender-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed and this environment's dependencies."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=120)
    python = home / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "trender_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                                "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return home


@pytest.fixture
def empty_database(database_url):
    """An empty database on the test server, so every migration is applied from the wheel's files."""
    with e2e_support.fresh_database(database_url, "trender_pkg") as url:
        yield url


def run_outside(venv: Path, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A command of the fresh environment, started in ``cwd`` (outside the checkout)."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "DAGSTER_HOME", "DATABASE_URL", "TRENDER_DATA_DIR", "VIRTUAL_ENV")}
    clean.update({"PATH": f"{venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}", "TRENDER_DATA_DIR": str(cwd / "data"),
                  **(env or {})})
    return subprocess.run(args, cwd=cwd, env=clean, capture_output=True, text=True, timeout=300)


def test_the_wheel_ships_migrations_templates_and_workspace(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {Path(n).name for n in names if n.startswith("trender_assets/sql/")}
    assert shipped == {p.name for p in (PROJECT_ROOT / "sql").glob("*.sql")}  # every migration, nothing else
    assert {"trender_assets/report/templates/page.html.j2", "trender_assets/report/templates/card.html.j2",
            "trender_assets/report/templates/report.css", "trender_assets/workspace.yaml"} <= names
    assert not any(n.startswith("trender_assets_tests/") for n in names)


def test_installed_trender_runs_outside_the_checkout(venv, empty_database, tmp_path):
    python = str(venv / "bin" / "python")
    migrate = run_outside(venv, tmp_path, python, "-c", (
        "import os, trender_assets, sqlalchemy as sa\n"
        "from trender_assets.warehouse.engine import connect_engine\n"
        "engine = connect_engine(os.environ['DATABASE_URL'])\n"  # as a run reads it (None is the embedded one)
        "with engine.connect() as conn:\n"
        "    print(*conn.execute(sa.text('select migration_id from _yoyo_migration order by 1')).scalars())\n"
        "print(trender_assets.__file__)"), env={"DATABASE_URL": empty_database})
    assert migrate.returncode == 0, migrate.stderr
    applied, location = migrate.stdout.strip().splitlines()
    assert applied.split() == sorted(p.stem for p in (PROJECT_ROOT / "sql").glob("*.sql"))
    assert location.startswith(str(venv)), location  # the installed copy, not the checkout

    page = run_outside(venv, tmp_path, python, "-c", (
        "import datetime as dt\n"
        "import trender_assets.definitions\n"
        "from trender_assets.report.page import render_report\n"
        "print(render_report(dt.date(2025, 1, 2), [], [('python', 'Python <3')], dt.datetime(2025, 1, 2, 14)))"))
    assert page.returncode == 0, page.stderr
    assert "<title>GitHub trending — 2025-01-02</title>" in page.stdout and "Python &lt;3" in page.stdout

    workspace = run_outside(venv, tmp_path, python, "-c", (
        "from importlib import resources; print(resources.files('trender_assets') / 'workspace.yaml')"))
    validate = run_outside(venv, tmp_path, python, "-m", "dagster", "definitions", "validate",
                           "-w", workspace.stdout.strip())
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert "Validation successful for code location trender." in validate.stdout + validate.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) <= ["data"]  # nothing else written where it ran
    assert not (tmp_path / "data" / "pgdata").exists()  # DATABASE_URL was used: no embedded server started
