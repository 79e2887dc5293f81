"""Where credentials may go, and how a GitHub URL may be shown.

Credentials go to the API's own origin only: the scheme, host and port of ``GITHUB_API_URL``.
Any other origin (another host, or another port of the same host) gets no ``Authorization``,
whoever named it: a page link, a redirect, a URL inside an answer.

A user and password in the API's URL (GitHub takes ``user:token`` as basic auth) are kept out of
every URL handed to httpx, which logs URLs and puts them in exceptions, and are sent as basic auth
to the API's origin only. A URL is shown with them hidden, as ``DATABASE_URL`` is: the user stays
when a password follows it (``user:***@``); a lone user, often a token, is hidden whole (``***@``).
"""

from __future__ import annotations

from typing import Optional, Union

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: Union[str, httpx.URL]) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in; raises httpx.InvalidURL."""
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port or DEFAULT_PORTS.get(parsed.scheme, 0)


def shown_origin(url: Union[str, httpx.URL]) -> str:
    """``scheme://host:port``: where a URL points, without its user, password, path or query."""
    scheme, host, port = origin(url)
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" if DEFAULT_PORTS.get(scheme) == port else f"{scheme}://{host}:{port}"


def shown_api_url(url: Union[str, httpx.URL]) -> str:
    """The URL as a person may see it: any user and password in it hidden. Never raises, so an
    error message about a malformed URL can still show it."""
    text = str(url)
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    end = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at:
        return text
    user, colon, _password = userinfo.partition(":")
    masked = f"{user}:***" if colon and user else "***"
    return f"{scheme}{separator}{masked}@{host}{rest[end:]}"


def without_userinfo(url: Union[str, httpx.URL]) -> httpx.URL:
    """``url`` without the user and password it may carry; raises httpx.InvalidURL."""
    parsed = httpx.URL(url)
    return parsed.copy_with(username=None, password=None) if parsed.userinfo else parsed


def userinfo_auth(url: Union[str, httpx.URL]) -> Optional[httpx.BasicAuth]:
    """The user and password ``url`` carries, as the basic auth httpx would derive from them."""
    parsed = httpx.URL(url)
    return httpx.BasicAuth(parsed.username, parsed.password) if parsed.userinfo else None
