"""Pages of the signed list's .xlsx (routes on the materials blueprint): download the households
still owed goods, upload the filled-in list, preview, confirm. docs/design.md "Material
subsidies"."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from subsidy.common.forms import form_status, refused
from subsidy.common.xlsx import read_upload, send_xlsx
from subsidy.errors import DomainError, NotFound, PermissionDenied
from subsidy.materials import signed
from subsidy.materials.views import bp


class SignedListForm(FlaskForm):
    file = FileField("选择填好的签收表（.xlsx）")


def _upload_page(filing_id: int, form: SignedListForm, status: int = 200):
    page = signed.upload_page(current_user, filing_id)
    return render_template("materials/signed_upload.html", form=form, **page), status


@bp.route("/materials/filings/<int:filing_id>/signed-list.xlsx")
def signed_list_download(filing_id: int):
    book = signed.export_signed_list(current_user, filing_id)
    return send_xlsx(book.file, book.filename)


@bp.route("/materials/filings/<int:filing_id>/signed-list", methods=["GET", "POST"])
def signed_list_upload(filing_id: int):
    form = SignedListForm()
    if request.method == "GET":
        return _upload_page(filing_id, form)
    if not form.validate_on_submit():  # the CSRF token
        return _upload_page(filing_id, form, form_status(form))
    confirm = request.form.get("action") == "confirm"
    try:
        if confirm:
            result = signed.confirm_signed_list(current_user, filing_id, request.form.get("token"))
        else:
            upload = read_upload("file")
            result = signed.import_signed_list(current_user, filing_id, upload.stream, upload.filename,
                                               commit_rows=False)
    except DomainError as exc:
        if isinstance(exc, (NotFound, PermissionDenied)):
            raise  # the error page, as for any page of a filing one may not touch
        status = refused(exc, form)
        return _upload_page(filing_id, form, status)
    if not result.ok:
        return render_template("materials/signed_result.html", result=result, filing=result.filing,
                               project=result.project), 422
    if not confirm:
        return render_template("materials/signed_preview.html", result=result, filing=result.filing,
                               project=result.project, form=form)
    flash(_("已按签收表登记 %(n)s 户的领取，共 %(q)s %(u)s。", n=result.households, q=result.total,
            u=result.project.item_unit), "success")
    if result.closed:
        flash(_("全部农户已领完，备案已发放完毕。"), "success")
    return redirect(url_for("materials.filing", filing_id=filing_id))
