"""Pages of the filing and review: the village clerk's filings, the 待我审核 queue, the filing /
review page, the printable 公示表, and the county's watch list.

A refusal of a POST never shows the filing as the refused action would have left it. Bad input
(a field to correct) re-renders the page with the field's message and what was typed (422),
after the request's work is rolled back so the page reads the filing as it is; any other
refusal (a state that does not allow it, a stale version) rolls back and redirects to the
filing's page with the message (PRG). Success redirects too."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from subsidy.accounts.permissions import Perm, can
from subsidy.common.forms import refused
from subsidy.common.params import id_arg
from subsidy.common.templating import register_nav
from subsidy.errors import DomainError, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings import entries, holds, notice, service, watchlist, workflow
from subsidy.filings.forms import ActionForm, AddEntryForm, EntryEditForm, NoteForm, StartFilingForm, WatchImportForm
from subsidy.filings.models import FilingState

bp = Blueprint("filings", __name__)

register_nav("filings.index", "备案审核", Perm.view_filings)
register_nav("filings.queue", "待我审核", Perm.review_filings)
register_nav("filings.watchlist", "比对名单", Perm.manage_watchlist)



def _reraise_if_access(exc: DomainError) -> None:
    if isinstance(exc, (NotFound, PermissionDenied)):
        raise exc


@bp.route("/filings/")
def index():
    result = service.list_filings(current_user, state=request.args.get("state") or None,
                                  project_id=id_arg("project_id"), page=request.args.get("page"))
    form = StartFilingForm()
    projects = service.projects_to_start(current_user)
    form.project_id.choices = [SelectChoice(p.id, f"{p.year} {p.name}") for p in projects]
    queue = service.queue_size(current_user) if can(current_user, Perm.review_filings) else 0
    return render_template("filings/index.html", page=result, form=form, projects=projects, queue=queue,
                           states=FilingState, state=request.args.get("state", ""))


@bp.route("/filings/new", methods=["POST"])
def start():
    form = StartFilingForm()
    form.project_id.choices = [SelectChoice(p.id, p.name) for p in service.projects_to_start(current_user)]
    if form.validate_on_submit():
        try:
            filing = service.start_filing(current_user, form.project_id.data)
        except DomainError as exc:
            _reraise_if_access(exc)
            refused(exc, form)
        else:
            flash(_("已发起备案，请添加农户。"), "success")
            return redirect(url_for("filings.show", filing_id=filing.id))
    result = service.list_filings(current_user, page=1)
    return render_template("filings/index.html", page=result, form=form,
                           projects=service.projects_to_start(current_user),
                           queue=0, states=FilingState, state=""), 422


@bp.route("/filings/queue")
def queue():
    result = service.review_queue(current_user, page=request.args.get("page"))
    return render_template("filings/queue.html", page=result)


def _page(filing_id: int, status: int = 200, *, error: str | None = None, **forms):
    # request.values: a form re-drawn after a refusal shows the list page it was posted from.
    v = request.values
    hq = v.get("hq", "")
    data = service.review_page(current_user, filing_id, page=v.get("page"), flagged_only=bool(v.get("flagged")),
                               q=v.get("q") or None, hq=hq)
    action_form = forms.pop("action_form", None) or ActionForm(formdata=None, version=data["filing"].version)
    return render_template("filings/show.html", **data, hq=hq, error=error, action_form=action_form,
                           add_form=forms.pop("add_form", None) or AddEntryForm(formdata=None),
                           failed_action=forms.pop("failed_action", None), edit_form=forms.pop("edit_form", None),
                           edit_entry_id=forms.pop("edit_entry_id", None)), status


@bp.route("/filings/<int:filing_id>")
def show(filing_id: int):
    return _page(filing_id)


def _back(filing_id: int, **args):
    """The filing's page, keeping the list's page and filter the form was posted from."""
    keep = {k: request.form.get(k) or None for k in ("page", "flagged", "hq")}
    return url_for("filings.show", filing_id=filing_id, **{**keep, **args})


def _refused(filing_id: int, exc: DomainError, form=None, **forms):
    _reraise_if_access(exc)
    if isinstance(exc, ValidationError):
        return _page(filing_id, refused(exc, form), error=exc.message, **forms)
    db.session.rollback()
    g.rollback = True  # the redirect is a 3xx: the edge would otherwise commit
    flash(exc.message, "danger")
    return redirect(_back(filing_id), 303)


@bp.route("/filings/<int:filing_id>/entries", methods=["POST"])
def add_entry(filing_id: int):
    form = AddEntryForm()
    if not form.validate_on_submit():
        return _page(filing_id, 422, error=_("请选择要添加的农户"), add_form=form)
    try:
        entries.add_entry(current_user, filing_id, form.household_id.data, form.quantity.data, form.amount.data)
    except DomainError as exc:
        return _refused(filing_id, exc, form, add_form=form)
    flash(_("已添加到名单。"), "success")
    return redirect(_back(filing_id))


@bp.route("/filings/<int:filing_id>/entries/all", methods=["POST"])
def add_all(filing_id: int):
    try:
        summary = entries.add_all_households(current_user, filing_id)
    except DomainError as exc:
        return _refused(filing_id, exc)
    flash(_("已添加 %(n)s 户（本村名册 %(t)s 户；已在本项目其他备案中 %(s)s 户，数量为 0 的 %(z)s 户未添加）。",
            n=summary["added"], t=summary["households"], s=summary["skipped_listed"], z=summary["skipped_zero"]),
          "success")
    return redirect(url_for("filings.show", filing_id=filing_id))


@bp.route("/filings/<int:filing_id>/entries/<int:entry_id>/edit", methods=["POST"])
def edit_entry(filing_id: int, entry_id: int):
    form = EntryEditForm()
    if not form.validate_on_submit():
        return _page(filing_id, 422, error=_("表单已过期，请重新填写"), edit_form=form, edit_entry_id=entry_id)
    try:
        entries.update_entry(current_user, filing_id, entry_id, form.quantity.data, form.amount.data)
    except DomainError as exc:
        # The row keeps what was typed, with the message beside the field it concerns.
        return _refused(filing_id, exc, form, edit_form=form, edit_entry_id=entry_id)
    flash(_("已修改。"), "success")
    return redirect(url_for("filings.show", filing_id=filing_id, page=request.form.get("page") or None))


@bp.route("/filings/<int:filing_id>/entries/<int:entry_id>/delete", methods=["POST"])
def delete_entry(filing_id: int, entry_id: int):
    try:
        entries.delete_entry(current_user, filing_id, entry_id)
    except DomainError as exc:
        return _refused(filing_id, exc)
    flash(_("已从名单中删除。"), "success")
    return redirect(url_for("filings.show", filing_id=filing_id, page=request.form.get("page") or None))


@bp.route("/filings/<int:filing_id>/entries/<int:entry_id>/notes", methods=["POST"])
def add_note(filing_id: int, entry_id: int):
    form = NoteForm()
    if not form.validate_on_submit():
        return _page(filing_id, 422, error=_("请填写审核意见"))
    try:
        service.add_note(current_user, filing_id, entry_id, form.note.data)
    except DomainError as exc:
        return _refused(filing_id, exc)
    flash(_("已保存审核意见。"), "success")
    return redirect(url_for("filings.show", filing_id=filing_id, page=request.form.get("page") or None,
                            flagged=request.form.get("flagged") or None) + f"#entry-{entry_id}")


@bp.route("/filings/<int:filing_id>/entries/<int:entry_id>/hold", methods=["POST"])
def hold_entry(filing_id: int, entry_id: int):
    """止付 and, with `release`, its release: both need a reason, both are told to the household."""
    release = bool(request.args.get("release"))
    call = holds.release_entry if release else holds.hold_entry
    try:
        call(current_user, filing_id, entry_id, request.form.get("reason", ""))
    except DomainError as exc:
        _reraise_if_access(exc)
        refused(exc)
        g.rollback = True
        flash(exc.fields.get("reason") or exc.message, "danger")
        return redirect(_back(filing_id) + f"#entry-{entry_id}", 303)
    flash(_("已解除止付，已短信告知农户。") if release else _("已止付，已短信告知农户。"), "success")
    return redirect(_back(filing_id) + f"#entry-{entry_id}")


@bp.route("/filings/<int:filing_id>/actions/<action>", methods=["POST"])
def act(filing_id: int, action: str):
    form = ActionForm()
    if not form.validate_on_submit():
        return _page(filing_id, 422, error=_("表单不完整，请刷新页面后重试"), action_form=form, failed_action=action)
    try:
        filing = workflow.perform(current_user, filing_id, action, version=form.version.data,
                                  comment=form.comment.data, reason=form.reason.data, to=form.to.data or None)
    except DomainError as exc:
        return _refused(filing_id, exc, form, action_form=form, failed_action=action)
    flash(_("操作成功：%(a)s。备案现为“%(s)s”。", a=workflow.parse_action(action).label, s=filing.state.label),
          "success")
    if can(current_user, Perm.review_filings):
        return redirect(url_for("filings.queue"))  # the reviewer's next filing
    return redirect(url_for("filings.show", filing_id=filing_id))


@bp.route("/filings/<int:filing_id>/notice")
def print_notice(filing_id: int):
    data = notice.notice(current_user, filing_id)
    return render_template("filings/notice.html", **data)


@bp.route("/watchlist/", endpoint="watchlist")
def watchlist_index():
    result = watchlist.list_watchlist(current_user, q=request.args.get("q"), category=request.args.get("category"),
                                      page=request.args.get("page"))
    return render_template("filings/watchlist.html", page=result, form=WatchImportForm(), result=None,
                           q=request.args.get("q", ""))


@bp.route("/watchlist/import", methods=["POST"])
def watchlist_import():
    form = WatchImportForm()
    upload = request.files.get("file")
    try:
        result = watchlist.import_watchlist(current_user, upload.stream if upload else None,
                                            upload.filename if upload else None)
    except DomainError as exc:
        _reraise_if_access(exc)
        refused(exc, form)
        result = None
    status = 200
    if result is None or not result.ok:
        status = 422
    else:
        flash(_("导入完成：新增 %(c)s 人，更新 %(u)s 人。", c=result.created, u=result.updated), "success")
        return redirect(url_for("filings.watchlist"))
    page = watchlist.list_watchlist(current_user, page=1)
    return render_template("filings/watchlist.html", page=page, form=form, result=result, q=""), status

