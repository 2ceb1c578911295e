"""Pages: payment batches, the bank's files, failures to fix and re-issue, receipt checks."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.common.forms import refused
from subsidy.common.params import id_arg
from subsidy.common.templating import register_nav
from subsidy.common.xlsx import read_upload
from subsidy.errors import DomainError, NotFound, PermissionDenied
from subsidy.payments import files, receipts, results, service
from subsidy.payments.models import PaymentStatus

bp = Blueprint("payments", __name__, url_prefix="/payments")
register_nav("payments.index", "资金发放", Perm.view_payments)


def _access(exc: DomainError) -> None:
    """Refusals of who or where are pages of their own (403/404), never a flash on another page."""
    if isinstance(exc, (PermissionDenied, NotFound)):
        raise exc


@bp.route("/")
def index():
    return render_template("payments/index.html", projects=service.projects_with_approved(current_user),
                           batches=service.list_batches(current_user, page=request.args.get("page")),
                           failed=len(service.failed_waiting(current_user)))


@bp.route("/projects/<int:project_id>/batch", methods=["GET", "POST"])
def new_batch(project_id: int):
    from subsidy.projects.service import get_project

    if not can(current_user, Perm.manage_payments):
        # The form is not offered to a role that cannot submit it; typed in, it says who can.
        raise PermissionDenied(_("发放批次由县级审核员生成，您的角色只能查看发放批次和发放结果。"))
    service.county_only(current_user)
    project = get_project(current_user, project_id)
    filings = service.approved_filings(current_user, project.id)
    if request.method == "POST":
        chosen = request.form.getlist("filing_ids")
        try:
            result = service.create_batch(current_user, project.id,
                                          chosen if request.form.get("scope") != "all" else None,
                                          request.form.get("note", ""))
        except DomainError as exc:
            _access(exc)
            status = refused(exc)
            return render_template("payments/new_batch.html", project=project, error=exc.message, chosen=set(chosen),
                                   filings=service.approved_filings(current_user, project.id)), status
        flash(_("已生成发放批次 %(code)s：%(n)s 笔，合计 %(t)s 元。", code=result.batch.code, n=result.count,
                t=result.total), "success")
        if result.skipped.get("no_account"):
            flash(_("另有 %(n)s 户缺少一卡通账号，未列入本批，请村级补录后再发放。", n=result.skipped["no_account"]),
                  "warning")
        if result.skipped.get("held"):
            flash(_("另有 %(n)s 户已止付，未列入本批；解除止付后才能发放。", n=result.skipped["held"]), "warning")
        return redirect(url_for("payments.batch", batch_id=result.batch.id))
    return render_template("payments/new_batch.html", project=project, filings=filings, error=None, chosen=set())


@bp.route("/batches/<int:batch_id>")
def batch(batch_id: int):
    b = service.get_batch(current_user, batch_id)
    page = service.list_payments(current_user, b.id, status=request.args.get("status") or None,
                                 q=request.args.get("q"), page=request.args.get("page"))
    return render_template("payments/batch.html", batch=b, page=page,
                           held=service.held_in(current_user, [p.entry_id for p in page.items]),
                           counts=service.batch_counts(b.id, current_user.region_code),
                           imports=results.list_imports(current_user, b.id), statuses=list(PaymentStatus),
                           actions=service.batch_actions(current_user, b))


@bp.route("/batches/<int:batch_id>/export", methods=["POST"])
def export(batch_id: int):
    # POST: the file carries ID numbers and accounts; exporting it is an audited act.
    out = files.export_batch(current_user, batch_id, request.form.get("format") or "xlsx")
    return send_file(out.file, mimetype=out.mimetype, as_attachment=True, download_name=out.filename, max_age=0)


@bp.route("/batches/<int:batch_id>/results", methods=["POST"])
def import_results(batch_id: int):
    b = service.get_batch(current_user, batch_id)
    try:
        upload = read_upload("file")
        results.check_upload_name(upload.filename)
        report = results.import_results(current_user, b.id, upload.stream, upload.filename)
    except DomainError as exc:
        _access(exc)
        detail = exc.fields.get("file")
        flash(f"{exc.message}（{detail}）" if detail and detail not in exc.message else exc.message, "danger")
        return redirect(url_for("payments.batch", batch_id=b.id))
    status = 422 if report.refused else 200
    return render_template("payments/report.html", batch=b, report=report.as_dict(), filename=upload.filename,
                           kind_labels=results.PROBLEM_LABEL), status


@bp.route("/batches/<int:batch_id>/imports/<int:import_id>")
def import_report(batch_id: int, import_id: int):
    b, imp, report = results.get_import(current_user, batch_id, import_id)
    return render_template("payments/report.html", batch=b, report=report, filename=imp.filename, imp=imp,
                           kind_labels=results.PROBLEM_LABEL)


@bp.route("/batches/<int:batch_id>/cancel", methods=["POST"])
def cancel(batch_id: int):
    try:
        service.cancel_batch(current_user, batch_id, request.form.get("reason", ""))
    except DomainError as exc:
        _access(exc)
        flash(exc.message, "danger")
        return redirect(url_for("payments.batch", batch_id=batch_id))
    flash(_("批次已作废，其中各户可以重新生成发放批次。"), "success")
    return redirect(url_for("payments.batch", batch_id=batch_id))


@bp.route("/failed")
def failed():
    project_id = id_arg("project_id")
    rows = service.failed_waiting(current_user, project_id=project_id)
    names = service.village_names(p.region_code for p, _a in rows)
    return render_template("payments/failed.html", rows=rows, names=names,
                           projects=service.projects_with_approved(current_user), project_id=project_id)


@bp.route("/reissue", methods=["POST"])
def reissue():
    project_id = id_arg("project_id", source=request.form)
    ids = request.form.getlist("payment_ids")
    choice = request.form.get("uncorrected") or None
    note = request.form.get("note", "")
    try:
        if choice is None:
            # Failures whose account nobody corrected since are never re-issued silently: list
            # them and ask (docs/design.md "Payments").
            pending = service.uncorrected_failures(current_user, project_id, ids or None)
            if pending:
                return render_template("payments/reissue_confirm.html", pending=pending, project_id=project_id,
                                       ids=ids, note=note, names=service.village_names(p.region_code for p in pending))
        result = service.reissue_failed(current_user, project_id, ids or None, note, choice)
    except DomainError as exc:
        _access(exc)
        flash(exc.message, "danger")
        return redirect(url_for("payments.failed", project_id=project_id))
    flash(_("已生成重新发放批次 %(code)s：%(n)s 笔。", code=result.batch.code, n=result.count), "success")
    if result.skipped.get("same_account"):
        flash(_("其中 %(n)s 户的一卡通账号与上次相同（未更正），请确认失败原因已经消除。",
                n=result.skipped["same_account"]), "warning")
    return redirect(url_for("payments.batch", batch_id=result.batch.id))


@bp.route("/receipts", methods=["GET", "POST"])
def receipts_index():
    projects = [p for p, _todo, _failed in service.projects_with_approved(current_user)]
    if request.method == "POST":
        try:
            sample = receipts.draw_sample(current_user, request.form.get("project_id"), request.form.get("size"),
                                          request.form.get("seed") or None)
        except DomainError as exc:
            _access(exc)
            flash(exc.message, "danger")
            return redirect(url_for("payments.receipts_index"))
        flash(_("已抽取 %(n)s 户并发送到账回访短信（随机种子 %(s)s）。", n=sample.size, s=sample.seed), "success")
        return redirect(url_for("payments.receipt_sample", sample_id=sample.id))
    return render_template("payments/receipts.html", projects=projects, samples=receipts.list_samples(current_user))


@bp.route("/receipts/<int:sample_id>")
def receipt_sample(sample_id: int):
    sample, rows = receipts.sample_results(current_user, sample_id)
    return render_template("payments/receipt_sample.html", sample=sample, rows=rows,
                           reproducible=receipts.redraw_matches(sample))
