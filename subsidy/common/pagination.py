"""Pagination of scoped selects: one count query, one page query."""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa

from subsidy.extensions import db

MAX_PER_PAGE = 200


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
    try:
        page = max(1, int(page or 1))
    except (TypeError, ValueError):
        page = 1
    try:
        per_page = int(per_page or default)
    except (TypeError, ValueError):
        per_page = default
    return page, min(max(per_page, 1), MAX_PER_PAGE)


def paginate(stmt, page, per_page, default: int = 50) -> Page:
    page, per_page = clamp(page, per_page, default)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).unique())
    return Page(items, page, per_page, total)
