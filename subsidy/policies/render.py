"""Policy text: Markdown in, sanitised HTML out (no script ever reaches a page).

markdown-it-py renders the Markdown (raw HTML passes through it, so a pasted `<br>` or table
still works), then nh3 (the Ammonia sanitiser) keeps only an allow-list of tags and attributes:
`<script>`, `<style>` and `<iframe>` go with their content, every `on*` attribute and `style`
go, and URLs keep only http(s), mailto and tel schemes (a `javascript:` link loses its href).
So what reaches a page holds neither the script nor the handler, not even as visible text.
Images are kept only when they point into the platform itself (a path starting with "/"): the
farmers' pages must never make the phone fetch anything from another host."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from subsidy.common.access import safe_next

_md = (MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
       .enable(["table", "strikethrough"]))

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "s", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


def _attribute_filter(tag: str, attribute: str, value: str):
    if tag == "img" and attribute == "src":
        # Same-host paths only ("/m/policies/1/files/2"), read as a browser reads them: "//host/x"
        # and "/\\host/x" (a backslash is a slash to a browser) are another host.
        return safe_next(value, None)
    return value


def sanitize(html: str) -> str:
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     attribute_filter=_attribute_filter, link_rel="noopener noreferrer nofollow",
                     strip_comments=True)


def render_markdown(text: str | None) -> Markup:
    """Markdown → HTML that is safe to put into any page as it is."""
    if not text:
        return Markup("")
    return Markup(sanitize(_md.render(text)))
