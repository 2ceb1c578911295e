"""JSON API v1 (docs/api.md). Each area's `api.py` adds its routes to this blueprint with
`subsidy.api.spec.route`, which also feeds the generated OpenAPI document."""
from __future__ import annotations

from flask import Blueprint, g, request

from subsidy.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The API authenticates by bearer token only, never by cookie, so cross-site forms cannot
# ride on a signed-in browser: CSRF tokens are not needed here.
csrf.exempt(bp)

API_MODULES = (
    "subsidy.accounts.api",
    "subsidy.regions.api",
    "subsidy.households.api",
    "subsidy.projects.api",
    "subsidy.catalogue.api",
    "subsidy.cases.api",
    "subsidy.filings.api",
    "subsidy.notify.api",
    "subsidy.policies.api",
    "subsidy.payments.api",
    "subsidy.accountability.api",
    "subsidy.recoveries.api",
    "subsidy.materials.api",
    "subsidy.stats.api",
    "subsidy.api.docs",
)


def register_api_modules():
    import importlib

    for name in API_MODULES:
        importlib.import_module(name)


def authenticate_bearer():
    from subsidy.accounts.service import token_for
    from subsidy.api.errors import error_response

    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    row = token_for(token.strip()) if scheme.lower() == "bearer" and token else None
    if row is None:
        return error_response(401, "unauthorized", "需要有效的访问令牌（Authorization: Bearer …）")
    g.api_user, g.api_token_id = row.user, row.id
    return None
