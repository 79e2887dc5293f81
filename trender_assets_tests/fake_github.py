"""A fake GitHub REST API served over real HTTP on 127.0.0.1, for tests of trender's GitHub client.

Why a real server rather than ``httpx.MockTransport``: the client's connection pooling, keep-alive,
timeouts, redirects, header parsing and ``Link`` following then run exactly as in production.
Response shapes follow GitHub's documented 2022-11-28 schemas (``repo-search-result-item``,
``code-search-result-item`` with a *minimal* repository, ``full-repository``, ``content-file``,
``basic-error``) and observed behaviour (1,000-result window, line-wrapped base64, rate-limit
headers per resource), from GitHub's OpenAPI description and REST docs. ``POST /graphql`` serves
``nodes(ids:)`` for repositories (see ``fake_github_graphql``).

Per-item answers GitHub gives are served too: a README over 1 MB is refused as JSON (403
``too_large``) and served raw, an empty repository answers 409, a blocked one 451, a repository
deleted since the search index saw it 404 (and ``null`` + NOT_FOUND in GraphQL). Hostile payloads
come from the data itself (a lone surrogate is sent as the ``\ud800`` escape GitHub would send,
counts and ids of any size) or from ``rewrite_body`` (invalid UTF-8, a non-numeric total_count).

Deterministic: no randomness (chaos faults come from a seeded generator) and no sleeps unless a fault
or ``latency`` asks for one. The only time-dependent
values are the ``x-ratelimit-reset`` epochs. Stdlib only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from trender_assets_tests import fake_github_graphql as gql

__all__ = ["FakeRepo", "FakeGitHub", "RecordedRequest"]

API_VERSION = "2022-11-28"
DOCS_URL = "https://docs.github.com/rest"
SEARCH_DOCS_URL = "https://docs.github.com/v3/search/"
SEARCH_WINDOW = 1000  # GitHub serves at most the first 1,000 results of any search

# resource -> (limit with Authorization, limit without, window seconds)
RATE_LIMITS = {
    "core": (5000, 60, 3600),
    "search": (30, 10, 60),
    "code_search": (9, 9, 60),
    "graphql": (5000, 0, 3600),  # points; GraphQL needs authentication
}
BLOB_JSON_LIMIT = 1 << 20  # the contents API sends blobs up to 1 MB as JSON...
BLOB_RAW_LIMIT = 100 << 20  # ...and up to 100 MB with the raw media type
RAW_MEDIA_TYPES = ("application/vnd.github.raw+json", "application/vnd.github.raw", "application/vnd.github.v3.raw")

# spdx_id -> (key, name) as GitHub reports them; unknown ids fall back to (spdx.lower(), spdx)
LICENSES = {
    "MIT": ("mit", "MIT License"),
    "Apache-2.0": ("apache-2.0", "Apache License 2.0"),
    "GPL-2.0": ("gpl-2.0", "GNU General Public License v2.0"),
    "GPL-3.0": ("gpl-3.0", "GNU General Public License v3.0"),
    "LGPL-3.0": ("lgpl-3.0", "GNU Lesser General Public License v3.0"),
    "AGPL-3.0": ("agpl-3.0", "GNU Affero General Public License v3.0"),
    "BSD-2-Clause": ("bsd-2-clause", 'BSD 2-Clause "Simplified" License'),
    "BSD-3-Clause": ("bsd-3-clause", 'BSD 3-Clause "New" or "Revised" License'),
    "MPL-2.0": ("mpl-2.0", "Mozilla Public License 2.0"),
    "ISC": ("isc", "ISC License"),
    "Unlicense": ("unlicense", "The Unlicense"),
    "NOASSERTION": ("other", "Other"),
}


# --------------------------------------------------------------------------------------------
# public data types


@dataclass
class FakeRepo:
    """One repository the fake knows; rendered into every GitHub shape it appears in."""

    id: int
    full_name: str  # "owner/name"
    language: Optional[str]  # GitHub language, e.g. "Python", "TypeScript", "Go", or None
    stars: int
    created_at: str  # ISO "2026-10-01T12:00:00Z"
    pushed_at: str
    updated_at: Optional[str] = None  # None -> rendered as pushed_at
    description: Optional[str] = None
    homepage: Optional[str] = None
    license_spdx: Optional[str] = "MIT"  # None -> "license": null
    topics: list[str] = field(default_factory=list)
    archived: bool = False
    forks: int = 0
    open_issues: int = 0
    readme: Optional[str] = "# readme"  # None -> /readme answers 404
    readme_name: str = "README.md"
    render_yaml: bool = False  # has render.yaml at the repository root
    empty: bool = False  # no commits: contents endpoints answer 409 "This repository is empty."
    blocked: bool = False  # e.g. a DMCA takedown: /repos/... answers 451
    gone: bool = False  # deleted since the search index saw it: searches still list it, the rest 404s
    failing_fields: dict[str, str] = field(default_factory=dict)  # GraphQL field -> message of a partial error

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake received and the status it answered (0 = connection dropped by a fault)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    status: int
    body: bytes = b""


# --------------------------------------------------------------------------------------------
# helpers


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _blob_sha(data: bytes) -> str:
    """Git's blob id, which GitHub uses as a file's ``sha`` and README ``ETag``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _wrap_base64(data: bytes) -> str:
    """Base64 the way the contents API sends it: a newline after every 60 characters and at the end."""
    encoded = base64.b64encode(data).decode("ascii")
    return "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60))


def _owner_id(login: str) -> int:
    return int(hashlib.sha1(login.lower().encode()).hexdigest()[:7], 16)


