"""Named SMS templates: short, Chinese, signed with the county's signature (【彭阳县惠农】).

Chinese text is sent as UCS-2: 70 characters fit one segment, 67 per segment beyond (the
rest carries the concatenation header); GSM-7 text fits 160, then 153 per segment."""
from __future__ import annotations

import math
import string
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from subsidy.common.labels import _l

# GSM 03.38 basic character set; the extension table characters count double.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Template:
    name: str
    label: object  # a lazy string (`_l`): what staff read, in the language of the request
    text: str  # str.format placeholders; {signature} is always available


TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("filing_approved", _l("补贴审定通知"),
             "{signature}{name}户：您的{project}{amount}元已经县级审定，发放后将另行短信通知。"),
    Template("filing_approved_material", _l("实物审定通知"),
             "{signature}{name}户：您的{project}应领{item}{due}{item_unit}，已经县级审定，请按村里通知带身份证领取并签字。"),
    Template("filing_approved_material_place", _l("实物审定通知（含领取地点）"),
             "{signature}{name}户：您的{project}应领{item}{due}{item_unit}，已经县级审定。请于{starts}至{ends}带身份证到{place}领取并签字。"),
    Template("material_collect", _l("实物领取通知"),
             "{signature}{name}户：您的{project}{item}请于{starts}至{ends}带身份证到{place}领取，还可领{due}{item_unit}，领取时签字。"),
    Template("material_reminder", _l("实物领取提醒"),
             "{signature}{name}户：您的{project}{item}还有{due}{item_unit}未领，{ends}截止，请带身份证到{place}领取。"),
    Template("payment_paid", _l("补贴到账通知"),
             "{signature}{name}户：{project}{amount}元已于{date}发放至尾号{tail}的一卡通，请查收。如未收到，请在手机端点“没有收到”或联系村委会。"),
    Template("payment_failed_clerk", _l("发放失败提醒（经办员）"),
             "{signature}{village}{name}户{project}发放失败：{reason}。请核对一卡通账号后重新发放。"),
    Template("filing_returned", _l("备案退回提醒（经办员）"),
             "{signature}{village}{project}备案被{by}退回：{reason}。请登录平台查看，修改后重新公示。"),
    Template("entry_held", _l("暂停发放通知"),
             "{signature}{name}户：您的{project}补贴暂停发放，正在核查，核查后另行短信通知。如有疑问请联系{unit}。"),
    Template("entry_released", _l("恢复发放通知"),
             "{signature}{name}户：您的{project}补贴经核查已恢复发放，发放后将另行短信通知。"),
    Template("recovery_due", _l("追回通知"),
             "{signature}{name}户：您的{project}经核查多发{amount}元，需退回。请持身份证到乡镇财政所现金缴回，或到村委会办理一卡通扣回，缴回时索取收据。"),
    Template("filing_reopened", _l("备案更正通知（经办员）"),
             "{signature}{village}{project}备案由{by}发起更正：{reason}。请登录平台只修改需要更正的户，然后更正公示。"),
    Template("case_replied", _l("诉求答复通知"), "{signature}您的诉求{ref_no}已答复，请在手机端查看并评价。"),
    Template("case_reminder", _l("督办提醒"), "{signature}诉求{ref_no}已超期，请尽快办理。"),
    Template("case_merged", _l("诉求合并通知"),
             "{signature}您的诉求{ref_no}与{into}内容相同，已合并办理，请以{into}的答复为准。"),
    Template("login_code", _l("登录验证码"), "{signature}验证码{code}，5分钟内有效。请勿告诉他人。"),
    Template("receipt_check", _l("到账回访"),
             "{signature}{name}户：{project}{amount}元是否已到账？请在手机端“我的补贴”中确认。"),
    Template("sign_in_alert", _l("异常登录提醒（管理员、监督员）"),
             "{signature}安全提醒：工作人员账号{username}在{minutes}分钟内密码错误{count}次，请核实是否有人冒用。"),
    Template("audit_checkpoint", _l("审计日志校验码（监督员）"),
             "{signature}审计日志{date}校验点：共{count}条，末条{last_id}，校验码{short}。请保存备查。"),
    Template("broadcast", _l("群发通知"), "{signature}{body}"),
    Template("test", _l("测试短信"), "{signature}{body}"),
]}


# Sent even to a number that opted out (退订): the farmer asked for it a moment ago. 退订
# stops notifications, not a code someone requests to sign in.
OPT_OUT_EXEMPT = frozenset({"login_code"})
# Worth nothing once late: never offered for a resend.
NOT_RESENDABLE = frozenset({"login_code"})


# Typical values, to show each template as a farmer will read it, with its segment count.
SAMPLE_CONTEXT = {"name": "张建国", "project": "耕地地力保护补贴", "amount": "1312.50", "date": "3月5日",
                  "tail": "1234", "village": "阳洼村", "reason": "账号不存在", "ref_no": "ZX2017000123",
                  "into": "ZX2017000120", "by": "白阳镇", "unit": "县农业农村局",
                  "code": "123456", "body": "（通知内容）", "username": "zhangsan", "count": 50, "minutes": 60,
                  "last_id": 123456, "short": "3f2a9c01b7de", "item": "地膜", "due": "12.50", "item_unit": "卷",
                  "place": "阳洼村村委会", "starts": "3月5日", "ends": "3月20日"}


