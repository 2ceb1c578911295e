"""Pagination of scoped selects: one count query, one page query."""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa

from subsidy.common.params import MAX_PAGE, MAX_PER_PAGE, parse_int
from subsidy.extensions import db


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def clamp(page, per_page, default: int = 50) -> tuple[int, int]:
    """Page and size as the services take them (pages pass the query string through): anything
    that is not a page number is the first page, sizes are held within 1..MAX_PER_PAGE. The API
    refuses such values before they get here (`subsidy.api.spec.page_args`)."""
    page = parse_int(page, 1, MAX_PAGE) if page not in (None, "") else 1
    number = parse_int(per_page, -MAX_PAGE, MAX_PAGE) if per_page not in (None, "") else default
    if number is None:
        number = default
    return page or 1, min(max(number, 1), MAX_PER_PAGE)


def paginate(stmt, page, per_page, default: int = 50) -> Page:
    page, per_page = clamp(page, per_page, default)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items, page, per_page, total)
