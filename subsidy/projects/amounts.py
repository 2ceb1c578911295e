"""The standard amount of an entry, in one place, in its two forms (docs/architecture.md
"Amounts").

- The default quantity of a household for a project is read from the register: its 亩 of land
  for a per-亩 project, its members for a per-person one, 1 for the other units (per household;
  per head and per item start at 1 and the clerk corrects them).
- The standard amount is rate × quantity rounded half up to the cent. Both have at most two
  decimals, so the product is exact with four and the rounding is done in integer cents:
  (rate in cents × quantity in cents + 50) ÷ 100, never in binary floating point (SQLite keeps
  NUMERIC as REAL).

Each rule has a Python form (one entry, a page) and an SQL twin (a whole village added in one
INSERT … SELECT, the risk check "amount above the standard" over a whole filing); a test proves
that the two agree on both databases for every unit, odd decimals and large quantities."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from subsidy.common.database import cents_to_money
from subsidy.common.money import CENT
from subsidy.projects.models import Category, Unit

ONE = Decimal(1)


def default_quantity(unit: Unit, land_area_mu: Decimal | None, members: int | None) -> Decimal:
    if unit == Unit.mu:
        return (land_area_mu or Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)
    if unit == Unit.person:
        return Decimal(members or 1)
    return ONE


def default_quantity_sql(unit: Unit, land_area_mu, members):
    """SQL twin of `default_quantity`, over the register's columns."""
    if unit == Unit.mu:
        return sa.func.coalesce(land_area_mu, 0)
    if unit == Unit.person:
        return sa.func.coalesce(members, 1)
    return sa.literal(1)


def standard_amount(rate: Decimal, quantity: Decimal) -> Decimal:
    return (Decimal(rate) * Decimal(quantity)).quantize(CENT, rounding=ROUND_HALF_UP)


def cents(expr):
    """A two-decimal SQL number as integer cents."""
    return sa.cast(sa.func.round(expr * 100), sa.BigInteger)


def standard_cents_sql(rate, quantity):
    """SQL twin of `standard_amount`, in integer cents (for comparisons)."""
    return (cents(rate) * cents(quantity) + 50) // 100


def standard_amount_sql(rate, quantity):
    """SQL twin of `standard_amount`, as money (for inserts)."""
    return cents_to_money(standard_cents_sql(rate, quantity))


# --- 实物补贴 (docs/design.md "Material subsidies") ---------------------------------------------
# For a material project `rate` is the quantity of goods per unit of entitlement: an entry's
# goods due are rate × quantity (to 0.01, half up, as the standard amount), and its amount, the
# money those goods are worth, is goods due × the unit price (0.00 while no price is set).

def goods_due(rate: Decimal, quantity: Decimal) -> Decimal:
    return standard_amount(rate, quantity)


def entry_amount(project, quantity: Decimal) -> Decimal:
    """The standard amount of an entry of `project` (cash: rate × quantity; material: the goods
    due valued at the unit price)."""
    if project.category == Category.material:
        if project.unit_price is None:
            return Decimal("0.00")
        return standard_amount(project.unit_price, goods_due(project.rate, quantity))
    return standard_amount(project.rate, quantity)


def entry_cents_sql(project, rate, quantity):
    """SQL twin of `entry_amount` in integer cents, `rate` an SQL expression of the project's rate."""
    if project.category == Category.material:
        if project.unit_price is None:
            return sa.literal(0)
        due = standard_cents_sql(rate, quantity)
        return (due * cents(sa.literal(project.unit_price, sa.Numeric(14, 2))) + 50) // 100
    return standard_cents_sql(rate, quantity)


def entry_amount_sql(project, rate, quantity):
    """SQL twin of `entry_amount`, as money (for inserts)."""
    return cents_to_money(entry_cents_sql(project, rate, quantity))
