"""Who may do what: one table from role to permissions (DESIGN.md §1).

Region is the other half of every check and lives in `subsidy.regions.scope`."""
from __future__ import annotations

import enum

from subsidy.accounts.models import Role
from subsidy.errors import PermissionDenied


class Perm(enum.Enum):
    view_register = "view_register"
    edit_households = "edit_households"
    transfer_households = "transfer_households"  # 迁户 between villages: the county admin
    export_households = "export_households"
    manage_users = "manage_users"
    manage_projects = "manage_projects"
    view_projects = "view_projects"
    view_audit = "view_audit"
    manage_sms = "manage_sms"
    view_sms = "view_sms"
    broadcast_sms = "broadcast_sms"
    handle_sms = "handle_sms"  # resend a failed SMS, record a farmer's opt-out (退订)
    # Filing and review (issue 4); the workflow's table also checks role and tier per action.
    view_filings = "view_filings"
    edit_filings = "edit_filings"
    review_filings = "review_filings"
    manage_watchlist = "manage_watchlist"
    # Benefit policies (issue 6): every tier reads, the county admin writes and publishes.
    view_policies = "view_policies"
    manage_policies = "manage_policies"
    # Disbursement and the supervision dashboard (issue 7).
    view_payments = "view_payments"
    manage_payments = "manage_payments"  # batches, bank files, re-issue, receipt checks: county reviewer
    view_dashboard = "view_dashboard"
    # Cases (issue 5)
    view_cases = "view_cases"
    handle_cases = "handle_cases"
    record_cases = "record_cases"
    escalate_cases = "escalate_cases"
    view_case_stats = "view_case_stats"
    manage_calendar = "manage_calendar"


_ALL_READ = {Perm.view_register, Perm.view_projects, Perm.view_sms, Perm.view_filings, Perm.view_policies,
             Perm.view_payments, Perm.view_dashboard}

ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.village_clerk: frozenset(_ALL_READ | {Perm.edit_households, Perm.export_households, Perm.edit_filings,
                                                  Perm.handle_sms}),
    Role.township_reviewer: frozenset(_ALL_READ | {Perm.export_households, Perm.review_filings}),
    Role.county_reviewer: frozenset(_ALL_READ | {Perm.export_households, Perm.review_filings,
                                                    Perm.manage_payments}),
    Role.county_admin: frozenset(
        _ALL_READ
        | {
            Perm.edit_households,
            Perm.transfer_households,
            Perm.export_households,
            Perm.manage_users,
            Perm.manage_projects,
            Perm.manage_sms,
            Perm.broadcast_sms,
            Perm.handle_sms,
            Perm.view_audit,
            Perm.manage_watchlist,
            Perm.manage_policies,
        }
    ),
    # Supervisors read everything in their region and change nothing (DESIGN.md §1).
    Role.supervisor: frozenset(_ALL_READ | {Perm.view_audit, Perm.export_households}),
}


# Cases (issue 5): every staff tier takes and handles cases; townships and the county read the
# completion figures; the county admin keeps the working-day calendar; supervisors read, rank
# and issue 督办, and change nothing else.
_CASE_WORK = {Perm.view_cases, Perm.handle_cases, Perm.record_cases}
_CASE_GRANTS: dict[Role, set[Perm]] = {
    Role.village_clerk: _CASE_WORK,
    Role.township_reviewer: _CASE_WORK | {Perm.view_case_stats},
    Role.county_reviewer: _CASE_WORK | {Perm.view_case_stats},
    Role.county_admin: _CASE_WORK | {Perm.view_case_stats, Perm.manage_calendar},
    Role.supervisor: {Perm.view_cases, Perm.escalate_cases, Perm.view_case_stats},
}
ROLE_PERMS = {role: perms | _CASE_GRANTS.get(role, set()) for role, perms in ROLE_PERMS.items()}


def can(actor, perm: Perm) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and perm in ROLE_PERMS[actor.role]


def require(actor, perm: Perm) -> None:
    if not can(actor, perm):
        raise PermissionDenied("您的角色无权进行此操作")
