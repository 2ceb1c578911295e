"""The register pages: list and search, detail, create and edit, import and export."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.common.forms import form_status, refused
from subsidy.common.xlsx import read_upload, send_xlsx
from subsidy.errors import Conflict, DomainError, NotFound, ValidationError
from subsidy.households import exporter, importer, service
from subsidy.households.forms import HouseholdForm, ImportForm

bp = Blueprint("households", __name__)


@bp.route("/households/")
def index():
    result = service.list_households(current_user, region_code=request.args.get("region_code") or None,
                                     q=request.args.get("q"), page=request.args.get("page"))
    return render_template("households/index.html", page=result, q=request.args.get("q", ""),
                           region_code=request.args.get("region_code", ""))


def _show(household_id: int, status=200, transfer_error=None):
    file = service.household_file(current_user, household_id)
    villages = service.transfer_targets(current_user, file["household"])
    return render_template("households/show.html", **file, villages=villages,
                           transfer_error=transfer_error), status


@bp.route("/households/<int:household_id>")
def show(household_id: int):
    return _show(household_id)


@bp.route("/households/<int:household_id>/transfer", methods=["POST"])
def transfer(household_id: int):
    try:
        moved = service.transfer_household(current_user, household_id, request.form.get("region_code"),
                                           request.form.get("reason"))
    except (ValidationError, Conflict, NotFound) as exc:
        if isinstance(exc, NotFound) and "region_code" not in exc.fields:
            raise  # the household itself
        # the household as it is: nothing moved
        return _show(household_id, 422 if exc.status == 400 else exc.status,
                     transfer_error=" ".join(exc.fields.values()) or exc.message)
    flash(_("已将“%(name)s”迁入%(village)s。", name=moved.head_name, village=moved.region.name), "success")
    return redirect(url_for("households.show", household_id=moved.id))


@bp.route("/households/new", methods=["GET", "POST"])
@bp.route("/households/<int:household_id>/edit", methods=["GET", "POST"])
def edit(household_id: int | None = None):
    household = service.household_for_edit(current_user, household_id) if household_id else None
    form = HouseholdForm(obj=household)
    villages = service.villages_for_edit(current_user)  # refuses those who may not edit
    # A new household is placed in a village; an existing one moves only by 迁户.
    form.set_villages(villages if household is None else [])
    if form.validate_on_submit():
        try:
            if household is None:
                saved = service.create_household(current_user, **form.service_data())
            else:
                saved = service.update_household(current_user, household.id, **form.service_data())
        except (ValidationError, Conflict) as exc:
            refused(exc, form)
            return render_template("households/form.html", form=form, household=household), 422
        flash(_("已保存农户“%(name)s”。", name=saved.head_name), "success")
        for warning in saved.warnings:
            flash(warning, "warning")
        return redirect(url_for("households.show", household_id=saved.id))
    return render_template("households/form.html", form=form, household=household), form_status(form)


@bp.route("/households/import", methods=["GET", "POST"])
def import_page():
    form = ImportForm()
    needs = importer.import_requirements(current_user)
    if form.validate_on_submit():
        try:
            upload = read_upload("file")
            result = importer.import_households(current_user, upload.stream, upload.filename)
        except DomainError as exc:
            status = refused(exc, form)
            return render_template("households/import.html", form=form, needs=needs), status
        if not result.ok:
            return render_template("households/import_result.html", result=result, filename=upload.filename), 422
        flash(_("导入完成：新增 %(c)s 户，更新 %(u)s 户，%(n)s 户无变化。",
                c=result.created, u=result.updated, n=result.unchanged), "success")
        return render_template("households/import_result.html", result=result, filename=upload.filename)
    return render_template("households/import.html", form=form, needs=needs), form_status(form)


@bp.route("/households/import/template.xlsx")
def import_template():
    book = exporter.import_template(current_user)
    return send_xlsx(book.file, book.filename)


@bp.route("/households/export", methods=["POST"])
def export():
    # POST: an export of personal data is an audited act, not a page view.
    book = exporter.export_households(current_user, region_code=request.form.get("region_code") or None,
                                      q=request.form.get("q"))
    return send_xlsx(book.file, book.filename)
