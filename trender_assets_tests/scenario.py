"""A known GitHub for one snapshot day: what the fake serves and what the warehouse must then hold."""

from __future__ import annotations

from datetime import date, timedelta

from trender_assets_tests.fake_github import FakeGitHub, FakeRepo

DAY = date(2026, 11, 20)
TOKEN = "ghp_TESTSENTINELtokenvalue0123456789"
NOW = "2026-11-20T15:00:00Z"


def _ts(days_before: int) -> str:
    return f"{(DAY - timedelta(days=days_before)).isoformat()}T12:00:00Z"


def repos() -> list[FakeRepo]:
    """Repositories in each category, plus cases that must be excluded or handled."""
    return [
        # python: young and active
        FakeRepo(101, "alpha/snake", "Python", 900, _ts(10), _ts(1), description="fast snake"),
        FakeRepo(102, "beta/pyllm", "Python", 1500, _ts(40), _ts(2), topics=["llm", "ai"]),
        FakeRepo(103, "gamma/notebook", "Python", 300, _ts(100), _ts(3), readme=None),
        FakeRepo(104, "delta/nul", "Python", 50, _ts(5), _ts(1), description="has a \x00 nul"),
        FakeRepo(105, "both/deploy-kit", "Python", 700, _ts(20), _ts(1), render_yaml=True),
        # python: excluded by the search windows
        FakeRepo(150, "old/legacy", "Python", 99999, _ts(400), _ts(1)),  # created too long ago
        FakeRepo(151, "stale/project", "Python", 8000, _ts(60), _ts(45)),  # not pushed in 30 days
        # typescript
        FakeRepo(201, "web/ui-kit", "TypeScript", 2000, _ts(30), _ts(1), readme_name="readme.markdown"),
        FakeRepo(202, "web/edge", "TypeScript", 400, _ts(3), _ts(0)),
        # go
        FakeRepo(301, "gopher/proxy", "Go", 1200, _ts(70), _ts(5), license_spdx=None),
        FakeRepo(302, "gopher/cli", "Go", 100, _ts(14), _ts(2)),
        # render (code search finds render.yaml at the root); 402 is too old, 403 has it in a subfolder
        FakeRepo(401, "render/blueprint", None, 250, _ts(90), _ts(4), render_yaml=True),
        FakeRepo(402, "render/ancient", "Python", 5000, _ts(700), _ts(4), render_yaml=True),
        FakeRepo(404, "render/fresh", "TypeScript", 30, _ts(2), _ts(1), render_yaml=True),
    ]


MALFORMED_ITEM = {"id": 999, "full_name": "broken/no-dates", "language": "Python", "stargazers_count": 5}

# What the warehouse must hold after the day: category -> repo ids (staged, valid).
EXPECTED = {
    "python": {101, 102, 103, 104, 105},
    "typescript": {201, 202, 404},
    "go": {301, 302, 403},
    "render": {401, 404, 105},
}


def serve(fake: FakeGitHub) -> FakeGitHub:
    for repo in repos():
        fake.add_repo(repo)
    fake.add_code_search_decoy(
        FakeRepo(403, "render/nested", "Go", 900, _ts(30), _ts(2)), "examples/render.yaml"
    )
    fake.add_raw_search_item("Python", MALFORMED_ITEM)
    return fake


def serve_realistic(fake: FakeGitHub, per_language: int = 25, render_hits: int = 0) -> FakeGitHub:
    """A day shaped like a real one: ``per_language`` young repositories per language with READMEs,
    every fifth with a render.yaml at its root, plus ``render_hits`` more repositories with a root
    render.yaml that no language search returns (code search then finds more than are kept)."""
    rid = 1
    for language in ("Python", "TypeScript", "Go"):
        for i in range(per_language):
            created = DAY - timedelta(days=(i * 7) % 170)
            fake.add_repo(FakeRepo(
                rid, f"{language.lower()}-org/repo-{i}", language, 10_000 - i * 3,
                f"{created}T08:00:00Z", f"{DAY - timedelta(days=i % 20)}T08:00:00Z",
                description=f"{language} project {i}", topics=["bench", language.lower()],
                readme=f"# repo {i}\n\n" + "lorem ipsum " * 200, render_yaml=(i % 5 == 0)))
            rid += 1
    for i in range(render_hits):
        created = DAY - timedelta(days=(i * 11) % 500)
        fake.add_repo(FakeRepo(
            100_000 + i, f"deploy-org/service-{i}", ("Rust", "Ruby", None)[i % 3], 50 + (i * 37) % 900,
            f"{created}T08:00:00Z", f"{DAY - timedelta(days=200 + i % 50)}T08:00:00Z",
            description=f"service {i}", readme=f"# service {i}\n\n" + "deploy notes " * 150, render_yaml=True))
    return fake
