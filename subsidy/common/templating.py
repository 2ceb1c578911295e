"""Template filters and globals shared by every page."""
from __future__ import annotations

import json

from flask_login import current_user

from subsidy.accounts.models import Role
from subsidy.accounts.permissions import Perm, can
from subsidy.common import masking
from subsidy.common.money import fmt, quantize, to_decimal
from subsidy.common.timeutil import to_local

# (endpoint, label, permission needed or None, roles or None)
NAV = [
    ("stats.home", "工作台", None),
    ("regions.show", "行政区划", Perm.view_register),
    ("households.index", "农户名册", Perm.view_register),
    ("projects.index", "补贴项目", Perm.view_projects),
    ("accounts.users", "用户管理", Perm.manage_users),
    ("audit.index", "审计日志", Perm.view_audit),
]


def nav_items():
    if not current_user.is_authenticated:
        return []
    return [(ep, label) for ep, label, perm in NAV if perm is None or can(current_user, perm)]


def register_nav(endpoint: str, label: str, perm: Perm | None) -> None:
    """Areas added later put their page in the navigation here, not by editing the layout."""
    if all(ep != endpoint for ep, _, _ in NAV):
        NAV.append((endpoint, label, perm))


def yuan(value) -> str:
    """Money for reading: two decimals with thousands separators (12,345.60); `money` stays
    the plain form for inputs and files."""
    if value is None or value == "":
        return ""
    return f"{quantize(to_decimal(value)):,.2f}"


def qty(value) -> str:
    """A quantity as counted: 2 (households, head of cattle) rather than 2.00; 3.5 mu stays 3.5."""
    if value is None or value == "":
        return ""
    d = quantize(to_decimal(value))
    text = f"{d:,.2f}".rstrip("0").rstrip(".")
    return text


def init_app(app):
    app.jinja_env.filters.update(
        money=lambda v: fmt(v) if v is not None else "",
        yuan=yuan,
        qty=qty,
        local=lambda v, f="%Y-%m-%d %H:%M": to_local(v).strftime(f) if v else "",
        mask_name=masking.mask_name,
        mask_id=masking.mask_id_number,
        mask_phone=masking.mask_phone,
        tail=masking.account_tail,
        fromjson=json.loads,
    )
    app.jinja_env.globals.update(nav_items=nav_items, can=lambda perm: can(current_user, Perm(perm)), Role=Role)
