"""Supervisors (and the county admin) browse the audit log of their region, in words
(subsidy.audit.labels), check the chain (校验) and take a signed checkpoint of it away."""
from flask import Blueprint, Response, render_template, request
from flask_login import current_user

from subsidy.audit import checkpoints, labels, service

bp = Blueprint("audit", __name__)


def _index(verification=None, status=200):
    result = service.list_events(current_user, page=request.args.get("page"), action=request.args.get("action"),
                                 object_type=request.args.get("object_type") or None,
                                 object_id=request.args.get("object_id") or None)
    rows = [labels.readable(current_user, ev) for ev in result.items]
    return render_template("audit/index.html", page=result, rows=rows, args=request.args,
                           verification=verification, areas=labels.AREAS, actions=labels.ACTIONS,
                           objects=labels.OBJECTS, reason_label=labels.reason_label), status


@bp.route("/audit/")
def index():
    return _index()


@bp.route("/audit/verify", methods=["POST"])
def verify():
    return _index(checkpoints.verify_for(current_user))


@bp.route("/audit/checkpoint", methods=["POST"])
def checkpoint():
    # POST: the download is an audited act.
    point = checkpoints.download(current_user)
    return Response(point.as_json(), mimetype="application/json", headers={
        "Content-Disposition": f"attachment; filename=audit-checkpoint-{point.date}-{point.last_id}.json"})
