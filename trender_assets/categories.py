"""The categories a day is snapshotted in, and the first day: plain constants, free of Dagster, so the
``trender`` command can check its arguments (and print ``--help``) without importing Dagster."""

START_DATE = "2026-01-01"

LANGUAGE_LABELS = {"python": "Python", "typescript": "TypeScript", "go": "Go"}
"""Partition key -> GitHub's name of the language, for the search qualifier."""

RENDER = "render"
LANGUAGES = [*LANGUAGE_LABELS, RENDER]
