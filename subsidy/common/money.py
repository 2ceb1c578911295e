"""Money and areas are Decimal with two places; the API writes them as strings ("1234.50").

`parse_amount` is the one rule for a number a person or a system hands in as money, an area,
a quantity or a rate: finite, at most two decimals, within the column it is stored in
(`subsidy.common.model_base`: Money is NUMERIC(14,2), Area NUMERIC(12,2)). The API's models,
the forms and the services all call it, so 1e308, 1e400, NaN or 0.001 get the same clear
message everywhere and never reach the database (where they overflow or are rounded away)."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# The largest value of NUMERIC(p, 2): p - 2 digits before the point.
MONEY_MAX = Decimal("999999999999.99")  # NUMERIC(14,2): Money
AREA_MAX = Decimal("9999999999.99")  # NUMERIC(12,2): Area, rates
# What the API documents for money fields (strings, two decimals at most, no exponent).
MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
AREA_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
_TEXT_LIMIT = 64  # longer input is no amount: refused before Decimal() reads it


def to_decimal(value) -> Decimal:
    """Parse a user-supplied number (str, int, Decimal, float from a spreadsheet cell)."""
    if isinstance(value, bool):
        raise ValueError(str(value))
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, float):
        d = Decimal(repr(value))  # repr keeps the cell's shortest form, not binary noise
    else:
        try:
            d = Decimal(str(value).strip().replace(",", ""))
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(str(value)) from exc
    if not d.is_finite():
        raise ValueError(str(value))
    return d


def parse_amount(value, *, label: str = "金额", maximum: Decimal = MONEY_MAX, minimum: Decimal | None = Decimal("0"),
                 places: int = 2) -> Decimal:
    """`value` as a Decimal of at most `places` decimals within minimum..maximum, or ValueError
    with the message a clerk sees (naming `label`). Blank input is the caller's business."""
    if isinstance(value, str) and len(value.strip()) > _TEXT_LIMIT:
        raise ValueError(f"{label}超出允许范围")
    try:
        d = to_decimal(value)
    except ValueError:
        raise ValueError(f"{label}应为数字") from None
    # Compare before quantize(): a Decimal of 1E+308 cannot be quantized (InvalidOperation).
    if d > maximum or d < -maximum:
        raise ValueError(f"{label}超出允许范围（最大 {maximum}）")
    if minimum is not None and d < minimum:
        raise ValueError(f"{label}不能为负数" if minimum == 0 else f"{label}应不小于 {minimum}")
    if d != d.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"{label}应为整数" if places == 0 else f"{label}最多{'两' if places == 2 else places}位小数")
    return quantize(d) if places == 2 else d


def quantize(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal | None) -> str | None:
    return None if value is None else str(quantize(value))