def _int_param(value: Optional[str], default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _parse_timestamp(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class _Invalid(Exception):
    """A search query GitHub would refuse with 422 Validation Failed."""


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_bound(text: str) -> Any:
    """A date qualifier bound: ``YYYY-MM-DD`` stays a string (compared on the date part), else a datetime."""
    try:
        if _DATE_ONLY.fullmatch(text):
            datetime.strptime(text, "%Y-%m-%d")
            return text
        return _parse_timestamp(text)
    except ValueError:
        raise _Invalid(f"invalid date {text!r}") from None


def _date_cmp(timestamp: str, bound: Any) -> int:
    if isinstance(bound, str):
        left, right = timestamp[:10], bound
    else:
        left, right = _parse_timestamp(timestamp), bound
    return (left > right) - (left < right)


def _int_bound(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _Invalid(f"invalid number {text!r}") from None


def _int_cmp(value: int, bound: int) -> int:
    return (value > bound) - (value < bound)


def _range_predicate(value: str, parse: Callable[[str], Any], cmp: Callable[[Any, Any], int]) -> Callable[[Any], bool]:
    """GitHub's range syntax: ``A..B`` (inclusive, ``*`` open), ``>=A``, ``>A``, ``<=A``, ``<A``, ``A``."""
    if ".." in value:
        low_text, high_text = value.split("..", 1)
        low = None if low_text == "*" else parse(low_text)
        high = None if high_text == "*" else parse(high_text)
        return lambda x: (low is None or cmp(x, low) >= 0) and (high is None or cmp(x, high) <= 0)
    for op, test in ((">=", lambda c: c >= 0), ("<=", lambda c: c <= 0), (">", lambda c: c > 0), ("<", lambda c: c < 0)):
        if value.startswith(op):
            bound = parse(value[len(op):])
            return lambda x, b=bound, t=test: t(cmp(x, b))
    bound = parse(value)
    return lambda x: cmp(x, bound) == 0


_TOKEN = re.compile(r'[^\s:"]+:"[^"]*"|"[^"]*"|\S+')


def _tokens(q: str) -> list[tuple[bool, Optional[str], str]]:
    """Split ``q`` into (negated, qualifier or None for free text, value)."""
    out = []
    for token in _TOKEN.findall(q):
        if token == "AND":
            continue
        if token in ("OR", "NOT") or "(" in token or ")" in token:
            raise _Invalid("boolean operators and parentheses are not supported")
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        if ":" in body and not body.startswith('"'):
            key, _, value = body.partition(":")
            out.append((negated, key.lower(), value.strip('"')))
        else:
            out.append((negated, None, body.strip('"')))
    return out


def _json_bytes(obj: Any) -> bytes:
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: GitHub sends it as a \uXXXX escape
        return json.dumps(obj, ensure_ascii=True).encode("ascii")


def _error_body(message: str, status: int, documentation_url: str = DOCS_URL, **extra: Any) -> dict:
    return {"message": message, **extra, "documentation_url": documentation_url, "status": str(status)}


@dataclass
class _Fault:
    prefix: str
    status: int
    remaining: int
    headers: dict[str, str]
    body: Optional[dict]
    delay: float
    raw_body: Optional[bytes] = None


@dataclass
class _Response:
    status: int
    body: Optional[bytes] = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    resource: Optional[str] = None  # rate-limit resource to charge; None for /rate_limit
    charge: bool = True  # False for 304s, which do not count against the primary limit
    delay: float = 0.0
    drop: bool = False


def _json_response(status: int, obj: Any, **kwargs: Any) -> _Response:
    response = _Response(status, _json_bytes(obj), **kwargs)
    response.headers.setdefault("content-type", "application/json; charset=utf-8")
    return response


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up (timeouts, stop()) are expected in tests."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so httpx connection pooling is exercised
    wbufsize = 64 * 1024  # headers and body leave in one write (flushed per request by the stdlib)...
    disable_nagle_algorithm = True  # ...and without Nagle/delayed-ACK stalls of ~40 ms per request
    server_version = "GitHub.com"
    sys_version = ""
    fake: "FakeGitHub"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: test output should not be flooded with access logs."""

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.fake._track(self.connection, add=False)

    def _serve(self) -> None:
        self.fake._serve(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve


# --------------------------------------------------------------------------------------------
# the fake


class FakeGitHub:
    """GitHub's REST API for the endpoints trender uses, on a free local port.

    ``token``: when set, every request must carry ``Authorization: Bearer <token>`` (or
    ``token <token>``), else 401 "Bad credentials". When None, any request is accepted except
    ``/search/code`` without Authorization, which answers 401 "Requires authentication" as GitHub does.
    """

    def __init__(self, token: Optional[str] = None, clock: Callable[[], float] = time.time):
        self.token = token
        self.clock = clock  # drives x-ratelimit-reset and rate windows (tests share a simulated clock)
        self.blob_json_limit = BLOB_JSON_LIMIT
        self.blob_raw_limit = BLOB_RAW_LIMIT
        self._limits = dict(RATE_LIMITS)
        self._enforced: set[str] = set()
        self._rewrites: list[tuple[str, re.Pattern, bytes]] = []
        self._repeats: dict[int, int] = {}
        self.latency = 0.0  # seconds added to every answer, for benchmarks with realistic latency
        self.accepted_tokens: set[str] = set()  # besides ``token``: more tokens, issued App/OAuth tokens
        self.issued = 0
        self._renamed: dict[str, int] = {}
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.timeline: list[tuple[str, int, float]] = []  # ("arrived" | "answered", index in requests, clock)
        self._lock = threading.RLock()
        self._repos: dict[int, FakeRepo] = {}
        self._raw_items: list[tuple[str, dict]] = []
        self._decoys: list[tuple[int, str]] = []
        self._faults: list[_Fault] = []
        self._rate = {name: {"used": 0, "reset": 0} for name in RATE_LIMITS}
        self._connections: set[socket.socket] = set()
        # concurrency, as GitHub's secondary limits judge it: requests being answered at once
        self.concurrency_limit: Optional[int] = None  # more at once -> 403 secondary rate limit
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests seen being answered at once
        self.secondary_limit_answers = 0  # 403s given because ``concurrency_limit`` was exceeded
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> "FakeGitHub":
        """Bind 127.0.0.1 on a free port and serve from a daemon thread; sets ``url``."""
        if self._server is not None:
            return self
        handler = type("BoundHandler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open keep-alive connections, so clients cannot reach a stopped fake."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "FakeGitHub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- test set-up ---------------------------------------------------------------------------

    def add_repo(self, repo: FakeRepo) -> FakeRepo:
        """Register (or replace, by id) a repository; the object stays live, later edits show up."""
        if "/" not in repo.full_name:
            raise ValueError(f"full_name must be 'owner/name', got {repo.full_name!r}")
        with self._lock:
            self._repos[repo.id] = repo
            self._renamed.pop(repo.full_name.lower(), None)  # a name taken again no longer redirects
        return repo

    def add_raw_search_item(self, language: str, item: dict) -> None:
        """Append a verbatim (possibly malformed) item to repository searches qualified with
        ``language:<language>`` (case-insensitive), after the real items whatever the sort;
        lets tests prove that bad items are rejected, not crashed on."""
        with self._lock:
            self._raw_items.append((language.lower(), item))

    def add_code_search_decoy(self, repo: FakeRepo, path: str) -> None:
        """A render.yaml code-search hit at a non-root ``path`` (e.g. "examples/render.yaml"),
        because GitHub's ``path:/`` is not a reliable root filter; ``repo`` is added too."""
        self.add_repo(repo)
        with self._lock:
            self._decoys.append((repo.id, path.lstrip("/")))

    def fail_next(self, path_prefix: str, status: int, count: int = 1, headers: Optional[dict] = None,
                  body: Optional[dict] = None, *, delay: float = 0.0, raw_body: Optional[bytes] = None) -> None:
        """Answer the next ``count`` requests whose path starts with ``path_prefix`` with ``status``,
        ``headers`` (override the defaults, e.g. ``x-ratelimit-remaining: 0``, ``retry-after``) and
        JSON ``body`` (default: a basic-error for the status).

        Extensions for transport tests: ``delay`` sleeps before answering (client timeouts);
        ``status=0`` drops the connection without a response; a 2xx status with ``body=None``
        serves the normal response, with ``headers`` added, after ``delay``; ``raw_body`` sends those
        bytes as the body (truncated JSON).
        """
        with self._lock:
            self._faults.append(_Fault(path_prefix, status, count,
                                       {k.lower(): str(v) for k, v in (headers or {}).items()}, body, delay,
                                       raw_body))

    def repeat_in_search(self, repo_id: int, times: int = 1) -> None:
        """Serve repository ``repo_id`` ``times`` more times, right after itself, in repository
        searches: GitHub's results can shift while a client pages, so one repository can appear twice."""
        with self._lock:
            self._repeats[repo_id] = times

    def set_rate_limit(self, resource: str, limit: int, enforce: bool = True, window: Optional[int] = None) -> None:
        """Advertise ``limit`` for ``resource`` (authenticated and not); with ``enforce``, answer as
        GitHub does once it is spent: 403 ``API rate limit exceeded`` with ``x-ratelimit-remaining: 0``
        (GraphQL: HTTP 200 with an error of type RATE_LIMITED) until the window resets."""
        with self._lock:
            window = window or self._limits[resource][2]
            self._limits[resource] = (limit, limit, window)
            if enforce:
                self._enforced.add(resource)

    def rewrite_body(self, path_prefix: str, pattern: bytes, replacement: bytes) -> None:
        """Rewrite the bytes of every answer under ``path_prefix`` (``re.sub``), e.g. to put invalid
        UTF-8 in one item of a search page, or to make ``total_count`` something that is not a number."""
        with self._lock:
            self._rewrites.append((path_prefix, re.compile(pattern), replacement))

    def reset_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, path_prefix: str = "/") -> int:
        """Number of recorded requests (any status) whose path starts with ``path_prefix``."""
        with self._lock:
            return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    # -- request handling -----------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        length = _int_param(handler.headers.get("Content-Length"), 0)
        body = handler.rfile.read(length) if length > 0 else b""  # drained: keep-alive stays in sync
        split = urlsplit(handler.path)
        path = split.path or "/"
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            crowded = self.concurrency_limit is not None and self.in_flight > self.concurrency_limit
            self.secondary_limit_answers += crowded
        try:
            self._answer(handler, path, query, headers, body, crowded)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: _Handler, path: str, query: dict[str, str], headers: dict[str, str],
                body: bytes, crowded: bool) -> None:
        response = self._respond(handler.command, path, query, headers, body, crowded=crowded)
        with self._lock:
            for prefix, pattern, replacement in self._rewrites:
                if path.startswith(prefix) and response.body:
                    response.body = pattern.sub(replacement, response.body)
            self.requests.append(RecordedRequest(handler.command, path, query, headers,
                                                 0 if response.drop else response.status, body))
            serial = len(self.requests) - 1
            self.timeline.append(("arrived", serial, self.clock()))
        if response.delay or self.latency:
            time.sleep(response.delay or self.latency)
        with self._lock:  # before the answer leaves: nothing the answer sets off can come earlier
            self.timeline.append(("answered", serial, self.clock()))
        if response.drop:
            handler.close_connection = True
            return
        handler.send_response(response.status)
        for name, value in response.headers.items():
            handler.send_header(name, value)
        has_body = response.body is not None and response.status not in (204, 304)
        if has_body:
            handler.send_header("content-length", str(len(response.body)))
        elif response.status not in (204, 304):
            handler.send_header("content-length", "0")
        handler.end_headers()
        if has_body and handler.command != "HEAD":
            handler.wfile.write(response.body)
        handler.wfile.flush()

    def _respond(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
                 body: bytes = b"", crowded: bool = False) -> _Response:
        authed = bool(headers.get("authorization"))
        fault = (self._crowded_fault(path) if crowded else self._take_fault(path) or self._chaos_fault(path)
                 or self._limit_chaos_fault(path, headers))
        response: Optional[_Response] = None
        if fault is not None and fault.raw_body is not None:
            response = _Response(fault.status, fault.raw_body,
                                 headers={"content-type": "application/json; charset=utf-8"})
        elif fault is not None and not (200 <= fault.status < 300 and fault.body is None):
            response = self._fault_response(fault)
        elif method == "POST" and (path.startswith("/app/installations/") or path == "/login/oauth/access_token"):
            response = self._issue_token(path, headers, body)
        elif method not in ("GET", "POST") or (method == "POST" and path != "/graphql"):
            response = _json_response(404, _error_body("Not Found", 404))
        elif self.token is not None and not self._token_ok(headers):
            response = _json_response(401, _error_body("Bad credentials", 401))
        elif self._exhausted(path, authed):
            response = self._rate_limit_exceeded(path)
        elif path == "/graphql":
            response = self._graphql(method, headers, body)
        else:
            try:
                response = self._route(path, query, headers)
            except _Invalid as exc:
                response = _json_response(422, _error_body(
                    "Validation Failed", 422, SEARCH_DOCS_URL,
                    errors=[{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}]))
        if fault is not None:
            response.delay = fault.delay
        response.resource = None if path == "/rate_limit" else self._resource(path)
        return self._finish(response, authed, fault)

    def _finish(self, response: _Response, authed: bool, fault: Optional[_Fault]) -> _Response:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-github-api-version-selected": API_VERSION,
            "x-github-media-type": "github.v3; format=json",
        }
        if response.resource is not None:
            headers.update(self._charge(response.resource, authed, response.charge))
            if response.resource == "core":
                headers["cache-control"] = "private, max-age=60, s-maxage=60"
                headers["vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            else:
                headers["cache-control"] = "no-cache"
        headers.update(response.headers)
        if fault is not None:
            headers.update(fault.headers)  # a fault's headers win over the computed ones
        response.headers = headers
        return response

    def enable_chaos(self, probability: float, seed: int = 7) -> None:
        """Answer a share of requests with a transient fault, deterministically from ``seed``:
        5xx, a dropped connection, truncated JSON, a secondary limit with ``retry-after``, or (for
        searches) ``incomplete_results``. A retrying client must end with the same data."""
        import random

        self._chaos = (probability, random.Random(seed))

    def _chaos_fault(self, path: str) -> Optional[_Fault]:
        chaos = getattr(self, "_chaos", None)
        if not chaos or path == "/rate_limit" or not path.startswith(("/search/", "/repos/", "/repositories/", "/graphql")):
            return None
        probability, rng = chaos
        with self._lock:
            if rng.random() >= probability:
                return None
            kind = rng.choice(["502", "503", "drop", "truncated", "secondary", "incomplete"])
        if kind in ("502", "503"):
            return _Fault(path, int(kind), 1, {}, None, 0.0)
        if kind == "drop":
            return _Fault(path, 0, 1, {}, None, 0.0)
        if kind == "truncated":
            return _Fault(path, 200, 1, {}, None, 0.0, raw_body=b'{"total_count": 3, "items": [{"id"')
        if kind == "secondary" or not path.startswith("/search/"):
            return _Fault(path, 403, 1, {"retry-after": "1"}, _error_body(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", 403),
                0.0)
        return _Fault(path, 200, 1, {}, None, 0.0,
                      raw_body=b'{"total_count": 1, "incomplete_results": true, "items": []}')

    @staticmethod
    def _crowded_fault(path: str) -> _Fault:
        """GitHub's answer to too many concurrent requests: a secondary rate limit with retry-after."""
        return _Fault(path, 403, 1, {"retry-after": "1"}, _error_body(
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", 403), 0.0)

    def enable_limit_chaos(self, seed: int, server_errors: float = 0.08, secondary: float = 0.04,
                           primary: float = 0.02, penalty: float = 2.0) -> None:
        """GitHub's limits as it enforces them on a busy day, drawn from ``seed``: a share of requests
        answers 5xx, meets a secondary limit or finds its primary bucket just spent (reset one to two
        seconds away). A secondary limit penalises the whole token: for ``penalty`` seconds (of
        ``clock``) every request of that token is refused again (403, ``retry-after``), and each
        refusal starts the penalty over. A spent bucket refuses that token's requests of that resource
        until its reset. A client that waits as told, and resumes gently, ends with the same data."""
        import random

        with self._lock:
            self._limit_chaos = (random.Random(seed), server_errors, secondary, primary, penalty)
            self._penalised: dict[str, float] = {}  # authorization -> end of its secondary penalty
            self._spent: dict[tuple[str, str], int] = {}  # (authorization, resource) -> reset epoch
        self.limit_chaos_answers: Counter = Counter()

    def _limit_chaos_fault(self, path: str, headers: dict[str, str]) -> Optional[_Fault]:
        chaos = getattr(self, "_limit_chaos", None)
        if not chaos or not path.startswith(("/search/", "/repos/", "/repositories/", "/graphql")):
            return None
        rng, server_errors, secondary, primary, penalty = chaos
        who, resource = headers.get("authorization", ""), self._resource(path)
        with self._lock:
            now = self.clock()
            if now < self._penalised.get(who, float("-inf")):
                kind = "secondary (inside the penalty)"
            elif now < self._spent.get((who, resource), float("-inf")):
                kind = "primary (spent)"
            else:
                draw = rng.random()
                kind = ("5xx" if draw < server_errors else "secondary" if draw < server_errors + secondary
                        else "primary" if draw < server_errors + secondary + primary else None)
                if kind == "primary":
                    self._spent[(who, resource)] = int(now) + rng.choice((1, 2))
            if kind is None:
                return None
            self.limit_chaos_answers[kind] += 1
            if kind.startswith("secondary"):
                self._penalised[who] = now + penalty
            reset = self._spent.get((who, resource), 0)
            server_error = rng.choice((500, 502, 503)) if kind == "5xx" else 0
        if kind == "5xx":
            return _Fault(path, server_error, 1, {}, None, 0.0)
        if kind.startswith("secondary"):
            return _Fault(path, 403, 1, {"retry-after": str(math.ceil(penalty))}, _error_body(
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", 403),
                0.0)
        spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "x-ratelimit-resource": resource}
        if path == "/graphql":
            return _Fault(path, 200, 1, spent, None, 0.0,
                          raw_body=b'{"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]}')
        return _Fault(path, 403, 1, spent, _error_body(
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include"
            " the request ID.", 403, "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"), 0.0)

    def _take_fault(self, path: str) -> Optional[_Fault]:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: _Fault) -> _Response:
        if fault.status == 0:
            return _Response(0, drop=True, delay=fault.delay)
        if fault.status in (204, 304):
            return _Response(fault.status)
        body = fault.body
        if body is None:
            try:
                phrase = HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = "Error"
            body = _error_body(phrase, fault.status)
        return _json_response(fault.status, body)

    def _token_ok(self, headers: dict[str, str]) -> bool:
        scheme, _, credential = headers.get("authorization", "").strip().partition(" ")
        accepted = {self.token, *self.accepted_tokens}
        return scheme.lower() in ("bearer", "token") and credential.strip() in accepted

    # -- other ways to authenticate ----------------------------------------------------------------

    def configure_app(self, app_id: str, public_key_pem: str, installation_id: str,
                      expires_in: int = 3600) -> None:
        """Accept GitHub App JWTs signed by the matching private key; issue installation tokens."""
        self._app = (str(app_id), public_key_pem, str(installation_id), expires_in)

    def configure_oauth(self, client_id: str, client_secret: str, refresh_token: str,
                        expires_in: int = 28800) -> None:
        """Refresh OAuth user tokens; each refresh token works once, as on GitHub."""
        self._oauth = {"client_id": client_id, "client_secret": client_secret, "refresh": refresh_token,
                       "expires_in": expires_in}

    def _issue_token(self, path: str, headers: dict[str, str], body: bytes) -> _Response:
        now = datetime.now(timezone.utc)
        with self._lock:
            self.issued += 1
            serial = self.issued
        if path == "/login/oauth/access_token":
            form = dict(parse_qsl(body.decode()))
            oauth = getattr(self, "_oauth", None)
            if (not oauth or form.get("client_id") != oauth["client_id"]
                    or form.get("client_secret") != oauth["client_secret"]):
                return _json_response(200, {"error": "incorrect_client_credentials"})
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != oauth["refresh"]:
                return _json_response(200, {"error": "bad_refresh_token"})
            access, oauth["refresh"] = f"ghu_issued{serial}", f"ghr_issued{serial}"
            self.accepted_tokens.add(access)
            return _json_response(200, {"access_token": access, "expires_in": oauth["expires_in"],
                                        "refresh_token": oauth["refresh"], "refresh_token_expires_in": 15897600,
                                        "token_type": "bearer", "scope": ""})
        import jwt

        app = getattr(self, "_app", None)
        scheme, _, assertion = headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(assertion, app[1], algorithms=["RS256"]) if app else None
        except jwt.PyJWTError:
            claims = None
        if not claims or str(claims.get("iss")) != app[0]:
            return _json_response(401, _error_body("A JSON web token could not be decoded", 401))
        if path != f"/app/installations/{app[2]}/access_tokens":
            return _json_response(404, _error_body("Not Found", 404))
        token = f"ghs_issued{serial}"
        self.accepted_tokens.add(token)
        expires = (now + timedelta(seconds=app[3])).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _json_response(201, {"token": token, "expires_at": expires, "permissions": {"metadata": "read"},
                                    "repository_selection": "all"})

    def rename(self, repo_id: int, new_full_name: str) -> None:
        """Rename a repository; its old name then answers 301 to /repositories/{id}, as on GitHub,
        until a repository is created (``add_repo``) or renamed under that name: then it answers that one."""
        with self._lock:
            repo = self._repos[repo_id]
            self._renamed[repo.full_name.lower()] = repo_id
            self._renamed.pop(new_full_name.lower(), None)  # a name taken again no longer redirects
            repo.full_name = new_full_name

    @staticmethod
    def _resource(path: str) -> str:
        if path.startswith("/search/code"):
            return "code_search"
        if path.startswith("/search/"):
            return "search"
        if path == "/graphql":
            return "graphql"
        return "core"

    def _exhausted(self, path: str, authed: bool) -> bool:
        resource = self._resource(path)
        if path == "/rate_limit" or resource not in self._enforced:
            return False
        return self._rate_state(resource, authed, charge=False)["remaining"] <= 0

    def _rate_limit_exceeded(self, path: str) -> _Response:
        """GitHub's answer to a request into a spent bucket (charged nothing, remaining stays 0)."""
        message = "API rate limit exceeded for user ID 1."
        if path == "/graphql":
            return _json_response(200, {"errors": [{"type": "RATE_LIMITED", "message": message}]}, charge=False)
        return _json_response(403, _error_body(
            message + " If you reach out to GitHub Support for help, please include the request ID.", 403,
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"), charge=False)

    def _rate_state(self, resource: str, authed: bool, charge: bool) -> dict[str, int]:
        with self._lock:
            state = self._rate[resource]
            now = int(self.clock())
            limit_auth, limit_anon, window = self._limits[resource]
            if state["reset"] <= now:  # a new window: the counter starts again
                state["used"], state["reset"] = 0, now + window
            if charge:
                state["used"] += 1
            limit = limit_auth if authed else limit_anon
            return {"limit": limit, "remaining": max(0, limit - state["used"]),
                    "reset": state["reset"], "used": state["used"]}

    def _charge(self, resource: str, authed: bool, charge: bool) -> dict[str, str]:
        state = self._rate_state(resource, authed, charge)
        return {
            "x-ratelimit-limit": str(state["limit"]),
            "x-ratelimit-remaining": str(state["remaining"]),
            "x-ratelimit-reset": str(state["reset"]),
            "x-ratelimit-used": str(state["used"]),
            "x-ratelimit-resource": resource,
        }

    def _route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Response:
        if path == "/search/repositories":
            return self._search_repositories(path, query)
        if path == "/search/code":
            if not headers.get("authorization"):
                return _json_response(401, _error_body(
                    "Requires authentication", 401, SEARCH_DOCS_URL + "#search-code",
                    errors=[{"message": "Must be authenticated to access the code search API",
                             "resource": "Search", "field": "q", "code": "invalid"}]))
            return self._search_code(path, query)
        if path == "/rate_limit":
            return self._rate_limit(bool(headers.get("authorization")))
        moved = re.fullmatch(r"/repositories/(\d+)(/readme)?/?", path)
        if moved:
            repo = self._visible(self._repos.get(int(moved.group(1))))
            if isinstance(repo, _Response):
                return repo
            if moved.group(2):
                return self._readme(repo, headers)
            if repo is None:
                return _json_response(404, _error_body("Not Found", 404))
            return self._conditional(headers, _json_bytes(self._full_repository(repo)), None)
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+?)(/readme)?/?", path)
        if match and f"{unquote(match.group(1))}/{unquote(match.group(2))}".lower() in self._renamed:
            repo_id = self._renamed[f"{unquote(match.group(1))}/{unquote(match.group(2))}".lower()]
            location = f"{self.url}/repositories/{repo_id}{match.group(3) or ''}"
            return _json_response(301, {"message": "Moved Permanently", "url": location,
                                        "documentation_url": DOCS_URL}, headers={"location": location})
        if match:
            repo = self._visible(self._find(unquote(match.group(1)), unquote(match.group(2))))
            if isinstance(repo, _Response):
                return repo
            if match.group(3):
                return self._readme(repo, headers)
            if repo is None:
                return _json_response(404, _error_body("Not Found", 404, DOCS_URL + "/repos/repos#get-a-repository"))
            return self._conditional(headers, _json_bytes(self._full_repository(repo)), None)
        return _json_response(404, _error_body("Not Found", 404))

    def _visible(self, repo: Optional[FakeRepo]) -> Any:
        """The repository as the /repos endpoints see it: None once gone, a 451 answer when blocked."""
        if repo is None or repo.gone:
            return None
        if repo.blocked:
            return _json_response(451, {
                "message": "Repository access blocked",
                "block": {"reason": "dmca", "created_at": "2026-01-01T00:00:00Z",
                          "html_url": "https://github.com/github/dmca/blob/master/2026/01/2026-01-01-example.md"},
                "documentation_url": DOCS_URL, "status": "451"})
        return repo

    def _find(self, owner: str, name: str) -> Optional[FakeRepo]:
        wanted = f"{owner}/{name}".lower()
        with self._lock:
            return next((r for r in self._repos.values() if r.full_name.lower() == wanted), None)

    def _conditional(self, headers: dict[str, str], body: bytes, etag: Optional[str],
                     content_type: str = "application/json; charset=utf-8") -> _Response:
        """A core GET with an ETag; a matching ``If-None-Match`` gets a free 304, as on GitHub."""
        etag = etag or f'W/"{hashlib.sha256(body).hexdigest()}"'
        wanted = [t.strip() for t in headers.get("if-none-match", "").split(",") if t.strip()]
        if etag in wanted or etag.removeprefix("W/") in [t.removeprefix("W/") for t in wanted]:
            return _Response(304, headers={"etag": etag}, charge=False)
        return _Response(200, body, headers={"etag": etag, "content-type": content_type})

    # -- paging ----------------------------------------------------------------------------------

    def _paged(self, path: str, query: dict[str, str], items: list[Any], code: bool) -> _Response:
        per_page = min(100, max(1, _int_param(query.get("per_page"), 30)))
        page = max(1, _int_param(query.get("page"), 1))
        # repositories refuse a page that *starts* past 1,000; code search one that would *reach* past it
        beyond = page * per_page > SEARCH_WINDOW if code else (page - 1) * per_page >= SEARCH_WINDOW
        if beyond:
            return _json_response(422, _error_body("Only the first 1000 search results are available",
                                                   422, SEARCH_DOCS_URL))
        if code:
            last = max(1, min(math.ceil(len(items) / per_page), SEARCH_WINDOW // per_page))
        else:
            last = max(1, math.ceil(min(len(items), SEARCH_WINDOW) / per_page))
        start = (page - 1) * per_page
        body = {"total_count": len(items), "incomplete_results": False, "items": items[start:start + per_page]}
        response = _json_response(200, body)
        link = self._link_header(path, query, page, last)
        if link:
            response.headers["link"] = link
        return response

    def _link_header(self, path: str, query: dict[str, str], page: int, last: int) -> str:
        def url(target: int) -> str:
            return f"<{self.url}{path}?{urlencode({**query, 'page': str(target)})}>"

        links = []
        if page > 1:
            links.append(f'{url(min(page - 1, last))}; rel="prev"')
        if page < last:
            links += [f'{url(page + 1)}; rel="next"', f'{url(last)}; rel="last"']
        if page > 1:
            links.append(f'{url(1)}; rel="first"')
        return ", ".join(links)

    # -- /search/repositories ------------------------------------------------------------------

    def _search_repositories(self, path: str, query: dict[str, str]) -> _Response:
        q = query.get("q", "").strip()
        if not q:
            return _json_response(422, _error_body("Validation Failed", 422, SEARCH_DOCS_URL,
                                                   errors=[{"resource": "Search", "field": "q", "code": "missing"}]))
        predicate, languages = self._repo_predicate(q)
        with self._lock:
            repos = [r for r in self._repos.values() if predicate(r)]
            raw = [item for lang, item in self._raw_items if lang in languages]
        sort = query.get("sort")
        keys: dict[str, Callable[[FakeRepo], Any]] = {
            "stars": lambda r: (-r.stars, r.id),
            "forks": lambda r: (-r.forks, r.id),
            "updated": lambda r: (_neg_ts(r.updated_at or r.pushed_at), r.id),
        }
        if sort in keys:
            repos.sort(key=keys[sort])
            if query.get("order", "desc").lower() == "asc":
                repos.reverse()
        else:  # "best match": deterministic id order; order is ignored without sort, as on GitHub
            repos.sort(key=lambda r: r.id)
        items = []
        for r in repos:
            items += [self._search_item(r)] * (1 + self._repeats.get(r.id, 0))
        items += raw
        return self._paged(path, query, items, code=False)

    def _repo_predicate(self, q: str) -> tuple[Callable[[FakeRepo], bool], set[str]]:
        tests: list[Callable[[FakeRepo], bool]] = []
        languages: set[str] = set()
        for negated, key, value in _tokens(q):
            if key is None:
                text = value.lower()
                test = (lambda r, t=text: t in r.full_name.lower() or t in (r.description or "").lower()
                        or any(t == topic.lower() for topic in r.topics))
            elif key == "language":
                if not negated:
                    languages.add(value.lower())
                    continue  # several language: qualifiers are OR-ed, handled below
                test = lambda r, v=value.lower(): (r.language or "").lower() == v
            elif key in ("pushed", "created"):
                check = _range_predicate(value, _date_bound, _date_cmp)
                test = (lambda r, c=check: c(r.pushed_at)) if key == "pushed" else (lambda r, c=check: c(r.created_at))
            elif key in ("stars", "forks"):
                check = _range_predicate(value, _int_bound, _int_cmp)
                test = (lambda r, c=check: c(r.stars)) if key == "stars" else (lambda r, c=check: c(r.forks))
            elif key == "archived" and value.lower() in ("true", "false"):
                test = lambda r, v=value.lower() == "true": r.archived == v
            elif key == "topic":
                test = lambda r, v=value.lower(): v in (t.lower() for t in r.topics)
            elif key == "is" and value.lower() in ("public", "private"):
                test = lambda r, v=value.lower(): v == "public"
            elif key == "fork" and value.lower() in ("true", "false", "only"):
                test = lambda r, v=value.lower(): v != "only"  # the fake has no forks
            else:
                raise _Invalid(f"unsupported qualifier {key}:{value}")
            tests.append((lambda r, t=test: not t(r)) if negated else test)
        if languages:
            tests.append(lambda r: (r.language or "").lower() in languages)
        return (lambda r: all(t(r) for t in tests)), languages

    # -- /search/code ---------------------------------------------------------------------------

    def _search_code(self, path: str, query: dict[str, str]) -> _Response:
        q = query.get("q", "").strip()
        if not q:
            return _json_response(422, _error_body("Validation Failed", 422, SEARCH_DOCS_URL,
                                                   errors=[{"resource": "Search", "field": "q", "code": "missing"}]))
        with self._lock:
            files = [(r, "render.yaml") for r in self._repos.values() if r.render_yaml]
            files += [(self._repos[rid], p) for rid, p in self._decoys if rid in self._repos]
        files.sort(key=lambda f: (f[0].id, f[1] != "render.yaml", f[1]))
        predicate = self._code_predicate(q)
        items = [self._code_item(r, p) for r, p in files if predicate(r, p, _render_yaml(r))]
        return self._paged(path, query, items, code=True)

    @staticmethod
    def _code_predicate(q: str) -> Callable[[FakeRepo, str, bytes], bool]:
        """Legacy code-search qualifiers. ``path:`` is accepted but not applied: real results for
        ``path:/`` still need the client's own ``path == "render.yaml"`` check, which decoys test."""
        tests: list[Callable[[FakeRepo, str, bytes], bool]] = []
        has_term = False
        for negated, key, value in _tokens(q):
            v = value.lower()
            if key is None:
                has_term = True
                test = lambda r, p, c, v=v: v in c.decode().lower() or v in p.lower()
            elif key == "filename":
                has_term = True
                test = lambda r, p, c, v=v: p.rsplit("/", 1)[-1].lower() == v
            elif key == "extension":
                test = lambda r, p, c, v=v.lstrip("."): p.lower().endswith("." + v)
            elif key == "path" or key == "in" or key == "fork":
                continue
            elif key == "language":
                test = lambda r, p, c, v=v: v == "yaml"
            elif key == "repo":
                test = lambda r, p, c, v=v: r.full_name.lower() == v
            elif key in ("user", "org"):
                test = lambda r, p, c, v=v: r.owner.lower() == v
            elif key == "size":
                check = _range_predicate(value, _int_bound, _int_cmp)
                test = lambda r, p, c, check=check: check(len(c))
            else:
                raise _Invalid(f"unsupported qualifier {key}:{value}")
            tests.append((lambda r, p, c, t=test: not t(r, p, c)) if negated else test)
        if not has_term:
            raise _Invalid("code search needs a search term or a filename: qualifier")
        return lambda r, p, c: all(t(r, p, c) for t in tests)

    # -- /rate_limit ---------------------------------------------------------------------------

    def _rate_limit(self, authed: bool) -> _Response:
        resources = {name: self._rate_state(name, authed, charge=False) for name in RATE_LIMITS}
        return _json_response(200, {"resources": resources, "rate": dict(resources["core"])})

    # -- README --------------------------------------------------------------------------------

    def _readme(self, repo: Optional[FakeRepo], headers: dict[str, str]) -> _Response:
        readme_docs = DOCS_URL + "/repos/contents#get-a-repository-readme"
        if repo is not None and repo.empty:
            return _json_response(409, _error_body("This repository is empty.", 409, readme_docs))
        if repo is None or repo.readme is None:
            return _json_response(404, _error_body("Not Found", 404, readme_docs))
        data = repo.readme.encode("utf-8")
        sha = _blob_sha(data)
        accept = [part.split(";")[0].strip().lower() for part in headers.get("accept", "").split(",")]
        raw = any(a in RAW_MEDIA_TYPES for a in accept)
        if len(data) > (self.blob_raw_limit if raw else self.blob_json_limit):
            return _json_response(403, _error_body(
                "This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via the API, "
                "but you can use the Git Data API to request blobs up to 100 MB in size.", 403,
                DOCS_URL + "/repos/contents#get-repository-content",
                errors=[{"resource": "Blob", "field": "data", "code": "too_large"}]))
        if raw:
            response = self._conditional(headers, data, f'"{sha}"', "application/vnd.github.raw; charset=utf-8")
            response.headers["x-github-media-type"] = "github.v3; param=raw"
            return response
        api = f"{self.url}/repos/{repo.full_name}"
        path = repo.readme_name
        body = {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": _wrap_base64(data),
            "sha": sha,
            "url": f"{api}/contents/{path}?ref=main",
            "git_url": f"{api}/git/blobs/{sha}",
            "html_url": f"https://github.com/{repo.full_name}/blob/main/{path}",
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/main/{path}",
            "_links": {
                "self": f"{api}/contents/{path}?ref=main",
                "git": f"{api}/git/blobs/{sha}",
                "html": f"https://github.com/{repo.full_name}/blob/main/{path}",
            },
        }
        return self._conditional(headers, _json_bytes(body), f'"{sha}"')

    # -- POST /graphql -----------------------------------------------------------------------------

    def _graphql(self, method: str, headers: dict[str, str], body: bytes) -> _Response:
        """GitHub's GraphQL endpoint: ``nodes(ids:)``/``node(id:)`` for repositories and ``rateLimit``.
        Query errors come back as HTTP 200 with ``errors`` (and no ``data`` when the query is invalid)."""
        if not headers.get("authorization"):
            return _json_response(401, {"message": "This endpoint requires you to be authenticated.",
                                        "documentation_url": "https://docs.github.com/graphql/guides/"
                                                             "forming-calls-with-graphql#authenticating-with-graphql"})
        if method != "POST":
            return _json_response(404, _error_body("Not Found", 404))
        try:
            request = json.loads(body or b"{}")
            query, variables = request.get("query"), request.get("variables") or {}
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise ValueError
        except (ValueError, AttributeError):
            return _json_response(400, {"message": "Problems parsing JSON",
                                        "documentation_url": "https://docs.github.com/graphql"})
        errors: list = []
        try:
            data = self._graphql_schema().execute(gql.parse(query), "Query", None, variables, [], errors)
        except gql.GraphQLError as exc:
            return _json_response(200, {"errors": [exc.body]})
        return _json_response(200, {"data": data, **({"errors": errors} if errors else {})})

    def _graphql_schema(self) -> gql.Schema:
        def node(node_id: Any) -> Any:
            decoded = gql.decode_node_id(node_id)
            with self._lock:
                repo = self._repos.get(decoded[1]) if decoded and decoded[0] == "Repository" else None
            if decoded and decoded[0] == "User":
                return ("User", {"login": f"user{decoded[1]}"})
            if repo is None or repo.gone:
                return gql.Missing("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")
            if repo.blocked:  # illustrative: GitHub's exact GraphQL answer for a blocked repository is unverified
                return gql.Missing("FORBIDDEN", "Repository access blocked")
            return ("Repository", repo)

        def nodes(_parent: Any, args: dict) -> Any:
            ids = args.get("ids")
            if not isinstance(ids, list):
                raise gql.GraphQLError("Argument 'ids' on Field 'nodes' has an invalid value. Expected type '[ID!]!'.")
            if len(ids) > 100:
                raise gql.GraphQLError(f"nodes(ids:) asked for {len(ids)} ids; this fake serves at most 100")
            return [node(i) for i in ids]

        def rate_limit(_parent: Any, _args: dict) -> Any:
            state = self._rate_state("graphql", True, charge=False)
            reset = datetime.fromtimestamp(state["reset"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            return ("RateLimit", {"cost": 1, "limit": state["limit"], "remaining": state["remaining"],
                                  "used": state["used"], "resetAt": reset, "nodeCount": 0})

        def field(name: str) -> Callable[[Any, dict], Any]:
            return lambda obj, _args: obj.get(name)

        def connection_total(count: Callable[[FakeRepo], int]) -> Callable[[Any, dict], Any]:
            return lambda repo, _args: ("Connection", {"totalCount": count(repo)})

        def topics(repo: FakeRepo, args: dict) -> Any:
            first = args.get("first")
            if not isinstance(first, int) or not 1 <= first <= 100:
                raise gql.GraphQLError("You must provide a `first` or `last` value (1..100) to properly paginate "
                                       "the `repositoryTopics` connection.")
            nodes_ = [("RepositoryTopic", {"topic": ("Topic", {"name": t})}) for t in repo.topics[:first]]
            return ("Connection", {"totalCount": len(repo.topics), "nodes": nodes_})

        repository = {
            "id": lambda r, a: _b64(f"010:Repository{r.id}"),
            "databaseId": lambda r, a: r.id,
            "name": lambda r, a: r.name,
            "nameWithOwner": lambda r, a: r.full_name,
            "owner": lambda r, a: ("RepositoryOwner", {"login": r.owner}),
            "description": lambda r, a: r.description,
            "homepageUrl": lambda r, a: r.homepage,
            "url": lambda r, a: f"https://github.com/{r.full_name}",
            "isPrivate": lambda r, a: False,
            "isFork": lambda r, a: False,
            "isArchived": lambda r, a: r.archived,
            "isDisabled": lambda r, a: False,
            "createdAt": lambda r, a: r.created_at,
            "pushedAt": lambda r, a: r.pushed_at,
            "updatedAt": lambda r, a: r.updated_at or r.pushed_at,
            "stargazerCount": lambda r, a: r.stars,
            "forkCount": lambda r, a: r.forks,
            "primaryLanguage": lambda r, a: ("Language", {"name": r.language}) if r.language else None,
            "licenseInfo": lambda r, a: ("License", {"key": LICENSES.get(r.license_spdx, (r.license_spdx.lower(),))[0],
                                                     "name": LICENSES.get(r.license_spdx, ("", r.license_spdx))[1],
                                                     "spdxId": r.license_spdx}) if r.license_spdx else None,
            "repositoryTopics": topics,
            "issues": connection_total(lambda r: r.open_issues),
            "pullRequests": connection_total(lambda r: 0),
            "defaultBranchRef": lambda r, a: ("Ref", {"name": "main"}),
        }
        return gql.Schema({
            "Query": {"nodes": nodes, "node": lambda _p, a: node(a.get("id")), "rateLimit": rate_limit},
            "Repository": repository,
            "User": {"login": field("login")},
            "RepositoryOwner": {"login": field("login")},
            "Language": {"name": field("name")},
            "License": {"key": field("key"), "name": field("name"), "spdxId": field("spdxId")},
            "Connection": {"totalCount": field("totalCount"), "nodes": field("nodes")},
            "RepositoryTopic": {"topic": field("topic")},
            "Topic": {"name": field("name")},
            "Ref": {"name": field("name")},
            "RateLimit": {k: field(k) for k in ("cost", "limit", "remaining", "used", "resetAt", "nodeCount")},
        })

    # -- JSON shapes -----------------------------------------------------------------------------

    def _owner(self, login: str) -> dict:
        oid = _owner_id(login)
        users = f"{self.url}/users/{login}"
        return {
            "login": login,
            "id": oid,
            "node_id": _b64(f"04:User{oid}"),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{oid}?v=4",
            "gravatar_id": "",
            "url": users,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{users}/followers",
            "following_url": f"{users}/following{{/other_user}}",
            "gists_url": f"{users}/gists{{/gist_id}}",
            "starred_url": f"{users}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{users}/subscriptions",
            "organizations_url": f"{users}/orgs",
            "repos_url": f"{users}/repos",
            "events_url": f"{users}/events{{/privacy}}",
            "received_events_url": f"{users}/received_events",
            "type": "User",
            "site_admin": False,
        }

    def _minimal_repository(self, repo: FakeRepo) -> dict:
        """The ``minimal-repository`` of code-search hits: no stars, dates, language or topics."""
        base = f"{self.url}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": _b64(f"010:Repository{repo.id}"),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self._owner(repo.owner),
            "private": False,
            "html_url": f"https://github.com/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": base,
            "forks_url": f"{base}/forks",
            "keys_url": f"{base}/keys{{/key_id}}",
            "collaborators_url": f"{base}/collaborators{{/collaborator}}",
            "teams_url": f"{base}/teams",
            "hooks_url": f"{base}/hooks",
            "issue_events_url": f"{base}/issues/events{{/number}}",
            "events_url": f"{base}/events",
            "assignees_url": f"{base}/assignees{{/user}}",
            "branches_url": f"{base}/branches{{/branch}}",
            "tags_url": f"{base}/tags",
            "blobs_url": f"{base}/git/blobs{{/sha}}",
            "git_tags_url": f"{base}/git/tags{{/sha}}",
            "git_refs_url": f"{base}/git/refs{{/sha}}",
            "trees_url": f"{base}/git/trees{{/sha}}",
            "statuses_url": f"{base}/statuses/{{sha}}",
            "languages_url": f"{base}/languages",
            "stargazers_url": f"{base}/stargazers",
            "contributors_url": f"{base}/contributors",
            "subscribers_url": f"{base}/subscribers",
            "subscription_url": f"{base}/subscription",
            "commits_url": f"{base}/commits{{/sha}}",
            "git_commits_url": f"{base}/git/commits{{/sha}}",
            "comments_url": f"{base}/comments{{/number}}",
            "issue_comment_url": f"{base}/issues/comments{{/number}}",
            "contents_url": f"{base}/contents/{{+path}}",
            "compare_url": f"{base}/compare/{{base}}...{{head}}",
            "merges_url": f"{base}/merges",
            "archive_url": f"{base}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{base}/downloads",
            "issues_url": f"{base}/issues{{/number}}",
            "pulls_url": f"{base}/pulls{{/number}}",
            "milestones_url": f"{base}/milestones{{/number}}",
            "notifications_url": f"{base}/notifications{{?since,all,participating}}",
            "labels_url": f"{base}/labels{{/name}}",
            "releases_url": f"{base}/releases{{/id}}",
            "deployments_url": f"{base}/deployments",
        }

    def _license(self, spdx: Optional[str]) -> Optional[dict]:
        if spdx is None:
            return None
        key, name = LICENSES.get(spdx, (spdx.lower(), spdx))
        return {
            "key": key,
            "name": name,
            "spdx_id": spdx,
            "url": None if key == "other" else f"{self.url}/licenses/{key}",
            "node_id": _b64(f"07:License{key}"),
        }

    def _search_item(self, repo: FakeRepo) -> dict:
        """A ``repo-search-result-item`` (every required field of the 2022-11-28 schema)."""
        item = self._minimal_repository(repo)
        html = f"https://github.com/{repo.full_name}"
        item.update({
            "created_at": repo.created_at,
            "updated_at": repo.updated_at or repo.pushed_at,
            "pushed_at": repo.pushed_at,
            "git_url": f"git://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": repo.homepage,
            "size": (repo.id * 37) % 50_000,
            "stargazers_count": repo.stars,
            "watchers_count": repo.stars,
            "language": repo.language,
            "has_issues": True,
            "has_projects": True,
            "has_downloads": True,
            "has_wiki": True,
            "has_pages": False,
            "forks_count": repo.forks,
            "mirror_url": None,
            "archived": repo.archived,
            "disabled": False,
            "open_issues_count": repo.open_issues,
            "license": self._license(repo.license_spdx),
            "allow_forking": True,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": list(repo.topics),
            "visibility": "public",
            "forks": repo.forks,
            "open_issues": repo.open_issues,
            "watchers": repo.stars,
            "default_branch": "main",
            "score": 1.0,
        })
        return item

    def _full_repository(self, repo: FakeRepo) -> dict:
        """A ``full-repository`` (GET /repos/{owner}/{repo}): the search item without ``score``."""
        item = self._search_item(repo)
        del item["score"]
        item.update({
            "has_discussions": False,
            "temp_clone_token": None,
            "network_count": repo.forks,
            "subscribers_count": repo.stars // 10,
        })
        return item

    def _code_item(self, repo: FakeRepo, path: str) -> dict:
        """A ``code-search-result-item``; its ``repository`` is minimal, as in GitHub's own example."""
        sha = _blob_sha(_render_yaml(repo))
        commit = hashlib.sha1(f"commit:{repo.full_name}".encode()).hexdigest()
        api = f"{self.url}/repositories/{repo.id}"
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": f"{api}/contents/{path}?ref={commit}",
            "git_url": f"{api}/git/blobs/{sha}",
            "html_url": f"https://github.com/{repo.full_name}/blob/{commit}/{path}",
            "repository": self._minimal_repository(repo),
            "score": 1.0,
        }


def _render_yaml(repo: FakeRepo) -> bytes:
    """The (deterministic) render.yaml content behind a code-search hit; drives its sha and ``size:``."""
    return f"services:\n  - type: web\n    name: {repo.name}\n    runtime: docker\n".encode()


def _neg_ts(timestamp: str) -> float:
    return -_parse_timestamp(timestamp).timestamp()
