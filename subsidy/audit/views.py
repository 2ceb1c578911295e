"""Supervisors (and the county admin) browse the audit log of their region."""
from flask import Blueprint, render_template, request
from flask_login import current_user

from subsidy.audit import service

bp = Blueprint("audit", __name__)


@bp.route("/audit/")
def index():
    result = service.list_events(current_user, page=request.args.get("page"), action=request.args.get("action"),
                                 object_type=request.args.get("object_type") or None,
                                 object_id=request.args.get("object_id") or None)
    return render_template("audit/index.html", page=result, args=request.args)
