"""What may enter a shared report page: escaped text without loopback URLs, inert HTML fragments."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .htmlkit import shareable

__all__ = ["check_fragment", "shareable"]

_URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href"}
_BANNED = {"script", "iframe", "frame", "object", "embed", "applet", "link", "meta", "base", "form"}
_CSS_LOADS = re.compile(r"(?i)url\(\s*['\"]?(?!data:image/|#)|@import|javascript:")


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
