"""Reading GitHub's answers: JSON bodies, error messages, and what a refusal means.

Ours because GitHub's error shapes (a rate limit told by four different signals, a 403 that is about
one item and not the credentials) are GitHub's own; no client library classifies them for us.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import httpx

from trender_assets.logic.raw_items import storable_text


class _Unreadable:
    def __repr__(self) -> str:
        return "UNREADABLE"


UNREADABLE: Any = _Unreadable()
"""The body of an answer that is not JSON (truncated, cut off, not JSON at all)."""


def parse_json(content: bytes) -> Any:
    """JSON from GitHub's UTF-8 bytes; invalid UTF-8 becomes lone surrogates (``surrogateescape``)
    so the page stays readable and the one record carrying them is rejected later, not the page."""
    return json.loads(content.decode("utf-8", errors="surrogateescape"))


def json_body(response: httpx.Response) -> Any:
    """The parsed body, ``UNREADABLE`` when it is not JSON, None when there is none."""
    if not response.content:
        return None
    try:
        return parse_json(response.content)
    except (ValueError, RecursionError):
        return UNREADABLE


def message(response: httpx.Response) -> str:
    """GitHub's ``message``, or the start of a body that is not JSON; safe to store and show."""
    body = json_body(response)
    if isinstance(body, dict):
        return storable_text(str(body.get("message", ""))) or ""
    return "" if body is not UNREADABLE else (storable_text(response.text[:200]) or "")


def error_codes(response: httpx.Response) -> set[str]:
    body = json_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return {str(e.get("code")) for e in errors if isinstance(e, dict)} if isinstance(errors, list) else set()


def is_rate_limit(response: httpx.Response) -> bool:
    return (response.status_code == 429 or response.headers.get("x-ratelimit-remaining") == "0"
            or bool((response.headers.get("retry-after") or "").strip())
            or "rate limit" in message(response).lower())


def permanent_refusal(response: httpx.Response) -> bool:
    """A 403 about one item (a blob too large, a blocked repository), not about the credentials."""
    return (response.status_code == 403 and not is_rate_limit(response)
            and ("too_large" in error_codes(response) or "access blocked" in message(response).lower()))


def readme_refusal(response: httpx.Response) -> Optional[str]:
    """The README status a permanent per-item answer stands for, or None when it is not one."""
    status = response.status_code
    if status in (404, 410):
        return "none"
    if status == 409:
        return "empty_repository"
    if status == 451 or (status == 403 and "access blocked" in message(response).lower()):
        return "blocked"
    if status == 403 and "too_large" in error_codes(response):
        return "too_large"
    return None


def graphql_rate_limited(response: httpx.Response) -> bool:
    """GraphQL reports an exhausted budget as HTTP 200 with an error of type RATE_LIMITED."""
    body = json_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors)


def graphql_message(error: Any) -> str:
    if isinstance(error, dict):
        return storable_text(str(error.get("message") or error.get("type") or "an error")) or "an error"
    return "an error"


def whole_number(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def etag_sha(response: httpx.Response) -> Optional[str]:
    """GitHub's ETag for a file is its quoted git blob sha."""
    tag = (response.headers.get("etag") or "").removeprefix("W/").strip('"')
    return tag if re.fullmatch(r"[0-9a-f]{40}", tag) else None


def refused(status: int, what: str, response: httpx.Response) -> str:
    """The one line for an answer that is an error and not a per-item fact."""
    return f"GitHub answered HTTP {status} for {what}: {message(response)}"
