"""Deny by default: every endpoint needs a signed-in user unless it is marked `@public`.

The guard lives in `subsidy.web`; a test walks the URL map to prove every rule is covered."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_login import current_user


def public(view):
    """Mark a view as reachable without signing in. Keep the list short and reviewed."""
    view.is_public = True
    return view


def is_public_endpoint(endpoint: str | None) -> bool:
    if endpoint is None:
        return True  # 404 for an unknown URL
    if endpoint == "static":
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(getattr(view, "is_public", False))


def current_actor():
    """The acting staff user: the API's bearer-token user, else the session user."""
    actor = g.get("api_user")
    if actor is not None:
        return actor
    return current_user if current_user.is_authenticated else None


def client_address() -> str:
    return request.remote_addr or "unknown"


def safe_next(target: str | None, default: str, *, within: str = "/") -> str:
    """`target` if it is a path of this site under `within`, else `default`. A browser drops
    tabs and newlines from a URL and reads a backslash as a slash, so "/\t/evil.example" and
    "/\\evil.example" lead off the site: any control character or backslash is refused."""
    if not target or any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(within) or target.startswith("//"):
        return default
    return target
