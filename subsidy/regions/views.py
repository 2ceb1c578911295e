"""Region browser: a county's townships and villages with their register sizes."""
from flask import Blueprint, render_template
from flask_login import current_user

from subsidy.regions import service

bp = Blueprint("regions", __name__)


@bp.route("/regions/")
@bp.route("/regions/<code>")
def show(code: str | None = None):
    region, children = service.children_with_counts(current_user, code or current_user.region_code)
    return render_template("regions/show.html", region=region, children=children)
