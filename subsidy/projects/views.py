from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.catalogue import service as catalogue
from subsidy.common.forms import form_status, refused
from subsidy.common.params import year_arg
from subsidy.errors import DomainError, PermissionDenied
from subsidy.projects import service
from subsidy.projects.forms import ProjectForm

bp = Blueprint("projects", __name__)


@bp.route("/projects/")
def index():
    year = year_arg()
    result = service.list_projects(current_user, year=year, page=request.args.get("page"))
    return render_template("projects/index.html", page=result, year=year)


def _save(form: ProjectForm, project_id: int | None):
    data = {k: v for k, v in form.data.items() if k != "csrf_token"}
    if data.get("budget") is None:
        data["budget"] = 0
    if project_id is None:
        return service.create_project(current_user, **data)
    return service.update_project(current_user, project_id, **data)


@bp.route("/projects/new", methods=["GET", "POST"])
@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
def edit(project_id: int | None = None):
    if not can(current_user, Perm.manage_projects):
        # Not offered to a role that cannot submit it (the list hides the links); typed in, it says who can.
        raise PermissionDenied(_("补贴项目由县级管理员新建和修改，您的角色只能查看项目。"))
    project = service.project_for_edit(current_user, project_id)
    form = ProjectForm(obj=project)
    form.subsidy_type.choices = [("", _("（不属于目录中的类型）"))] + [
        (t.code, f"{t.name}（{_('按')}{t.unit_label}）") for t in catalogue.choices(current_user)]
    if project is not None and request.method == "GET":
        form.category.data, form.unit.data = project.category.value, project.unit.value
    if form.validate_on_submit():
        try:
            saved = _save(form, project_id)
        except DomainError as exc:
            if exc.status != 400:
                raise  # a refusal (403, 404, 409) is a page of its own, not a form error
            status = refused(exc, form)
            return render_template("projects/form.html", form=form, project=project), status
        flash(_("已保存项目“%(name)s”。", name=saved.name), "success")
        return redirect(url_for("projects.index"))
    return render_template("projects/form.html", form=form, project=project), form_status(form)
