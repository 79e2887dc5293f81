"""GitHub's search API: complete pages, ``Link`` paging, and queries split under the 1,000-result cap.

Ours because GitHub search answers partial pages (``incomplete_results``), shifts pages while a
client pages, and stops at 1,000 results; splitting a query into disjoint windows is GitHub-specific.
Which repositories a day keeps (star order across windows) is decided in ``logic.discovery``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Callable, Optional

import httpx

from trender_assets.errors import GitHubAuthError, GitHubError
from trender_assets.github import answers
from trender_assets.github.origin import shown_origin
from trender_assets.github.transport import Transport
from trender_assets.logic.discovery import created_qualifier, repository_id

SEARCH_CAP = 1000  # GitHub returns at most 1,000 results per search
FULL_SIZE_RANGE = (0, 400_000)  # bytes: code search indexes files up to 384 KB
BY_STARS = {"sort": "stars", "order": "desc"}


@dataclass(frozen=True)
class SearchHits:
    items: list
    total: Optional[int]  # GitHub's total_count for the whole query; None when it sent no number


def _complete_page(response: httpx.Response, body: Any) -> Optional[str]:
    if response.status_code >= 400:
        return None
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return "incomplete results" if body.get("incomplete_results") else None
    return "unreadable JSON"


def _page(transport: Transport, url: str, params: Optional[dict], what: str) -> Optional[tuple[httpx.Response, dict]]:
    """One complete page; None past the 1,000-result window. Partial answers are retried, then fail."""
    answer = transport.request(url, what, params=params, usable=_complete_page)
    response = answer.response
    if response.status_code == 422 and "first 1000" in answers.message(response):
        return None
    if response.status_code >= 400:
        raise GitHubError(answers.refused(response.status_code, what, response))
    if answer.problem:
        raise GitHubError(f"GitHub kept returning {answer.problem} for {what}; nothing was stored")
    return response, answer.body


def search(transport: Transport, path: str, query: str, limit: int, extra: dict, what: str,
           key: Callable[[Any], Any]) -> SearchHits:
    """Up to ``limit`` distinct items (following Link headers) and GitHub's total_count.

    Duplicates (GitHub's pages can shift between requests) are dropped before counting, so
    ``limit`` distinct items come back whenever GitHub has them.
    """
    per_page = max(1, min(100, limit))
    url: Optional[str] = path
    params: Optional[dict] = {"q": query, "per_page": per_page, "page": 1, **extra}
    items: list = []
    seen: set = set()
    total: Optional[int] = None
    first = True
    while url and len(items) < limit:
        page = _page(transport, url, params, what)
        if page is None:
            break
        response, body = page
        if first:
            total = answers.whole_number(body.get("total_count"))
            if total is None:
                transport.telemetry.note("search total_count not a number")
            first = False
        for item in body["items"]:
            identity = key(item)
            if identity is not None:
                if identity in seen:
                    transport.telemetry.note("search duplicate dropped")
                    continue
                seen.add(identity)
            items.append(item)
            if len(items) == limit:
                break
        url, params = _next_page(transport, response, what), None
    return SearchHits(items, total)


def _next_page(transport: Transport, response: httpx.Response, what: str) -> Optional[str]:
    """The ``Link`` header's next page. It must be on the API's own origin, where the credentials
    go: a page elsewhere is refused, never followed (not even without the credentials)."""
    link = response.links.get("next", {}).get("url")
    if not link:
        return None
    try:
        if transport.on_api_origin(link):
            return link
        elsewhere = shown_origin(link)
    except httpx.InvalidURL:
        raise GitHubError(f"GitHub's next page of {what} is not a URL; nothing was stored") from None
    raise GitHubError(f"GitHub's next page of {what} is on another origin ({elsewhere}) than the API's: not "
                      "followed, as credentials go to the API's origin only; nothing was stored")


def repositories(transport: Transport, query: str, limit: int) -> list[dict]:
    """Top ``limit`` distinct repositories for ``query``, most stars first as GitHub ranks them."""
    return search(transport, "/search/repositories", query, limit, BY_STARS,
                  f"repository search '{query}'", repository_id).items


def repositories_created(transport: Transport, query: str, limit: int, since: date, until: date) -> list[list[dict]]:
    """Repositories for ``query`` created in ``since..until`` (inclusive), one list per window asked.

    One window when ``limit`` fits under the 1,000-result cap (GitHub sorts every match by stars
    before it cuts). Beyond it the window is halved into disjoint ``created:`` windows until each
    holds at most 1,000 matches; each window's list is GitHub's own top ``min(limit, 1000)``.
    """
    what = f"repository search '{query}'"
    if limit <= SEARCH_CAP:
        windowed = f"{query} {created_qualifier(since, until)}"
        return [search(transport, "/search/repositories", windowed, limit, BY_STARS, what, repository_id).items]
    return _split_by_created(transport, query, limit, since, until, what)


def _split_by_created(transport: Transport, query: str, limit: int, start: date, end: date,
                      what: str) -> list[list[dict]]:
    windowed = f"{query} {created_qualifier(start, end)}"
    hits = search(transport, "/search/repositories", windowed, min(limit, SEARCH_CAP), BY_STARS, what,
                  repository_id)
    if hits.total is None or hits.total <= SEARCH_CAP or start >= end:
        return [hits.items]
    middle = start + timedelta(days=(end - start).days // 2)
    return (_split_by_created(transport, query, limit, start, middle, what)
            + _split_by_created(transport, query, limit, middle + timedelta(days=1), end, what))


def code(transport: Transport, query: str, limit: int, size_range: tuple[int, int] = FULL_SIZE_RANGE) -> SearchHits:
    """Up to ``limit`` distinct code-search hits and GitHub's total_count for ``query``; beyond
    1,000 the query is split into disjoint ``size:`` byte ranges."""
    if not transport.has_token:
        raise GitHubAuthError("GitHub code search needs a token; set GITHUB_TOKEN")
    what = f"code search '{query}'"
    low, high = size_range
    scoped = query if size_range == FULL_SIZE_RANGE else f"{query} size:{low}..{high}"
    hits = search(transport, "/search/code", scoped, min(limit, SEARCH_CAP), {}, what, code_hit_key)
    if limit <= SEARCH_CAP or hits.total is None or hits.total <= SEARCH_CAP or low >= high:
        return hits
    middle = (low + high) // 2
    parts = code(transport, query, limit, (low, middle)).items + code(transport, query, limit, (middle + 1, high)).items
    unique, seen = [], set()
    for item in parts:
        identity = code_hit_key(item)
        if identity is None or identity not in seen:
            seen.add(identity)
            unique.append(item)
    return SearchHits(unique[:limit], hits.total)


def code_hit_key(item: Any) -> Optional[tuple]:
    repository = item.get("repository") if isinstance(item, dict) else None
    repo_id = repository.get("id") if isinstance(repository, dict) else None
    if answers.whole_number(repo_id) is None:
        return None
    return repo_id, str(item.get("path"))
