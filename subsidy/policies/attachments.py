"""Attachments of a policy: a PDF or image of the official document.

Files are stored under `UPLOAD_FOLDER` (default instance/uploads) with a random name; the
uploaded name is kept only for display. The type is decided by the file's first bytes, not by
what the browser claims, and must agree with the extension; the size is capped. A file is
served only when its policy is published, or to staff who read its draft (preview)."""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from flask import current_app

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.errors import InvalidTransition, NotFound, ValidationError
from subsidy.extensions import db
from subsidy.policies.models import Policy, PolicyAction, PolicyAttachment, PolicyStatus
from subsidy.policies.service import MACHINE, can_preview, ensure_writer, get_policy

MAX_PER_POLICY = 10
# content type -> (magic prefix, extensions accepted)
KINDS = {
    "application/pdf": (b"%PDF-", {".pdf"}),
    "image/png": (b"\x89PNG\r\n\x1a\n", {".png"}),
    "image/jpeg": (b"\xff\xd8\xff", {".jpg", ".jpeg"}),
}
SUFFIX = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


def upload_folder() -> Path:
    folder = current_app.config.get("UPLOAD_FOLDER") or os.path.join(current_app.instance_path, "uploads")
    path = Path(folder) / "policies"
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(current_app.config["POLICY_ATTACHMENT_MAX_BYTES"])


def sniff(head: bytes, filename: str) -> str:
    """The content type from the first bytes; the extension must agree with it."""
    ext = os.path.splitext(filename or "")[1].lower()
    for content_type, (magic, extensions) in KINDS.items():
        if head.startswith(magic):
            if ext not in extensions:
                raise ValidationError("文件扩展名与内容不符", fields={"file": "文件扩展名与内容不符"})
            return content_type
    raise ValidationError("只能上传 PDF、PNG 或 JPG 文件", fields={"file": "只能上传 PDF、PNG 或 JPG 文件"})


def _clean_name(filename: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*')
    return name[-200:] or "附件"


@requires(Perm.manage_policies)
def add_attachment(actor, policy_id: int, stream, filename: str) -> PolicyAttachment:
    """Store one uploaded file on a draft policy (the table's `edit` row). `stream` is a
    binary file object."""
    policy = get_policy(actor, policy_id)
    ensure_writer(actor, policy)
    if not MACHINE.allows(policy.status, PolicyAction.edit):
        raise InvalidTransition("只有草稿可以添加附件")
    if len(policy.attachments) >= MAX_PER_POLICY:
        raise ValidationError(f"每条政策最多 {MAX_PER_POLICY} 个附件", fields={"file": "附件太多"})
    limit = max_bytes()
    data = stream.read(limit + 1)
    if not data:
        raise ValidationError("请选择要上传的文件", fields={"file": "文件为空"})
    if len(data) > limit:
        raise ValidationError(f"文件不能超过 {limit // (1024 * 1024)} MB", fields={"file": "文件太大"})
    content_type = sniff(data[:16], filename)
    stored = secrets.token_hex(16) + SUFFIX[content_type]
    path = upload_folder() / stored
    with open(path, "xb") as fh:  # "x": a random name never overwrites another file
        fh.write(data)
    attachment = PolicyAttachment(policy_id=policy.id, filename=_clean_name(filename), stored_name=stored,
                                  content_type=content_type, size=len(data),
                                  sha256=hashlib.sha256(data).hexdigest(), created_by=actor.id)
    db.session.add(attachment)
    db.session.flush()
    audit.record(actor, "policy.attach", "policy", policy.id, region_code=policy.region_code,
                 attachment_id=attachment.id, filename=attachment.filename, size=attachment.size,
                 sha256=attachment.sha256)
    return attachment


@requires(Perm.manage_policies)
def remove_attachment(actor, policy_id: int, attachment_id: int) -> None:
    """Remove a file from a draft. The file on disk stays (the audit names its digest) until
    an operator clears orphans; a rolled-back request then loses nothing."""
    policy = get_policy(actor, policy_id)
    ensure_writer(actor, policy)
    if not MACHINE.allows(policy.status, PolicyAction.edit):
        raise InvalidTransition("只有草稿可以删除附件")
    attachment = db.session.get(PolicyAttachment, attachment_id)
    if attachment is None or attachment.policy_id != policy.id:
        raise NotFound("附件不存在")
    db.session.delete(attachment)
    db.session.flush()
    audit.record(actor, "policy.detach", "policy", policy.id, region_code=policy.region_code,
                 attachment_id=attachment_id, filename=attachment.filename)


@exempt("a published policy's files are public; a draft's only for its county's staff (can_preview)")
def open_attachment(actor, policy_id: int, attachment_id: int) -> tuple[PolicyAttachment, Path]:
    """The attachment and its file, for anyone if the policy is published, else for staff of
    the policy's county only (a 404 for everybody else, drafts do not exist for them)."""
    attachment = db.session.get(PolicyAttachment, attachment_id)
    if attachment is None or attachment.policy_id != policy_id:
        raise NotFound("附件不存在")
    policy: Policy = attachment.policy
    if policy.status is not PolicyStatus.published and not can_preview(actor, policy):
        raise NotFound("附件不存在")
    path = upload_folder() / attachment.stored_name
    if not path.is_file():
        raise NotFound("附件文件已丢失，请联系县级管理员")
    return attachment, path
