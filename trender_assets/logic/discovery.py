"""Search questions anchored to the snapshot day D, so any day can be replayed as it was.

Which repositories a day keeps is decided here too, from what GitHub answered (the client only
fetches): star order across split search windows, and render projects' age window and ranking.

Every window ends at D: a backfilled day must not learn about repositories created after it.
``pushed:`` keeps an open end on purpose: GitHub only knows a repository's *latest* push, so a
repository active before D and pushed again since would be lost by ``pushed:..D``. Stars are
necessarily "as of the fetch".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Optional

RENDER_FILE = "render.yaml"


def root_file_query(filename: str) -> str:
    """Code-search terms for a file at the repository root (``path:/`` is a hint GitHub may ignore)."""
    return f"filename:{filename} path:/"



def language_query(github_language: str, snapshot_date: date, pushed_within_days: int = 30) -> str:
    """Repository-search terms for a language; the ``created:`` window is added by the client.
    A language name with a space (``Jupyter Notebook``) is quoted, as GitHub's search wants it."""
    name = f'"{github_language}"' if " " in github_language else github_language
    return _active_since(f"language:{name}", snapshot_date, pushed_within_days)


def topic_query(topic: str, snapshot_date: date, pushed_within_days: int = 30) -> str:
    """Repository-search terms for a topic, with the same activity window as a language."""
    return _active_since(f"topic:{topic}", snapshot_date, pushed_within_days)


def _active_since(qualifier: str, snapshot_date: date, pushed_within_days: int) -> str:
    pushed_since = snapshot_date - timedelta(days=pushed_within_days)
    return f"{qualifier} pushed:>={pushed_since.isoformat()}"


def created_window(snapshot_date: date, within_days: int) -> tuple[date, date]:
    """Inclusive ``created:`` bounds: the ``within_days`` before D, and D itself."""
    return snapshot_date - timedelta(days=within_days), snapshot_date


def created_qualifier(since: date, until: date) -> str:
    return f"created:{since.isoformat()}..{until.isoformat()}"


# -- selection: which of the repositories GitHub answered are the day's -----------------------------

def repository_id(item: Any) -> Optional[int]:
    """A repository's durable key, or None when GitHub sent no whole-number id (staging rejects it)."""
    repo_id = item.get("id") if isinstance(item, dict) else None
    return repo_id if isinstance(repo_id, int) and not isinstance(repo_id, bool) else None


def _stars(repo: dict) -> int:
    value = repo.get("stargazers_count")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _by_stars(repos: list[dict]) -> list[dict]:
    """Most stars first; the id breaks ties, so a day's order does not depend on GitHub's."""
    return sorted(repos, key=lambda r: (-_stars(r), repository_id(r) or 0))


def most_starred(windows: list[list], limit: int) -> list:
    """The day's top ``limit`` repositories from the search windows GitHub answered.

    One window is already GitHub's star ranking. Several (a query split under GitHub's 1,000-result
    cap) are merged: each repository once, most stars first; records without an id are kept, last,
    so staging can reject them with a reason.
    """
    if len(windows) == 1:
        return list(windows[0][:limit])
    first: dict[int, dict] = {}
    without_id: list = []
    for item in (item for window in windows for item in window):
        repo_id = repository_id(item)
        if repo_id is None:
            without_id.append(item)
        else:
            first.setdefault(repo_id, item)
    return [*_by_stars(list(first.values())), *without_id][:limit]


@dataclass(frozen=True)
class RootHits:
    node_ids: list[str]  # repositories with the file at their root, each once, in hit order
    without_node_id: int  # root hits whose repository carries no node id (cannot be looked up)


def root_hits(hits: list, filename: str) -> RootHits:
    """Code search cannot ask for the repository root: keep hits whose path is exactly ``filename``."""
    node_ids: dict[str, None] = {}  # an ordered set: a repository may have several hits
    without = 0
    for hit in hits:
        repo = hit.get("repository") if isinstance(hit, dict) else None
        if not isinstance(repo, dict) or hit.get("path") != filename:
            continue
        node_id = repo.get("node_id")
        if isinstance(node_id, str) and node_id:
            node_ids.setdefault(node_id)
        else:
            without += 1
    return RootHits(list(node_ids), without)


def _created_on(repo: dict) -> Optional[date]:
    try:
        return datetime.fromisoformat(str(repo.get("created_at")).replace("Z", "+00:00")).date()
    except (ValueError, OverflowError):
        return None


def created_in_window(repos: list[dict], since: date, until: date) -> list[dict]:
    """Each repository once, created in ``since..until`` (inclusive); no readable date, not kept."""
    unique: dict[Any, dict] = {}
    for repo in repos:
        repo_id = repository_id(repo)
        unique.setdefault(repo_id if repo_id is not None else id(repo), repo)
    return [r for r in unique.values() if since <= (_created_on(r) or date.min) <= until]


def render_projects(repos: list[dict], since: date, until: date, limit: int) -> tuple[list[dict], int]:
    """Root-file projects (render's, or any root file's) of the day: created in the window, top
    ``limit`` by stars; and how many were in the window (code search cannot sort by stars or filter
    by date, so it happens here)."""
    in_window = created_in_window(repos, since, until)
    return _by_stars(in_window)[:limit], len(in_window)
