"""README excerpts for the report: Markdown rendered, then sanitized, because GitHub's text is untrusted.

READMEs are rendered from Markdown with markdown-it-py and the result is sanitized with nh3
(ammonia): an allowlist of tags and attributes, no ``<script>``/``<style>`` (content dropped), no
event handlers, only http(s)/mailto links, relative links resolved against the repository on
GitHub, and no images (the page loads nothing from elsewhere).
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote, urljoin, urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

README_MAX_CHARS = 6_000
"""The report shows an excerpt: READMEs longer than this are cut (at a line break) and link to the
full text on GitHub. A digest page of ~90 cards stays small, and rendering stays cheap."""

_SAFE_SCHEMES = {"http", "https", "mailto"}
_README_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "ul", "var",
}
_README_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "abbr": {"title"},
}
_IMAGE_AS_LINK = Markup('<a href="{}">[image: {}]</a>')
_CUT = Markup('<p class="cut">README shortened here — <a href="{}#readme" '
              'rel="noopener noreferrer nofollow">read it all on GitHub</a>.</p>')


def safe_url(url: Optional[str], base: Optional[str] = None) -> Optional[str]:
    """An absolute http(s)/mailto URL, or None. Relative URLs are resolved against ``base``."""
    if not url:
        return None
    url = url.strip()
    if any(ord(c) < 0x20 or c.isspace() for c in url):  # "java\tscript:", newlines: never a real link
        return None
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_SCHEMES:
        return None
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        return None
    return url


def repository_url(full_name: str, html_url: Optional[str]) -> str:
    return safe_url(html_url) or f"https://github.com/{quote(full_name, safe='/')}"


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])

    def image_as_link(renderer, tokens, idx, options, env):  # load nothing: show the image as a link
        token = tokens[idx]
        alt = "".join(t.content for t in (token.children or [])) or "image"
        return _IMAGE_AS_LINK.format(str(token.attrGet("src") or ""), alt)  # escapes both

    md.add_render_rule("image", image_as_link)
    return md


_MD = _markdown()


def sanitize_html(fragment: str, repo_url: Optional[str] = None) -> str:
    """Allowlist-sanitize an HTML fragment from an untrusted source. Relative links resolve against
    the repository's files on GitHub (``repo_url``); without it they are dropped."""
    base = repo_url.rstrip("/") + "/blob/HEAD/" if repo_url else None

    def keep(tag: str, attribute: str, value: str) -> Optional[str]:
        if attribute == "href":
            if repo_url and value.startswith("#"):
                return safe_url(repo_url.rstrip("/") + value)
            return safe_url(value, base)
        return value

    return nh3.clean(
        fragment,
        tags=_README_TAGS,
        clean_content_tags={"script", "style", "noscript", "template", "iframe", "object", "svg", "math"},
        attributes=_README_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )


def render_readme(markdown: str, repo_url: str) -> str:
    """README Markdown -> sanitized HTML; relative links point into the repository on GitHub."""
    text = markdown
    truncated = len(text) > README_MAX_CHARS
    if truncated:
        cut = text.rfind("\n", 0, README_MAX_CHARS)
        text = text[: cut if cut > README_MAX_CHARS // 2 else README_MAX_CHARS]
    rendered = sanitize_html(_MD.render(text), repo_url=repo_url)
    if truncated:
        rendered += str(_CUT.format(repo_url))  # str(): Markup's + would escape the sanitized HTML
    return rendered
