"""Field rules of the household register, shared by the forms, the API and the importer.

Each checker takes raw input (text typed, JSON value or spreadsheet cell) and returns the
normalised value or raises ValueError with the message a clerk sees."""
from __future__ import annotations

import re
from decimal import Decimal

import phonenumbers
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

from subsidy.common.money import quantize, to_decimal

MAX_LAND_MU = Decimal("100000")
ACCOUNT_RE = re.compile(r"^\d{10,30}$")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed into a spreadsheet cell
    return str(value).strip().replace(" ", "").replace("\u3000", "")


def check_name(value) -> str:
    name = str(value or "").strip()
    if not name:
        raise ValueError("户主姓名不能为空")
    if len(name) > 40:
        raise ValueError("户主姓名不超过 40 字")
    return name


def check_id_number(value) -> str:
    """GB 11643-1999 citizen ID: 18 characters, valid birth date and check digit."""
    text = _text(value).upper()
    if not text:
        raise ValueError("身份证号不能为空")
    if len(text) != 18:
        raise ValueError("身份证号应为 18 位")
    try:
        return ric.validate(text)
    except stdnum_errors.InvalidChecksum:
        raise ValueError("身份证号校验位不正确，请核对") from None
    except stdnum_errors.InvalidComponent:
        raise ValueError("身份证号中的出生日期或地区码无效") from None
    except stdnum_errors.ValidationError:
        raise ValueError("身份证号格式不正确") from None


def check_phone(value, *, required: bool = False) -> str | None:
    """A mainland mobile number, stored as its 11 national digits."""
    text = _text(value)
    if not text:
        if required:
            raise ValueError("手机号码不能为空")
        return None
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        raise ValueError("手机号码格式不正确") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise ValueError("不是有效的大陆手机号码")
    if phonenumbers.number_type(number) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        raise ValueError("请填写手机号码（用于短信通知），不是固定电话")
    return str(number.national_number)


def to_e164(phone: str) -> str:
    return "+86" + phone


def check_account(value) -> str | None:
    text = _text(value).replace("-", "")
    if not text:
        return None
    if not ACCOUNT_RE.match(text):
        raise ValueError("一卡通账号应为 10–30 位数字")
    return text


def check_members(value) -> int:
    text = _text(value)
    if not text:
        raise ValueError("家庭人口不能为空")
    try:
        number = int(Decimal(text))
        if Decimal(text) != number:
            raise ValueError
    except (ValueError, ArithmeticError):
        raise ValueError("家庭人口应为整数") from None
    if not 1 <= number <= 50:
        raise ValueError("家庭人口应在 1–50 之间")
    return number


def check_land(value) -> Decimal:
    if value is None or _text(value) == "":
        return Decimal("0.00")
    try:
        area = to_decimal(value)
    except ValueError:
        raise ValueError("耕地面积应为数字（亩）") from None
    if area < 0:
        raise ValueError("耕地面积不能为负数")
    if area > MAX_LAND_MU:
        raise ValueError("耕地面积过大，请核对单位（亩）")
    if area != quantize(area):
        raise ValueError("耕地面积最多两位小数")
    return quantize(area)


CHECKERS = {
    "head_name": check_name,
    "id_number": check_id_number,
    "phone": check_phone,
    "payout_account": check_account,
    "members": check_members,
    "land_area_mu": check_land,
}


def clean_household(data: dict) -> tuple[dict, dict[str, str]]:
    """Normalise every field given; return (values, errors by field)."""
    values, errors = {}, {}
    for field, checker in CHECKERS.items():
        if field not in data:
            continue
        try:
            values[field] = checker(data[field])
        except ValueError as exc:
            errors[field] = str(exc)
    return values, errors
