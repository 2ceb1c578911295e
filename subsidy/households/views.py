"""The register pages: list and search, create and edit (import/export: see below)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from subsidy.households import service

bp = Blueprint("households", __name__)


@bp.route("/households/")
def index():
    result = service.list_households(current_user, region_code=request.args.get("region_code") or None,
                                     q=request.args.get("q"), page=request.args.get("page"))
    return render_template("households/index.html", page=result, q=request.args.get("q", ""),
                           region_code=request.args.get("region_code", ""))
