"""Money and areas are Decimal with two places; the API writes them as strings ("1234.50")."""
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_decimal(value) -> Decimal:
    """Parse a user-supplied number (str, int, Decimal, float from a spreadsheet cell)."""
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


def quantize(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal | None) -> str | None:
    return None if value is None else str(quantize(value))
