"""Field rules of the household register, shared by the forms, the API and the importer.

Each checker takes raw input (text typed, JSON value or spreadsheet cell) and returns the
normalised value or raises ValueError with the message a clerk sees."""
from __future__ import annotations

import functools
import re
import unicodedata
from datetime import date
from decimal import Decimal

import phonenumbers
from stdnum import numdb
from stdnum.cn import ric

from subsidy.common.money import quantize, to_decimal
from subsidy.common.text import check_line

MAX_LAND_MU = Decimal("100000")
ACCOUNT_RE = re.compile(r"^\d{10,30}$", re.ASCII)
ID_RE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
MOBILE_RE = re.compile(r"^(?:\+?86)?(1\d{10})$", re.ASCII)


def _text(value) -> str:
    """A number-like field as typed, spaces removed; full-width digits and letters (６４０４２５,
    ｘ, typed with a Chinese input method) read as their ASCII forms, for ID numbers, phones and
    accounts alike."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed into a spreadsheet cell
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip().replace(" ", "").replace("\u3000", "")


def check_name(value) -> str:
    name = str(value or "").strip()
    if not name:
        raise ValueError("户主姓名不能为空")
    check_line(name, "户主姓名")  # a pasted \x00 once broke every register export
    if len(name) > 40:
        raise ValueError("户主姓名不超过 40 字")
    return name


@functools.lru_cache(maxsize=4096)
def region_code_years(prefix6: str) -> tuple[tuple[int | None, int | None], ...] | None:
    """The years during which a 6-digit administrative code was in use, as python-stdnum's
    table of GB/T 2260 codes records them (彭阳县: 642226 until 2001, 640425 from 2001), one
    (first, last) pair per use, None for an open end; None if the code never existed. Cached:
    an import sees the same few codes thousands of times."""
    results = numdb.get("cn/loc").info(prefix6)
    counties = [props["county"] for _part, props in results if "county" in props]
    if not counties:
        return None
    spans = []
    for county in counties[-1].split(","):
        if not county.startswith("["):
            spans.append((None, None))
            continue
        first, _, last = county[1:].split("]")[0].partition("-")
        spans.append((int(first) if first else None, int(last) if last else None))
    return tuple(spans)


@functools.lru_cache(maxsize=65536)
def _birth_date(digits: str) -> date | None:
    """The date of an ID number's eight birth digits, or None; cached, since an import of a
    county sees each birthday many times (a century has ~37,000 days)."""
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _id_problem(text: str) -> str | None:
    if not text:
        return "身份证号不能为空"
    if len(text) != 18:
        return f"身份证号应为 18 位（现为 {len(text)} 位）"
    if not ID_RE.match(text):
        return "身份证号格式不正确：前 17 位应为数字，最后一位为数字或 X"
    if region_code_years(text[:6]) is None:
        return f"身份证号中的地区码不存在（前 6 位 {text[:6]} 不是任何时期的行政区划代码）"
    birth = _birth_date(text[6:14])
    if birth is None or birth.year < 1900 or birth > date.today():
        return f"身份证号中的出生日期无效（第 7–14 位 {text[6:14]}）"
    if text[-1] != ric.calc_check_digit(text):
        return "身份证号校验位不正确（最后一位），请核对身份证原件"
    return None


def id_number_problem(value) -> str | None:
    """Why `value` is not a GB 11643-1999 citizen ID number, naming the part that is wrong
    (docs/design.md §6: 地区码不存在, 出生日期无效 and 校验位不正确 are different messages), or None.
    A code that exists or existed is accepted whatever the birth year: people born before a
    renumbering are issued numbers under the new code (see `id_number_warning`)."""
    return _id_problem(_text(value).upper())


def check_id_number(value) -> str:
    """A valid GB 11643-1999 citizen ID number, normalised (upper-case X), or ValueError with
    the message of `id_number_problem`."""
    text = _text(value).upper()
    problem = _id_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def id_number_warning(number: str | None) -> str | None:
    """A valid number whose region code was not in use in the holder's birth year: normal after
    a renumbering (a person born in 1990 in 彭阳县 holds a 640425 number issued after 2001),
    but worth a look, so it is said and not refused."""
    if not number or id_number_problem(number):
        return None
    return region_code_warning(number)


def region_code_warning(valid_number: str) -> str | None:
    """`id_number_warning` of a number already checked (the import checks each once)."""
    spans = region_code_years(valid_number[:6])
    year = int(valid_number[6:10])
    if any((first is None or first <= year) and (last is None or year <= last) for first, last in spans):
        return None
    used = "、".join(f"{first or ''}–{last or ''}" for first, last in spans)
    return (f"地区码 {valid_number[:6]} 的使用年份（{used}）不含出生年份 {year}：多见于行政区划调整后换发的身份证，"
            "请核对身份证原件")


def _check_phone_number(text: str) -> str:
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


@functools.lru_cache(maxsize=8192)
def _mobile_prefix_error(prefix7: str) -> str | None:
    """Whether an 11-digit number starting with `prefix7` is a valid mainland mobile. In
    libphonenumber's metadata for CN every mobile pattern is decided within the first five
    digits (the rest is \\d{6} or \\d{8}), so the 7-digit prefix (号段) decides it and can be cached."""
    try:
        _check_phone_number(prefix7 + "0000")
    except ValueError as exc:
        return str(exc)
    return None


def check_phone(value, *, required: bool = False) -> str | None:
    """A mainland mobile number, stored as its 11 national digits."""
    text = _text(value)
    if not text:
        if required:
            raise ValueError("手机号码不能为空")
        return None
    if len(text) == 11 and text[0] == "1" and text.isascii() and text.isdigit():
        national = text  # the common case, what MOBILE_RE would match without the regex
    else:
        plain = MOBILE_RE.match(text)
        national = plain.group(1) if plain else None
    if national:  # +86 or not: decided by its prefix, cached
        error = _mobile_prefix_error(national[:7])
        if error:
            raise ValueError(error)
        return national
    return _check_phone_number(text)


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
