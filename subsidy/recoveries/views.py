"""Pages of 追回 and 核销: the list, one recovery with its repayments, recording a recovery of a
paid entry, and the write-offs waiting for a second person's approval."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.common.forms import form_status, refused
from subsidy.common.templating import register_nav
from subsidy.errors import DomainError, NotFound, PermissionDenied
from subsidy.recoveries import service
from subsidy.recoveries.forms import ReasonForm, RecoveryForm, RepaymentForm
from subsidy.recoveries.models import RecoveryState, WriteOffState

bp = Blueprint("recoveries", __name__)
register_nav("recoveries.index", "追回核销", Perm.view_recoveries)


def _access(exc: DomainError) -> None:
    if isinstance(exc, (NotFound, PermissionDenied)):
        raise exc


@bp.route("/recoveries/")
def index():
    state = request.args.get("state") or None
    page = service.list_recoveries(current_user, state=state, page=request.args.get("page"))
    names = service.households_named(r.household_id for r in page.items)
    waiting = service.list_write_offs(current_user, state="proposed", page=1, per_page=1).total
    return render_template("recoveries/index.html", page=page, names=names, state=state, states=RecoveryState,
                           waiting=waiting)


@bp.route("/recoveries/new", methods=["GET", "POST"])
def new():
    """登记追回 of one paid entry (reached from the filing's page)."""
    form = RecoveryForm()
    entry, filing = service.paid_entry(current_user, request.values.get("entry_id", type=int))
    paid, claimed = service.paid_for(entry.id), service.claimed_for(entry.id)
    if form.validate_on_submit():
        try:
            recovery = service.create_recovery(current_user, entry.id, form.amount.data, form.reason.data)
        except DomainError as exc:
            _access(exc)
            status = refused(exc, form)
            return render_template("recoveries/new.html", form=form, entry=entry, filing=filing, paid=paid,
                                   claimed=claimed, household=service.households_named([entry.household_id])), status
        flash(_("已登记追回 %(a)s 元，已短信告知农户。", a=recovery.amount_due), "success")
        return redirect(url_for("recoveries.show", recovery_id=recovery.id))
    return render_template("recoveries/new.html", form=form, entry=entry, filing=filing, paid=paid, claimed=claimed,
                           household=service.households_named([entry.household_id])), form_status(form)


def _show(recovery_id: int, status: int = 200, **forms):
    recovery = service.get_recovery(current_user, recovery_id)
    return render_template("recoveries/show.html", r=recovery,
                           repayments=service.repayments_of(current_user, recovery.id),
                           write_off=service.write_off_of(current_user, recovery.id),
                           name=service.households_named([recovery.household_id]).get(recovery.household_id, ""),
                           repay_form=forms.get("repay_form") or RepaymentForm(formdata=None),
                           reason_form=forms.get("reason_form") or ReasonForm(formdata=None)), status


@bp.route("/recoveries/<int:recovery_id>")
def show(recovery_id: int):
    return _show(recovery_id)


@bp.route("/recoveries/<int:recovery_id>/repayments", methods=["POST"])
def repay(recovery_id: int):
    form = RepaymentForm()
    try:
        service.add_repayment(current_user, recovery_id, form.amount.data, request.form.get("paid_on"),
                              form.receipt_no.data, form.method.data)
    except DomainError as exc:
        _access(exc)
        return _show(recovery_id, refused(exc, form), repay_form=form)
    flash(_("已登记缴回。"), "success")
    return redirect(url_for("recoveries.show", recovery_id=recovery_id))


@bp.route("/recoveries/<int:recovery_id>/write-off", methods=["POST"])
def write_off(recovery_id: int):
    form = ReasonForm()
    try:
        service.propose_recovery_write_off(current_user, recovery_id, form.reason.data)
    except DomainError as exc:
        _access(exc)
        return _show(recovery_id, refused(exc, form), reason_form=form)
    flash(_("已提出核销，须由另一位县级审核员或监督员审批。"), "success")
    return redirect(url_for("recoveries.show", recovery_id=recovery_id))


@bp.route("/payments/<int:payment_id>/write-off", methods=["POST"])
def write_off_payment(payment_id: int):
    try:
        service.propose_payment_write_off(current_user, payment_id, request.form.get("reason", ""))
    except DomainError as exc:
        _access(exc)
        refused(exc)
        flash(exc.fields.get("reason") or exc.message, "danger")
        return redirect(url_for("payments.failed"), 303)
    flash(_("已提出核销，须由另一位县级审核员或监督员审批。"), "success")
    return redirect(url_for("recoveries.write_offs"))


@bp.route("/write-offs/")
def write_offs():
    state = request.args.get("state") or None
    page = service.list_write_offs(current_user, state=state, page=request.args.get("page"))
    from subsidy.materials.write_offs import describe

    return render_template("recoveries/write_offs.html", page=page, state=state, states=WriteOffState,
                           may_approve=can(current_user, Perm.approve_write_offs), goods=describe(page.items))


@bp.route("/write-offs/<int:write_off_id>/approve", methods=["POST"])
def approve(write_off_id: int):
    try:
        service.approve_write_off(current_user, write_off_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        # The proposer's own approval is refused (403) with the reason, on the list it came from.
        refused(exc)
        flash(exc.message, "danger")
        return redirect(url_for("recoveries.write_offs"), 303)
    flash(_("已审批核销。"), "success")
    return redirect(url_for("recoveries.write_offs"))
