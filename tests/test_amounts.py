"""The amount rule's two forms agree (subsidy.projects.amounts): the Python form an entry uses
and the SQL twin a whole village's INSERT … SELECT and the risk check use, on the suite's
database, for every unit, odd decimals and large quantities."""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy.extensions import db
from subsidy.projects.amounts import (
    default_quantity,
    default_quantity_sql,
    standard_amount,
    standard_amount_sql,
    standard_cents_sql,
)
from subsidy.projects.models import Unit

cents = st.integers(min_value=1, max_value=10_000_000)  # 0.01 … 100,000.00
rates = st.integers(min_value=1, max_value=999_999_999).map(lambda c: Decimal(c) / 100)  # up to 9,999,999.99
quantities = cents.map(lambda c: Decimal(c) / 100)


def sql_amount(rate: Decimal, quantity: Decimal) -> tuple[Decimal, int]:
    r = sa.literal(rate, sa.Numeric(14, 2))
    q = sa.literal(quantity, sa.Numeric(12, 2))
    money, whole = db.session.execute(sa.select(standard_amount_sql(r, q), standard_cents_sql(r, q))).one()
    return Decimal(str(money)).quantize(Decimal("0.01")), int(whole)


@pytest.mark.parametrize(("rate", "quantity", "expected"), [
    ("95.00", "12.50", "1187.50"), ("10.05", "0.33", "3.32"), ("0.05", "0.10", "0.01"),  # 0.005 rounds up
    ("0.01", "0.49", "0.00"), ("33.33", "3.03", "100.99"), ("9999999.99", "100000.00", "999999999000.00"),
    ("0.15", "0.10", "0.02"), ("12.34", "56.78", "700.67"),
])
def test_known_amounts_in_both_forms(app, rate, quantity, expected):
    rate, quantity, expected = Decimal(rate), Decimal(quantity), Decimal(expected)
    assert standard_amount(rate, quantity) == expected
    assert sql_amount(rate, quantity) == (expected, int(expected * 100))


@settings(max_examples=300, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=rates, quantity=quantities)
def test_the_two_forms_agree(app, rate, quantity):
    python = standard_amount(rate, quantity)
    money, whole = sql_amount(rate, quantity)
    assert money == python and whole == int(python * 100), (rate, quantity)


@pytest.mark.parametrize("unit", list(Unit))
@pytest.mark.parametrize(("land", "members"), [(Decimal("12.35"), 4), (Decimal("0.00"), 1), (None, None),
                                               (Decimal("99999.99"), 50)])
def test_the_default_quantity_in_both_forms(app, unit, land, members):
    python = default_quantity(unit, land, members)
    sql = db.session.scalar(sa.select(default_quantity_sql(unit, sa.literal(land, sa.Numeric(12, 2)),
                                                           sa.literal(members, sa.Integer))))
    assert Decimal(str(sql)).quantize(Decimal("0.01")) == python.quantize(Decimal("0.01")), (unit, land, members)
