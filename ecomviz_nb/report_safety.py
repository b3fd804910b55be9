"""What may enter a shared report page: escaped text without loopback URLs, inert HTML fragments."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from .config import is_local_server
from .errors import ValidationError

__all__ = ["check_fragment", "shareable"]

# The scheme and authority of anything URL-looking (user, host or [IPv6], port); whether it is
# a local server is for config.is_local_server alone to say, so the rule lives in one place.
_URL_ORIGIN = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://"
    r"(?:[^\s/?#@\[\]<>\"'`]*@)?"
    r"(?:\[[^\s\]/?#<>\"'`]*\]|[^\s/?#:@\[\]<>\"'`,;()\\]+)"
    r"(?::\d*)?"
)
_URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href"}
_BANNED = {"script", "iframe", "frame", "object", "embed", "applet", "link", "meta", "base", "form"}
_CSS_LOADS = re.compile(r"(?i)url\(\s*['\"]?(?!data:image/|#)|@import|javascript:")


def shareable(value: object) -> str:
    """Escaped text; a local server's address is dropped (it means nothing once shared).

    Every URL's scheme and host (with user and port) become ``(local server)`` when
    :func:`ecomviz_nb.config.is_local_server` says the host is this machine (``127.1``,
    ``app.localhost``, ``[::ffff:127.0.0.1]``…); the path stays, and other URLs stay whole.

    Args:
        value: anything; ``str(value)`` is what is shown.

    Returns:
        Text safe in HTML content and in a double-quoted attribute.
    """
    return html.escape(_URL_ORIGIN.sub(_mask_local, str(value)), quote=True)


def _mask_local(match: re.Match[str]) -> str:
    origin = match.group(0)
    try:
        local = is_local_server(origin)
    except ValidationError:  # no host after all (``http://:80``): nothing to hide
        return origin
    return "(local server)" if local else origin


class _Unsafe(HTMLParser):
    """Collects what in a fragment would run code or load something from elsewhere."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.css: list[str] = []
        """Style sheets and style attributes: where a url() or @import could load something.
        Text is not searched: a server's message may *mention* javascript: and stays text."""
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [f"<{tag}>"] if tag in _BANNED else []
        self.in_style = tag == "style"
        for name, value in attrs:
            text = (value or "").strip().lower()
            if (
                name.startswith("on")
                or (name in _URL_ATTRS and not text.startswith(("data:image/", "#")))
                or "javascript:" in text
            ):
                self.found.append(f"{name}={text[:60]!r}")
            if name == "style":
                self.css.append(text)

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.css.append(data)


def check_fragment(markup: str) -> str:
    """``markup`` unchanged if it can run nothing and load nothing from elsewhere.

    A fragment may hold any tags but script-like ones (script, iframe, object, embed, link,
    meta, base, form…), no ``on*`` handler, no ``javascript:``, and no URL but embedded
    ``data:image/`` ones and in-page ``#anchors`` (in attributes and in CSS alike).

    Raises:
        ValueError: naming up to five of the offending tags or attributes.
    """
    check = _Unsafe()
    check.feed(markup)
    check.close()
    if _CSS_LOADS.search("\n".join(check.css)):
        check.found.append("a CSS url() or @import that is not an embedded image")
    if check.found:
        raise ValueError(
            "an HTML fragment in a report may hold no script and no external URL; found "
            + ", ".join(check.found[:5])
        )
    return markup
