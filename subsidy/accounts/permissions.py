"""Who may do what: one table from role to permissions (DESIGN.md §1).

Region is the other half of every check and lives in `subsidy.regions.scope`."""
from __future__ import annotations

import enum

from subsidy.accounts.models import Role
from subsidy.errors import PermissionDenied


class Perm(enum.Enum):
    view_register = "view_register"
    edit_households = "edit_households"
    export_households = "export_households"
    manage_users = "manage_users"
    manage_projects = "manage_projects"
    view_projects = "view_projects"
    view_audit = "view_audit"
    manage_sms = "manage_sms"
    view_sms = "view_sms"
    broadcast_sms = "broadcast_sms"


_ALL_READ = {Perm.view_register, Perm.view_projects, Perm.view_sms}

ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.village_clerk: frozenset(_ALL_READ | {Perm.edit_households, Perm.export_households}),
    Role.township_reviewer: frozenset(_ALL_READ | {Perm.export_households}),
    Role.county_reviewer: frozenset(_ALL_READ | {Perm.export_households}),
    Role.county_admin: frozenset(
        _ALL_READ
        | {
            Perm.edit_households,
            Perm.export_households,
            Perm.manage_users,
            Perm.manage_projects,
            Perm.manage_sms,
            Perm.broadcast_sms,
            Perm.view_audit,
        }
    ),
    # Supervisors read everything in their region and change nothing (DESIGN.md §1).
    Role.supervisor: frozenset(_ALL_READ | {Perm.view_audit, Perm.export_households}),
}


def can(actor, perm: Perm) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and perm in ROLE_PERMS[actor.role]


def require(actor, perm: Perm) -> None:
    if not can(actor, perm):
        raise PermissionDenied("您的角色无权进行此操作")
