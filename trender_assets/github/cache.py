"""Conditional-request cache: ETags and bodies per URL and token identity.

A 304 answer does not count against GitHub's primary limit, but ETags are per token, so entries
are keyed by the token's identity (a hash, never the token). Search answers carry no ETag and are
never cached.

Ours because the entries live in the warehouse (ETags outlive the run and serve every process) under a
token's non-secret identity; httpx's cache (hishel) would need a storage of ours and key by the secret.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Optional, Protocol

import sqlalchemy as sa


@dataclass(frozen=True)
class CachedResponse:
    etag: str
    body: bytes
    content_type: str


def cache_key(identity: str, accept: str, url: str) -> str:
    return hashlib.sha256(f"{identity}\n{accept}\n{url}".encode()).hexdigest()


class ResponseCache(Protocol):
    def get(self, key: str) -> Optional[CachedResponse]: ...
    def put(self, key: str, url: str, identity: str, entry: CachedResponse) -> None: ...


class MemoryCache:
    """Per-process cache (tests, and runs with no warehouse)."""

    def __init__(self) -> None:
        self._entries: dict[str, CachedResponse] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[CachedResponse]:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, url: str, identity: str, entry: CachedResponse) -> None:
        with self._lock:
            self._entries[key] = entry


class WarehouseCache:
    """Cache kept in the warehouse table ``github_http_cache``, so it survives across runs."""

    def __init__(self, engine: sa.Engine):
        self._engine = engine

    def get(self, key: str) -> Optional[CachedResponse]:
        with self._engine.connect() as conn:
            row = conn.execute(sa.text(
                "select etag, body, content_type from github_http_cache where cache_key = :k"), {"k": key}).first()
        return CachedResponse(row[0], bytes(row[1]), row[2]) if row else None

    def put(self, key: str, url: str, identity: str, entry: CachedResponse) -> None:
        with self._engine.begin() as conn:
            conn.execute(sa.text(
                "insert into github_http_cache (cache_key, url, token_identity, etag, body, content_type, stored_at)"
                " values (:k, :u, :i, :e, :b, :c, now()) on conflict (cache_key) do update set etag = excluded.etag,"
                " body = excluded.body, content_type = excluded.content_type, stored_at = now()"),
                {"k": key, "u": url, "i": identity, "e": entry.etag, "b": entry.body, "c": entry.content_type})
