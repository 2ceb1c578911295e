"""SMS pages (the staff pages, the broadcast) and the Twilio webhooks (/sms/status,
/sms/inbound). Views parse input, call a service function and render; the request commits."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm
from subsidy.common.access import public
from subsidy.common.forms import refused
from subsidy.common.params import id_arg
from subsidy.common.templating import register_nav
from subsidy.errors import DomainError
from subsidy.extensions import csrf
from subsidy.notify import broadcast as broadcasts
from subsidy.notify import service, webhooks
from subsidy.notify.forms import BroadcastForm, OptOutForm
from subsidy.notify.models import MessageStatus
from subsidy.notify.templates import TEMPLATES
from subsidy.regions.service import list_regions_under

bp = Blueprint("notify", __name__)
register_nav("notify.index", "短信通知", Perm.view_sms)


@bp.record_once
def _labels(state):
    # Globals, not a context processor: imported macros do not see the context.
    state.app.jinja_env.globals.update(
        sms_template_label=lambda name: TEMPLATES[name].label if name in TEMPLATES else name)


def _household_edit_endpoint() -> str | None:
    # The register's edit page belongs to the households area; link to it only if it exists.
    return "households.edit" if "households.edit" in current_app.view_functions else None


def _back(default: str):
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for(default))


@bp.route("/sms/")
def index():
    overview = service.outbox_overview(current_user, region_code=request.args.get("region_code") or None)
    return render_template("notify/index.html", o=overview, statuses=list(MessageStatus))


@bp.route("/sms/problems")
def problems():
    page = service.problem_messages(current_user, region_code=request.args.get("region_code") or None,
                                    page=request.args.get("page"))
    return render_template("notify/problems.html", page=page, **_context(page.items))


def _context(messages) -> dict:
    return {"households": service.households_by_id(m.household_id for m in messages),
            "opted_out": service.opted_out_among(m.to_phone for m in messages),
            "edit_endpoint": _household_edit_endpoint()}


@bp.route("/sms/messages")
def messages():
    args = request.args
    page = service.list_messages(current_user, region_code=args.get("region_code") or None,
                                 status=args.get("status") or None, template=args.get("template") or None,
                                 household_id=id_arg("household_id"), page=args.get("page"))
    return render_template("notify/messages.html", page=page, statuses=list(MessageStatus), templates=TEMPLATES,
                           status=args.get("status", ""), template=args.get("template", ""), **_context(page.items))


@bp.route("/sms/messages/<int:message_id>")
def message(message_id: int):
    m = service.get_message(current_user, message_id)
    return render_template("notify/message.html", m=m, **_context([m]))


@bp.route("/sms/messages/<int:message_id>/resend", methods=["POST"])
def resend(message_id: int):
    new = service.resend_message(current_user, message_id)
    flash(_("已重新加入发送队列，发往 %(phone)s。", phone=new.to_phone), "success")
    return _back("notify.problems")


@bp.route("/sms/opt-outs", methods=["GET", "POST"])
def opt_outs():
    form = OptOutForm()
    status = 200
    if form.validate_on_submit():
        try:
            service.record_opt_out(current_user, form.phone.data, form.note.data or "")
        except DomainError as exc:
            refused(exc, form)
            status = 422  # a number not found in scope is a field to correct here, not a missing page
        else:
            flash(_("已登记退订：%(phone)s 今后不再发送短信。", phone=form.phone.data), "success")
            return redirect(url_for("notify.opt_outs"))
    elif request.method == "POST":
        status = 422
    page, households = service.list_opt_outs(current_user, page=request.args.get("page"))
    return render_template("notify/opt_outs.html", form=form, page=page, households=households), status


@bp.route("/sms/opt-outs/remove", methods=["POST"])
def remove_opt_out():
    service.remove_opt_out(current_user, request.form.get("phone"))
    flash(_("已取消退订，该号码将恢复接收短信。"), "success")
    return redirect(url_for("notify.opt_outs"))


@bp.route("/sms/pause", methods=["POST"])
def pause():
    service.set_paused(current_user, True)
    flash(_("已暂停本县的短信发送。待发送的短信保留在队列中，恢复后继续发送。"), "warning")
    return redirect(url_for("notify.index"))


@bp.route("/sms/resume", methods=["POST"])
def resume():
    service.set_paused(current_user, False)
    flash(_("已恢复短信发送。"), "success")
    return redirect(url_for("notify.index"))


# --- 群发通知 --------------------------------------------------------------------------------

def _broadcast_form() -> BroadcastForm:
    form = BroadcastForm()
    form.region_code.choices = [(r.code, f"{'　' * ((len(r.code) - 6) // 3)}{r.name}（{r.level.label}）")
                                for r in list_regions_under(current_user)]
    return form


@bp.route("/sms/broadcasts")
def broadcast_list():
    page = broadcasts.list_broadcasts(current_user, page=request.args.get("page"))
    return render_template("notify/broadcasts.html", page=page)


@bp.route("/sms/broadcasts/new", methods=["GET", "POST"])
def broadcast_new():
    broadcasts.check_may_broadcast(current_user)
    form = _broadcast_form()
    if request.method == "GET" and not form.region_code.data:
        form.region_code.data = current_user.region_code
    if request.method == "POST" and request.form.get("action") == "edit":
        return render_template("notify/broadcast_form.html", form=form)
    if form.validate_on_submit():
        try:
            if request.form.get("action") == "confirm":
                b = broadcasts.create_broadcast(current_user, form.region_code.data, form.body.data)
                flash(_("群发通知已加入发送队列：%(n)s 条短信。", n=b.messages), "success")
                return redirect(url_for("notify.broadcast_detail", broadcast_id=b.id))
            preview = broadcasts.preview_broadcast(current_user, form.region_code.data, form.body.data)
        except DomainError as exc:
            status = refused(exc, form)
            return render_template("notify/broadcast_form.html", form=form), status
        return render_template("notify/broadcast_preview.html", form=form, p=preview)
    status = 422 if request.method == "POST" else 200
    return render_template("notify/broadcast_form.html", form=form), status


@bp.route("/sms/broadcasts/<int:broadcast_id>")
def broadcast_detail(broadcast_id: int):
    b, counts = broadcasts.get_broadcast(current_user, broadcast_id)
    return render_template("notify/broadcast.html", b=b, counts=counts)


# --- Twilio webhooks (public, signature-checked) -----------------------------------------------

@bp.route("/sms/status", methods=["POST"])
@public
@csrf.exempt
def status_callback():
    """Twilio's delivery status callback: 204 once applied (or ignored as stale)."""
    if not webhooks.request_is_from_twilio():
        return "forbidden: bad signature", 403
    webhooks.handle_status_callback()
    return "", 204


@bp.route("/sms/inbound", methods=["POST"])
@public
@csrf.exempt
def inbound():
    """A text a farmer sent; answered with empty TwiML (no reply)."""
    if not webhooks.request_is_from_twilio():
        return "forbidden: bad signature", 403
    webhooks.handle_inbound()
    return ('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', 200,
            {"Content-Type": "text/xml; charset=utf-8"})
