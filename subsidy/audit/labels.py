"""The audit log as a supervisor reads it (docs/architecture.md "Labels"): Chinese names of the
actions, of the kinds of object and of the fields an event's detail names, a link to the object's
page where there is one the reader may open, and the changes as 字段: 原值 → 新值.

The stored event is never changed: codes stay codes in the chain; the words are put on here.
A code with no label is shown as it is (a new action is readable, only in English)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext as _

from subsidy.accounts.permissions import Perm, can, exempt
from subsidy.common.labels import _l

# The areas an action code starts with, for the filter (action "household." = every household act).
AREAS: dict[str, str] = {
    "household.": _l("农户"), "filing.": _l("公示名单"), "case.": _l("咨询投诉"), "payment.": _l("资金发放"),
    "policy.": _l("惠民政策"), "project.": _l("补贴项目"), "sms.": _l("短信"), "user.": _l("用户与登录"),
    "mobile.": _l("农户手机端"), "calendar.": _l("工作日历"), "watchlist.": _l("重点关注名单"),
    "audit.": _l("审计日志"), "demo.": _l("演示数据"), "recovery.": _l("追回"), "write_off.": _l("核销"),
    "accountability.": _l("问责"), "material.": _l("实物发放"), "subsidy_type.": _l("补贴目录"),
    "assessment.": _l("县区考核"),
}

ACTIONS: dict[str, str] = {
    "accountability.record": _l("记录问责决定"),
    "assessment.weights": _l("修改考核权重"),
    "audit.checkpoint": _l("生成校验点"), "audit.checkpoint_download": _l("下载校验点"),
    "audit.verify": _l("校验审计日志"),
    "calendar.delete_day": _l("删除日历中的一天"), "calendar.import": _l("导入工作日历"),
    "calendar.mark_year": _l("确认全年日历"), "calendar.set_day": _l("设置工作日/休息日"),
    "case.accept": _l("开始办理诉求"), "case.close": _l("诉求自动办结"), "case.escalate": _l("督办诉求"),
    "case.merge": _l("合并诉求"), "case.rate": _l("评价诉求"), "case.receive": _l("登记诉求"),
    "case.reject": _l("诉求不予受理"), "case.reply": _l("答复诉求"), "case.settings": _l("修改办理时限"),
    "case.transfer": _l("转办诉求"),
    "demo.load": _l("载入演示数据"),
    "filing.cross_county_sweep": _l("跨县核查"),
    "filing.create": _l("新建公示名单"), "filing.entry_add": _l("添加名单条目"),
    "filing.entry_add_all": _l("批量添加名单条目"), "filing.entry_delete": _l("删除名单条目"),
    "filing.entry_update": _l("修改名单条目"), "filing.note": _l("名单备注"),
    "filing.publicize": _l("公示"), "filing.withdraw": _l("撤回公示"), "filing.submit": _l("村级备案"),
    "filing.approve": _l("审核通过"), "filing.return": _l("退回名单"), "filing.pay": _l("发放完成"),
    "filing.reopen": _l("发起更正"), "filing.entry_hold": _l("止付"), "filing.entry_release": _l("解除止付"),
    "payment.hold_cancel": _l("止付作废未导出的发放"),
    "recovery.create": _l("登记追回"), "recovery.repayment": _l("登记缴回"),
    "write_off.propose": _l("提出核销"), "write_off.approve": _l("审批核销"),
    "material.receipt": _l("实物入库"), "material.pickup": _l("实物领取签收"),
    "material.list": _l("领取地点和时间"), "material.receipt_confirmed": _l("农户确认领取"),
    "material.receipt_denied": _l("农户反映没有领到"), "material.closed": _l("实物发放完毕"),
    "material.signed_list_export": _l("下载领取签收表"),
    "household.create": _l("新增农户"), "household.export": _l("导出农户"),
    "household.id_elsewhere": _l("查询身份证号在外地的登记"), "household.import": _l("导入农户"),
    "household.transfer": _l("迁户"), "household.transfer_out": _l("迁出本县"), "household.update": _l("修改农户信息"),
    "mobile.sign_in": _l("农户手机登录"),
    "payment.batch_cancel": _l("作废发放批次"), "payment.batch_create": _l("生成发放批次"),
    "payment.batch_export": _l("导出银行代发文件"), "payment.batch_reissue": _l("重新发放失败款项"),
    "payment.receipt_confirmed": _l("农户确认到账"), "payment.receipt_denied": _l("农户反映没有收到"),
    "payment.receipt_sample": _l("抽样回访"), "payment.results_import": _l("导入银行回盘"),
    "payment.snapshot_mismatch": _l("发放与备案名单不一致"),
    "policy.attach": _l("上传政策附件"), "policy.create": _l("新建政策"), "policy.detach": _l("删除政策附件"),
    "policy.publish": _l("发布政策"), "policy.update": _l("修改政策"), "policy.withdraw": _l("撤回政策"),
    "project.create": _l("新建补贴项目"), "project.update": _l("修改补贴项目"),
    "subsidy_type.create": _l("新增补贴类型"), "subsidy_type.update": _l("修改补贴类型"),
    "sms.broadcast": _l("群发短信"), "sms.opt_in": _l("恢复接收短信"), "sms.opt_out": _l("退订短信"),
    "sms.pause": _l("暂停发送短信"), "sms.resend": _l("重发短信"), "sms.resume": _l("恢复发送短信"),
    "sms.test": _l("发送测试短信"),
    "user.activate": _l("启用用户"), "user.create": _l("新建用户"), "user.deactivate": _l("停用用户"),
    "user.update": _l("修改用户信息"), "user.password_change": _l("修改密码"), "user.password_reset": _l("重置密码"),
    "user.sign_in": _l("登录"), "user.sign_in_alert": _l("登录异常警报"), "user.sign_in_failed": _l("登录失败"),
    "user.sign_in_throttled": _l("登录尝试过多被限制"), "user.sign_out": _l("退出登录"),
    "user.token_issued": _l("签发 API 令牌"), "user.tokens_revoked": _l("注销 API 令牌"),
    "watchlist.import": _l("导入重点关注名单"),
}

OBJECTS: dict[str, str] = {
    "household": _l("农户"), "household_probe": _l("身份证号查询"), "filing": _l("公示名单"), "case": _l("诉求"),
    "case_settings": _l("办理时限"), "payment": _l("发放记录"), "payment_batch": _l("发放批次"),
    "receipt_sample": _l("回访抽样"), "policy": _l("政策"), "project": _l("补贴项目"), "user": _l("用户"),
    "sms_message": _l("短信"), "sms_broadcast": _l("群发短信"), "sms_opt_out": _l("退订号码"),
    "watchlist": _l("重点关注名单"), "work_calendar": _l("工作日历"), "audit_chain": _l("审计日志"),
    "audit_checkpoint": _l("校验点"), "region": _l("行政区划"), "recovery": _l("追回"), "write_off": _l("核销"),
    "accountability": _l("问责决定"), "subsidy_type": _l("补贴类型"), "assessment_weights": _l("考核权重"),
}

# The page of each kind of object, and the permission its reader needs to open it.
LINKS: dict[str, tuple[str, str, Perm, type]] = {
    "household": ("households.show", "household_id", Perm.view_register, int),
    "filing": ("filings.show", "filing_id", Perm.view_filings, int),
    "case": ("cases.show", "case_id", Perm.view_cases, int),
    "payment_batch": ("payments.batch", "batch_id", Perm.view_payments, int),
    "receipt_sample": ("payments.receipt_sample", "sample_id", Perm.view_payments, int),
    "policy": ("policies.show", "policy_id", Perm.view_policies, int),
    "sms_message": ("notify.message", "message_id", Perm.view_sms, int),
    "sms_broadcast": ("notify.broadcast_detail", "broadcast_id", Perm.view_sms, int),
    "region": ("regions.show", "code", Perm.view_register, str),
    "user": ("accounts.edit_user", "user_id", Perm.manage_users, int),
    "recovery": ("recoveries.show", "recovery_id", Perm.view_recoveries, int),
}

FIELDS: dict[str, str] = {
    "head_name": _l("户主姓名"), "name": _l("名称"), "id_number": _l("身份证号"), "phone": _l("手机号码"),
    "region_code": _l("区划"), "region": _l("区划"), "payout_account": _l("一卡通账号"), "land_area": _l("承包面积"),
    "members": _l("家庭人口"), "quantity": _l("数量"), "amount": _l("金额"), "rate": _l("补贴标准"),
    "unit": _l("单位"), "year": _l("年度"), "title": _l("标题"), "category": _l("类别"), "body": _l("正文"),
    "interpretation": _l("解读"), "username": _l("用户名"), "role": _l("角色"), "entry_id": _l("名单条目"),
    "household_id": _l("农户"), "reason": _l("原因"), "note": _l("备注"), "rating": _l("评价"),
    "reopened": _l("重新办理"), "source": _l("来源"), "target": _l("迁入地"), "filename": _l("文件名"),
    "count": _l("条数"), "created": _l("新增"), "updated": _l("更新"), "rows": _l("行数"), "ok": _l("结果"),
    "checked": _l("已校验条数"), "checkpoints": _l("校验点数"), "broken_id": _l("不一致的记录"),
    "problems": _l("问题"), "address": _l("来源地址"), "ip": _l("来源地址"), "session": _l("会话"),
    "by": _l("操作方"), "farmer_session": _l("农户会话"), "auto": _l("自动"), "unrated": _l("未评价"),
    "state": _l("状态"), "to": _l("转至"),
    "inquiry_days": _l("咨询时限（工作日）"), "complaint_days": _l("投诉时限（工作日）"),
    "objection_days": _l("异议时限（工作日）"), "active": _l("状态"), "head": _l("末条哈希"), "file": _l("文件"),
    "must_change_password": _l("须修改密码"),
    "hold_id": _l("止付记录"), "cancelled_payment_id": _l("作废的发放"), "exported_payment_id": _l("已导出的发放"),
    "amount_due": _l("应追回"), "paid_on": _l("缴回日期"), "receipt_no": _l("收据编号"), "method": _l("缴回方式"),
    "balance": _l("尚欠"), "kind": _l("类别"), "proposed_by": _l("提出人"), "finding": _l("核查结论"),
    "recoveries": _l("登记的追回"), "repayment_id": _l("缴回记录"), "payment_id": _l("发放记录"),
    "recovery_id": _l("追回记录"), "person_name": _l("被问责人"), "post": _l("职务"), "measure": _l("问责方式"),
    "completion_rate": _l("办结率"), "on_time_rate": _l("按时办结率"), "notification_rate": _l("通知率"),
    "mobile_rate": _l("手机端覆盖率"), "filing_timely_rate": _l("备案及时率"),
    "document_no": _l("文号"), "decided_on": _l("决定日期"), "case_id": _l("诉求"), "filing_id": _l("公示名单"),
    "published": _l("公开"),
    "item": _l("实物"), "item_unit": _l("实物单位"), "unit_price": _l("实物单价"), "received_on": _l("日期"),
    "supplier": _l("供货单位"), "receipt_id": _l("入库记录"), "pickup_id": _l("领取记录"), "receiver": _l("领取人"),
    "proxy_name": _l("代领人"), "proxy_relation": _l("与户主关系"),
    "code": _l("代码"), "subsidy_type_id": _l("补贴类型"),
}


@dataclass
class Change:
    field: str
    before: str
    after: str


@dataclass
class ReadableEvent:
    """One row of the log as shown: the stored event plus its words."""

    event: object
    action_label: str
    object_label: str
    object_url: str | None
    changes: list[Change] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)


def action_label(code: str) -> str:
    label = ACTIONS.get(code)
    return str(label) if label else code


def object_label(kind: str) -> str:
    label = OBJECTS.get(kind)
    return str(label) if label else kind


def field_label(key: str) -> str:
    label = FIELDS.get(key)
    return str(label) if label else key


def _value(value) -> str:
    if value is None or value == "":
        return _("（空）")
    if value is True:
        return _("是")
    if value is False:
        return _("否")
    if isinstance(value, (list, tuple)):
        return "、".join(_value(v) for v in value) if value else _("（空）")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@exempt("words for a page: only links what the actor's own permission opens (`can`)")
def object_url(actor, kind: str, object_id: str | None) -> str | None:
    link = LINKS.get(kind)
    if link is None or not object_id:
        return None
    endpoint, arg, perm, convert = link
    if not can(actor, perm):
        return None
    try:
        return url_for(endpoint, **{arg: convert(object_id)})
    except (ValueError, LookupError):
        return None


@exempt("words for an event the caller has already read under view_audit")
def readable(actor, event) -> ReadableEvent:
    """The words for one event; its detail is read when it came whole (`detail_head` is the
    whole detail), otherwise only the raw head is shown by the page."""
    row = ReadableEvent(event, action_label(event.action), object_label(event.object_type),
                        object_url(actor, event.object_type, event.object_id))
    head = getattr(event, "detail_head", "") or ""
    if not head or getattr(event, "detail_length", 0) > len(head):
        return row
    try:
        detail = json.loads(head)
    except ValueError:
        return row
    if not isinstance(detail, dict):
        return row
    before, after = detail.pop("before", None), detail.pop("after", None)
    changed = detail.pop("changed", None)
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before if isinstance(before, dict) else {}, after if isinstance(after, dict) else {}
        for key in [*before, *(k for k in after if k not in before)]:
            row.changes.append(Change(field_label(key), _value(before.get(key)), _value(after.get(key))))
    elif isinstance(changed, dict):
        for key, value in changed.items():
            row.changes.append(Change(field_label(key), "", _value(value)))
    elif changed is not None:
        detail["changed"] = changed
    row.facts = [(field_label(key), _value(value)) for key, value in detail.items() if value not in (None, "", [])]
    return row


REASONS = (
    ("prev_hash does not match", _l("与前一条记录的链接不符（有记录被删除或插入）")),
    ("an unkeyed event after", _l("出现没有密钥签名的记录（由不持有审计密钥的人写入）")),
    ("content does not match", _l("内容与其签名不符（记录被改动，或整条链被无密钥地重算）")),
    ("signature does not match", _l("校验点签名不符（不是用本系统的审计密钥生成的）")),
    ("is gone", _l("校验点对应的记录已不存在（日志被截断）")),
    ("has another hash", _l("校验点对应的记录哈希已变（日志被改写）")),
    ("the checkpoint counted", _l("到校验点为止的记录条数变少（有记录被删除）")),
)


def reason_label(reason: str | None) -> str:
    """A verification's finding in Chinese (the shell's `flask audit verify` keeps the English)."""
    for phrase, label in REASONS:
        if reason and phrase in reason:
            return str(label)
    return reason or ""
