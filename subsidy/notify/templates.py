"""Named SMS templates: short, Chinese, signed with the county's signature (【彭阳县惠农】).

Chinese text is sent as UCS-2: 70 characters fit one segment, 67 per segment beyond (the
rest carries the concatenation header); GSM-7 text fits 160, then 153 per segment."""
from __future__ import annotations

import math
from dataclasses import dataclass

# GSM 03.38 basic character set; the extension table characters count double.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Template:
    name: str
    label: str
    text: str  # str.format placeholders; {signature} is always available


TEMPLATES: dict[str, Template] = {t.name: t for t in [
    Template("filing_approved", "补贴审定通知",
             "{signature}{name}户：您的{project}{amount}元已经县级审定，发放后将另行短信通知。"),
    Template("payment_paid", "补贴到账通知",
             "{signature}{name}户：{project}{amount}元已于{date}发放至尾号{tail}的一卡通，请查收。未收到请回访或拨打乡镇电话。"),
    Template("payment_failed_clerk", "发放失败提醒（经办员）",
             "{signature}{village}{name}户{project}发放失败：{reason}。请核对一卡通账号后重新发放。"),
    Template("case_replied", "诉求答复通知", "{signature}您的诉求{ref_no}已答复，请在手机端查看并评价。"),
    Template("case_reminder", "督办提醒", "{signature}诉求{ref_no}已超期，请尽快办理。"),
    Template("login_code", "登录验证码", "{signature}验证码{code}，5分钟内有效。请勿告诉他人。"),
    Template("receipt_check", "到账回访", "{signature}{name}户：{project}{amount}元是否已到账？请在手机端“我的补贴”中确认。"),
    Template("broadcast", "群发通知", "{signature}{body}"),
    Template("test", "测试短信", "{signature}{body}"),
]}


# Sent even to a number that opted out (退订): the farmer asked for it a moment ago. 退订
# stops notifications, not a code someone requests to sign in.
OPT_OUT_EXEMPT = frozenset({"login_code"})
# Worth nothing once late: never offered for a resend.
NOT_RESENDABLE = frozenset({"login_code"})


# Typical values, to show each template as a farmer will read it, with its segment count.
SAMPLE_CONTEXT = {"name": "张建国", "project": "耕地地力保护补贴", "amount": "1312.50", "date": "3月5日",
                  "tail": "1234", "village": "阳洼村", "reason": "账号不存在", "ref_no": "ZX2017000123",
                  "code": "123456", "body": "（通知内容）"}


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
