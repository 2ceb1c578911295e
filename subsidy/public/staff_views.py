"""Staff pages about the farmers' side: mobile coverage per village, and the printable QR
posters a township puts up in every village."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from subsidy.accounts.permissions import Perm
from subsidy.common.templating import register_nav
from subsidy.public import qr, service
from subsidy.regions.service import list_regions_under

bp = Blueprint("mobile_admin", __name__)
register_nav("mobile_admin.coverage", "手机端覆盖", Perm.view_register)


@bp.route("/mobile/coverage")
def coverage():
    summary, rows = service.coverage_by_village(current_user, request.args.get("region_code"))
    return render_template("public/coverage.html", summary=summary, rows=rows)


@bp.route("/mobile/posters")
def posters():
    items = service.posters(current_user, request.args.get("region_code"))
    regions = [r for r in list_regions_under(current_user) if len(r.code) < 12]
    return render_template("public/posters.html", posters=items, regions=regions, qr=qr.inline_svg,
                           selected=request.args.get("region_code") or current_user.region_code)
