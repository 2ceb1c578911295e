"""The catalogue's page: every staff role of the city reads it; the city admin adds and edits."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.catalogue import service
from subsidy.catalogue.forms import SubsidyTypeForm
from subsidy.common.forms import form_status, refused
from subsidy.common.templating import register_nav
from subsidy.errors import DomainError, PermissionDenied

bp = Blueprint("catalogue", __name__)
# In the navigation of who keeps it; the others reach it from the projects page.
register_nav("catalogue.index", "补贴目录", Perm.manage_subsidy_types)


@bp.route("/subsidy-types/")
def index():
    result = service.list_types(current_user, page=request.args.get("page"))
    return render_template("catalogue/index.html", page=result)


@bp.route("/subsidy-types/new", methods=["GET", "POST"])
@bp.route("/subsidy-types/<int:type_id>/edit", methods=["GET", "POST"])
def edit(type_id: int | None = None):
    if not can(current_user, Perm.manage_subsidy_types):
        raise PermissionDenied(_("补贴目录由市级管理员维护，您的角色只能查看。"))
    row = service.get_type(current_user, type_id) if type_id else None
    form = SubsidyTypeForm(obj=row)
    if row is not None and request.method == "GET":
        form.unit.data = row.unit.value
    if form.validate_on_submit():
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        try:
            if row is None:
                saved = service.create_type(current_user, **data)
            else:
                saved = service.update_type(current_user, row.id, **data)
        except DomainError as exc:
            if exc.status not in (400, 409):
                raise
            status = refused(exc, form)
            return render_template("catalogue/form.html", form=form, row=row), status
        flash(_("已保存补贴类型“%(name)s”。", name=saved.name), "success")
        return redirect(url_for("catalogue.index"))
    return render_template("catalogue/form.html", form=form, row=row), form_status(form)
