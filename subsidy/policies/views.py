"""The policy pages of the county admin and of the city admin (city-wide policies): write,
preview, publish (the county's with an optional SMS), withdraw."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from subsidy.accounts.permissions import Perm, can
from subsidy.common.forms import apply_errors, form_status, refused
from subsidy.common.templating import register_nav
from subsidy.errors import DomainError, ValidationError
from subsidy.policies import attachments, broadcast, service
from subsidy.policies.forms import AttachmentForm, PolicyForm, PublishForm, WithdrawForm
from subsidy.policies.models import PolicyStatus
from subsidy.policies.render import render_markdown
from subsidy.public import qr
from subsidy.regions.service import list_regions_under

bp = Blueprint("policies", __name__)
register_nav("policies.index", "惠民政策", Perm.view_policies)


@bp.route("/policies/")
def index():
    status = request.args.get("status") or None
    result = service.list_policies(current_user, status=status, q=request.args.get("q"), page=request.args.get("page"))
    return render_template("policies/index.html", page=result, status=status, q=request.args.get("q", ""),
                           counts=service.status_counts(current_user),
                           statuses=PolicyStatus.choices())


def _form(policy=None) -> PolicyForm:
    form = PolicyForm(obj=policy)
    form.region_code.choices = [(r.code, f"{'　' * (len(r.code) // 3 - 2)}{r.name}")
                                for r in list_regions_under(current_user)]
    if policy is not None and request.method == "GET":
        form.category.data = policy.category.value
    return form


@bp.route("/policies/new", methods=["GET", "POST"])
@bp.route("/policies/<int:policy_id>/edit", methods=["GET", "POST"])
def edit(policy_id: int | None = None):
    policy = service.get_policy(current_user, policy_id) if policy_id else None
    service.check_may_write(current_user, policy)
    form = _form(policy)
    if form.validate_on_submit():
        data = {k: v for k, v in form.data.items() if k != "csrf_token"}
        try:
            if policy is None:
                saved = service.create_policy(current_user, **data)
            else:
                saved = service.update_policy(current_user, policy.id, **data)
        except ValidationError as exc:
            status = refused(exc, form)
            return render_template("policies/form.html", form=form, policy=policy), status
        except DomainError as exc:
            if policy is None or exc.status != 409:
                raise
            # Published or withdrawn meanwhile (another tab, another admin): the policy as it is.
            refused(exc)
            flash(exc.message, "danger")
            return redirect(url_for("policies.show", policy_id=policy.id), 303)
        flash(_("已保存草稿，请预览后发布。"), "success")
        return redirect(url_for("policies.show", policy_id=saved.id))
    return render_template("policies/form.html", form=form, policy=policy), form_status(form)


@bp.route("/policies/<int:policy_id>")
def show(policy_id: int):
    policy = service.get_policy(current_user, policy_id)
    return render_template("policies/show.html", policy=policy, body=render_markdown(policy.body),
                           interpretation=render_markdown(policy.interpretation),
                           upload_form=AttachmentForm(), withdraw_form=WithdrawForm(),
                           public_url=qr.policy_url(policy.id), actions=service.available_actions(current_user, policy))


@bp.route("/policies/<int:policy_id>/publish", methods=["GET", "POST"])
def publish(policy_id: int):
    policy = service.get_policy(current_user, policy_id)
    service.check_may_write(current_user, policy)
    form = PublishForm()
    # The SMS is the county's (it pays for it): the city admin publishes without one.
    may_broadcast = can(current_user, Perm.broadcast_sms)
    if request.method == "GET":
        form.broadcast_body.data = broadcast.default_body(policy)
    body = (form.broadcast_body.data or "").strip() or broadcast.default_body(policy)
    preview, status = None, 200
    try:
        preview = broadcast.preview(current_user, policy, body) if may_broadcast else None
    except ValidationError as exc:
        apply_errors(form, exc)
        status = 422
    if (request.method == "POST" and request.form.get("step") == "publish" and form.validate_on_submit()
            and status == 200):
        try:
            policy, sent = service.publish_policy(
                current_user, policy.id, broadcast_body=body if may_broadcast and form.broadcast.data else None)
        except DomainError as exc:
            status = refused(exc, form)
            return render_template("policies/publish.html", policy=policy, form=form, preview=preview,
                                   may_broadcast=may_broadcast), status
        if sent:
            flash(_("已发布，并已排队发送 %(n)s 条短信。", n=sent["messages"]), "success")
        else:
            flash(_("已发布。"), "success")
        return redirect(url_for("policies.show", policy_id=policy.id))
    return render_template("policies/publish.html", policy=policy, form=form, preview=preview,
                           may_broadcast=may_broadcast), status


@bp.route("/policies/<int:policy_id>/withdraw", methods=["POST"])
def withdraw(policy_id: int):
    form = WithdrawForm()
    try:
        service.withdraw_policy(current_user, policy_id, form.reason.data or "")
    except ValidationError as exc:
        flash(exc.fields.get("reason") or exc.message, "danger")
        return redirect(url_for("policies.show", policy_id=policy_id))
    flash(_("已撤回。"), "success")
    return redirect(url_for("policies.show", policy_id=policy_id))


@bp.route("/policies/<int:policy_id>/attachments", methods=["POST"])
def upload(policy_id: int):
    form = AttachmentForm()
    if not form.validate_on_submit():
        flash(_("请选择要上传的文件。"), "danger")
        return redirect(url_for("policies.show", policy_id=policy_id))
    storage = form.file.data
    try:
        attachments.add_attachment(current_user, policy_id, storage.stream, storage.filename or "")
    except ValidationError as exc:
        refused(exc)
        flash(exc.fields.get("file") or exc.message, "danger")
        policy = service.get_policy(current_user, policy_id)
        return render_template("policies/show.html", policy=policy, body=render_markdown(policy.body),
                               interpretation=render_markdown(policy.interpretation), upload_form=form,
                               withdraw_form=WithdrawForm(), public_url=qr.policy_url(policy.id),
                               actions=service.available_actions(current_user, policy)), 422
    flash(_("已上传附件。"), "success")
    return redirect(url_for("policies.show", policy_id=policy_id))


@bp.route("/policies/<int:policy_id>/attachments/<int:attachment_id>/delete", methods=["POST"])
def delete_attachment(policy_id: int, attachment_id: int):
    attachments.remove_attachment(current_user, policy_id, attachment_id)
    flash(_("已删除附件。"), "success")
    return redirect(url_for("policies.show", policy_id=policy_id))