def samples(signature: str) -> list[tuple[Template, str, int]]:
    """(template, sample text, segments) for every template."""
    out = []
    for t in TEMPLATES.values():
        text = render(t.name, signature, SAMPLE_CONTEXT)
        out.append((t, text, segment_count(text)))
    return out


def is_gsm7(text: str) -> bool:
    return all(ch in _GSM_BASIC or ch in _GSM_EXT for ch in text)


def segment_count(text: str) -> int:
    """How many SMS segments the provider will bill for `text`."""
    if not text:
        return 1
    if is_gsm7(text):
        length = sum(2 if ch in _GSM_EXT else 1 for ch in text)
        return 1 if length <= 160 else math.ceil(length / 153)
    # UCS-2 counts UTF-16 code units: a character outside the BMP takes two.
    length = len(text.encode("utf-16-le")) // 2
    return 1 if length <= 70 else math.ceil(length / 67)


def render(template_name: str, signature: str, context: dict) -> str:
    try:
        template = TEMPLATES[template_name]
    except KeyError:
        raise ValueError(f"unknown SMS template {template_name!r}") from None
    return template.text.format(signature=signature, **context)


# --- the same rendering done by the database (set-based enqueue) ----------------------------

# Characters outside the Basic Multilingual Plane (rare hanzi of CJK Extension B and later, in
# some names) take two UTF-16 code units; PostgreSQL counts code points, so they are counted
# apart. SQLite has no such function: `outbox` gives it `utf16_units` below. Each database's
# SQL is chosen by SQLAlchemy's compiler (`Utf16Units`), not by a test of the dialect here.
_ASTRAL_RE = "[\\U00010000-\\U0010FFFF]"
SQLITE_UTF16_FUNCTION = "sms_utf16_units"


def utf16_units(text: str | None) -> int:
    return 0 if text is None else len(text.encode("utf-16-le")) // 2


def fields_of(template_name: str) -> list[str]:
    """The placeholders of a template, in order, `signature` included."""
    return [name for _, name, _, _ in string.Formatter().parse(TEMPLATES[template_name].text) if name]


class Utf16Units(FunctionElement):
    """SQL: the length of a text in UTF-16 code units (what an SMS segment counts)."""

    type = sa.Integer()
    name = "utf16_units"
    inherit_cache = True


@compiles(Utf16Units)
def _utf16_units_function(element, compiler, **kw):
    # SQLite (and any database without the PostgreSQL form): the function `outbox` registers.
    return compiler.process(getattr(sa.func, SQLITE_UTF16_FUNCTION)(*element.clauses, type_=sa.Integer), **kw)


@compiles(Utf16Units, "postgresql")
def _utf16_units_postgresql(element, compiler, **kw):
    expr = list(element.clauses)[0]
    units = sa.func.char_length(expr) * 2 - sa.func.char_length(sa.func.regexp_replace(expr, _ASTRAL_RE, "", "g"))
    return compiler.process(units, **kw)


def render_sql(template_name: str, signature: str, constants: dict, columns: dict):
    """The template rendered by the database: (body, segments) as SQL expressions, equal to
    `render` and `segment_count` of the same values. `signature` and `constants` are filled in
    here, `columns` (field name → SQL expression) per row.

    Only for a template whose own text (with the constants) is not GSM-7, as every Chinese one:
    the body is then UCS-2 whatever the per-row values, so its segments follow from its length
    in UTF-16 code units, which is the fixed text's (counted here) plus each per-row value's."""
    try:
        template = TEMPLATES[template_name]
    except KeyError:
        raise ValueError(f"unknown SMS template {template_name!r}") from None
    values = {"signature": signature, **constants}
    parts: list = []  # runs of fixed text (str) and per-row expressions, in order
    for literal, name, spec, conversion in string.Formatter().parse(template.text):
        if literal:
            parts.append(literal)
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"template {template_name!r}: format specs are not rendered in SQL")
        if name in values:
            parts.append(str(values[name]))
        elif name in columns:
            parts.append(sa.type_coerce(sa.func.coalesce(columns[name], ""), sa.String))
        else:
            raise KeyError(name)
    fixed = "".join(p for p in parts if isinstance(p, str))
    if is_gsm7(fixed):
        raise ValueError(f"template {template_name!r} may be GSM-7: count its segments in Python (enqueue_bulk)")
    merged: list = []  # adjacent fixed text joined: one parameter per run
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    exprs = [sa.literal(p, sa.String) if isinstance(p, str) else p for p in merged]
    body = exprs[0]
    for expr in exprs[1:]:
        body = body + expr
    units = sa.literal(utf16_units(fixed), sa.Integer)
    for part in parts:
        if not isinstance(part, str):
            units = units + Utf16Units(part)
    return body, sa.case((units <= 70, 1), else_=(units + 66) // 67)
