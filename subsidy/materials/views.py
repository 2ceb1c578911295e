"""Pages of 实物补贴: a filing's distribution (each household's goods due and received, and the
village clerk's form to record a pickup) and a project's stock by township (with the township
reviewer's form to record a delivery). docs/design.md "Material subsidies"."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.common.forms import refused
from subsidy.errors import DomainError, NotFound, PermissionDenied
from subsidy.filings.models import FilingState
from subsidy.materials import lists, service, write_offs
from subsidy.materials.forms import GoodsWriteOffForm, ListForm, PickupForm, ReceiptForm

bp = Blueprint("materials", __name__)


def _access(exc: DomainError) -> None:
    if isinstance(exc, (NotFound, PermissionDenied)):
        raise exc


def _filing_page(filing_id: int, status: int = 200, form: PickupForm | None = None, list_form: ListForm | None = None,
                 write_off_form: GoodsWriteOffForm | None = None):
    from subsidy.materials.receipts import pickups_of

    d = service.distribution(current_user, filing_id)
    filing = d["filing"]
    where = lists.get_list(filing.id)
    if list_form is None:
        list_form = ListForm(formdata=None, obj=where)
    bound = form if form is not None else write_off_form
    return render_template("materials/filing.html", d=d, filing=filing, project=d["project"],
                           form=form or PickupForm(formdata=None), list_form=list_form, where=where,
                           write_off_form=write_off_form or GoodsWriteOffForm(formdata=None),
                           write_off_bound=write_off_form is not None, reasons=write_offs.COMMON_REASONS,
                           pickups=pickups_of(x["entry_id"] for x in d["items"]),
                           closing=service.handed_out(filing) if filing.state == FilingState.paid else None,
                           may_record=service.may_record(current_user, filing),
                           may_set_list=lists.may_set(current_user, filing),
                           may_write_off=service.may_write_off(current_user, filing),
                           failed_entry=int(bound.entry_id.data) if bound is not None and str(
                               bound.entry_id.data or "").isdigit() else None), status


@bp.route("/materials/filings/<int:filing_id>")
def filing(filing_id: int):
    return _filing_page(filing_id)


@bp.route("/materials/filings/<int:filing_id>/pickups", methods=["POST"])
def pickup(filing_id: int):
    form = PickupForm()
    try:
        service.record_pickup(current_user, filing_id, request.form.get("entry_id"), form.quantity.data,
                              request.form.get("received_on"), form.receiver.data, form.proxy_name.data,
                              form.proxy_relation.data)
    except DomainError as exc:
        _access(exc)
        return _filing_page(filing_id, refused(exc, form), form)
    flash(_("已登记领取。"), "success")
    return redirect(url_for("materials.filing", filing_id=filing_id))


@bp.route("/materials/filings/<int:filing_id>/list", methods=["POST"])
def set_list(filing_id: int):
    form = ListForm()
    try:
        lists.set_list(current_user, filing_id, form.place.data, request.form.get("starts_on"),
                       request.form.get("ends_on"))
    except DomainError as exc:
        _access(exc)
        return _filing_page(filing_id, refused(exc, form), list_form=form)
    flash(_("已保存领取地点和时间。"), "success")
    return redirect(url_for("materials.filing", filing_id=filing_id) + "#collect")


@bp.route("/materials/filings/<int:filing_id>/write-off", methods=["POST"])
def write_off(filing_id: int):
    form = GoodsWriteOffForm()
    try:
        write_offs.propose_material_write_off(current_user, filing_id, request.form.get("entry_id"), form.reason.data)
    except DomainError as exc:
        _access(exc)
        return _filing_page(filing_id, refused(exc, form), write_off_form=form)
    flash(_("已提出核销，待另一位县级审核员或监督员审批。"), "success")
    return redirect(url_for("materials.filing", filing_id=filing_id) + f"#entry-{form.entry_id.data}")


@bp.route("/materials/filings/<int:filing_id>/sheet")
def sheet(filing_id: int):
    """The printable A4 签收表 of the village's list."""
    return render_template("materials/sheet.html", **lists.sign_sheet(current_user, filing_id))


def _stock_page(project_id: int, status: int = 200, form: ReceiptForm | None = None):
    from subsidy.projects.service import get_project

    project = get_project(current_user, project_id)
    rows = service.stock_by_township(current_user, project_id)
    return render_template("materials/stock.html", project=project, rows=rows,
                           form=form or ReceiptForm(formdata=None),
                           may_record=can(current_user, Perm.manage_stock)), status


@bp.route("/materials/projects/<int:project_id>/stock")
def stock(project_id: int):
    return _stock_page(project_id)


@bp.route("/materials/projects/<int:project_id>/stock", methods=["POST"])
def receive(project_id: int):
    form = ReceiptForm()
    try:
        service.record_receipt(current_user, project_id, current_user.region_code, form.quantity.data,
                               request.form.get("received_on"), form.supplier.data, form.document_no.data)
    except DomainError as exc:
        _access(exc)
        return _stock_page(project_id, refused(exc, form), form)
    flash(_("已登记入库。"), "success")
    return redirect(url_for("materials.stock", project_id=project_id))


# The signed list's .xlsx (download to fill in, upload to record every pickup at once) has its
# routes on this blueprint in a module of its own.
from subsidy.materials import import_views  # noqa: E402,F401
