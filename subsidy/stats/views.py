from flask import Blueprint, render_template
from flask_login import current_user

from subsidy.stats import service

bp = Blueprint("stats", __name__)


@bp.route("/home")
def home():
    return render_template("stats/home.html", overview=service.region_overview(current_user))
