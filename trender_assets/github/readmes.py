"""READMEs: the preferred README of a repository, whatever its name, decoded and cut cleanly.

Ours because GitHub's contents API has its own answers for one README: base64 in JSON up to 1 MB,
the raw media type beyond, and 403/404/409/451 that are facts about the item, not failures.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Optional

import httpx

from trender_assets.errors import GitHubError
from trender_assets.github import answers
from trender_assets.github.transport import ITEM_STATUSES, RAW_MEDIA, ItemUnreadable, Transport
from trender_assets.logic.raw_items import storable_text
from trender_assets.logic.repo_names import repository_path

SIZE_MAX = 2**31 - 1  # readme_size is an integer column

README_STATUSES = {
    "ok": "fetched (content-file JSON)",
    "ok_raw": "over 1 MB: GitHub refuses the JSON form (403 too_large), fetched with the raw media type",
    "none": "404: the repository has no README, or is gone since the search",
    "empty_repository": "409: the repository is empty",
    "blocked": "451 (or 403 'Repository access blocked'): unavailable, e.g. for legal reasons",
    "too_large": "over 100 MB: refused in every media type",
    "malformed": "the answer was not a README (e.g. a JSON list, or undecodable content)",
    "invalid_name": "full_name breaks GitHub's naming rules: not requested",
    "redirect_loop": f"the README request {ITEM_STATUSES['redirect_loop']}",
    "undecodable": f"GitHub {ITEM_STATUSES['undecodable']}, on every attempt",
    "not_requested": "the record has no full_name to ask with",
}
"""``raw_github_repos.readme_status``: every README outcome that does not fail the partition."""


@dataclass(frozen=True)
class Readme:
    content: Optional[str]  # None unless status is ok / ok_raw
    sha: Optional[str] = None
    path: Optional[str] = None
    size: Optional[int] = None  # bytes of the full file, even when ``content`` is truncated
    truncated: bool = False
    status: str = "ok"

    @classmethod
    def unavailable(cls, status: str) -> "Readme":
        return cls(content=None, status=status)


def truncate_clean(text: str, max_chars: int) -> tuple[str, bool]:
    """At most ``max_chars``, cut at the last paragraph or line break (else word) before the limit."""
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    for boundary in ("\n\n", "\n", " "):
        cut = head.rfind(boundary)
        if cut > max_chars // 2:
            return head[:cut].rstrip(), True
    return head, True


def decode_readme_bytes(raw: bytes) -> str:
    """Tolerant: invalid UTF-8 replaced, BOM dropped, CRLF -> LF, NUL removed."""
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").replace("\r\n", "\n").replace("\x00", "")


def _size(value: Any) -> Optional[int]:
    return value if answers.whole_number(value) is not None and 0 <= value <= SIZE_MAX else None


def _readable_when_ok(response: httpx.Response, body: Any) -> Optional[str]:
    return "unreadable JSON" if response.status_code == 200 and body is answers.UNREADABLE else None


def get_readme(transport: Transport, full_name: str, max_chars: int = 200_000) -> Readme:
    """The preferred README with its status (see ``README_STATUSES``).

    The JSON form comes first because it carries the path, blob sha and size in one (cacheable)
    answer; the raw media type, which carries only the bytes and an ETag, is the fallback for
    READMEs over 1 MB, which GitHub refuses as JSON (403 ``too_large``) or sends without content.
    """
    path = f"{repository_path(full_name)}/readme"
    what = f"README of {full_name}"
    try:
        answer = transport.request(path, what, conditional=True, usable=_readable_when_ok)
    except ItemUnreadable as exc:  # this README's problem: its status, never the partition's
        return Readme.unavailable(exc.status)
    response, body = answer.response, answer.body
    status = response.status_code
    if status != 200:
        refusal = answers.readme_refusal(response)
        if refusal == "too_large":
            return _raw_readme(transport, path, full_name, max_chars, None)
        if refusal is None:
            raise GitHubError(answers.refused(status, what, response))
        return Readme.unavailable(refusal)
    if not isinstance(body, dict):  # a JSON list, or still unreadable after every attempt
        transport.telemetry.note("README answer not an object")
        return Readme.unavailable("malformed")
    size = _size(body.get("size"))
    content, encoding = body.get("content"), body.get("encoding")
    if body.get("type") != "file" or encoding not in ("base64", "none"):
        transport.telemetry.note("README answer not a content file")
        return Readme.unavailable("malformed")
    if size and not content:  # over 1 MB GitHub may send encoding "none" and no content: ask raw
        return _raw_readme(transport, path, full_name, max_chars, body)
    if encoding != "base64" or not isinstance(content, str):
        return Readme.unavailable("malformed")
    try:
        raw = base64.b64decode(content)  # ignores the line wrapping GitHub adds
    except (binascii.Error, ValueError):
        return Readme.unavailable("malformed")
    text, truncated = truncate_clean(decode_readme_bytes(raw), max_chars)
    return Readme(content=text, sha=storable_text(body.get("sha")), path=storable_text(body.get("path")),
                  size=size if size is not None else len(raw), truncated=truncated, status="ok")


def _raw_readme(transport: Transport, path: str, full_name: str, max_chars: int,
                described: Optional[dict]) -> Readme:
    what = f"raw README of {full_name}"
    try:
        response = transport.request(path, what, accept=RAW_MEDIA, conditional=True).response
    except ItemUnreadable as exc:
        return Readme.unavailable(exc.status)
    if response.status_code != 200:
        refusal = answers.readme_refusal(response)
        if refusal is None:
            raise GitHubError(answers.refused(response.status_code, f"the {what}", response))
        return Readme.unavailable(refusal)
    raw = response.content
    text, truncated = truncate_clean(decode_readme_bytes(raw), max_chars)
    described = described or {}
    size = _size(described.get("size"))
    return Readme(content=text, sha=storable_text(described.get("sha")) or answers.etag_sha(response),
                  path=storable_text(described.get("path")),
                  size=size if size is not None else min(len(raw), SIZE_MAX),
                  truncated=truncated, status="ok_raw")
