"""Who may do what: one table from role to permissions (docs/design.md "People"), and the decorator that
declares and checks the permission of every public service function.

Region is the other half of every check and lives in `subsidy.regions.scope`. A permission
says what kind of act a role may do at all; the state machines say in which state, at which
tier (`subsidy.common.statemachine`); the scope says on which objects.

Every public service function that takes the acting user as `actor` declares its permission:

    @requires(Perm.edit_filings)
    def add_entry(actor, filing_id, …): …

or says, with `exempt`, why it checks otherwise (the farmer's functions, which take no staff
user; a reader open to every role in its region; one whose check depends on the object). A
test walks every service module and fails on a function that does neither
(tests/test_permissions.py), so a new one cannot forget.
"""
from __future__ import annotations

import enum
import functools
import inspect

from subsidy.accounts.models import Role
from subsidy.errors import PermissionDenied


class Perm(enum.Enum):
    # The register
    view_register = "view_register"
    edit_households = "edit_households"
    transfer_households = "transfer_households"  # 迁户 between villages (the city's: between counties)
    export_households = "export_households"
    # Accounts, projects, the audit log
    manage_users = "manage_users"
    manage_projects = "manage_projects"
    view_projects = "view_projects"
    view_audit = "view_audit"
    manage_subsidy_types = "manage_subsidy_types"  # the city's subsidy catalogue (补贴目录)
    # SMS
    view_sms = "view_sms"
    manage_sms = "manage_sms"            # pause and resume a county's sending
    broadcast_sms = "broadcast_sms"
    handle_sms = "handle_sms"            # resend a failed SMS, record a farmer's opt-out (退订)
    # Filing and review (the state machine says which tier acts in which state)
    view_filings = "view_filings"
    edit_filings = "edit_filings"        # the village's list and its publicity
    review_filings = "review_filings"
    manage_watchlist = "manage_watchlist"
    # Benefit policies
    view_policies = "view_policies"
    manage_policies = "manage_policies"
    # Disbursement and the supervision dashboard
    view_payments = "view_payments"
    manage_payments = "manage_payments"  # batches, bank files, re-issue, receipt checks
    view_dashboard = "view_dashboard"
    # Cases
    view_cases = "view_cases"
    handle_cases = "handle_cases"
    record_cases = "record_cases"
    escalate_cases = "escalate_cases"    # 督办
    view_case_stats = "view_case_stats"
    manage_calendar = "manage_calendar"  # time limits and the working-day calendar
    # Supervision with consequences (docs/design.md "Supervision with consequences")
    hold_entries = "hold_entries"        # 止付 and its release
    view_accountability = "view_accountability"
    record_accountability = "record_accountability"  # 问责 decisions
    view_recoveries = "view_recoveries"
    manage_recoveries = "manage_recoveries"  # 追回 and repayments; proposing a 核销
    approve_write_offs = "approve_write_offs"  # 核销, by someone other than who proposed it
    # 实物补贴 (docs/design.md "Material subsidies")
    manage_stock = "manage_stock"        # 入库 into the township's store
    record_pickups = "record_pickups"    # 领取签收 of a village's households
    # The city's assessment of its counties (考核, docs/design.md "Assessment")
    view_assessment = "view_assessment"
    manage_assessment = "manage_assessment"  # the weights of the figures


P = Perm
# The one table, written out in full: every role's permissions, nothing computed.
ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.village_clerk: frozenset({
        P.view_register, P.edit_households, P.export_households, P.view_projects, P.view_sms, P.handle_sms,
        P.view_filings, P.edit_filings, P.view_policies, P.view_payments, P.view_dashboard,
        P.view_cases, P.handle_cases, P.record_cases, P.view_accountability, P.record_pickups,
    }),
    Role.township_reviewer: frozenset({
        P.view_register, P.export_households, P.view_projects, P.view_sms,
        P.view_filings, P.review_filings, P.view_policies, P.view_payments, P.view_dashboard,
        P.view_cases, P.handle_cases, P.record_cases, P.view_case_stats, P.view_accountability, P.manage_stock,
    }),
    Role.county_reviewer: frozenset({
        P.view_register, P.export_households, P.view_projects, P.view_sms,
        P.view_filings, P.review_filings, P.view_policies, P.view_payments, P.manage_payments, P.view_dashboard,
        P.view_cases, P.handle_cases, P.record_cases, P.view_case_stats, P.hold_entries, P.view_accountability,
        P.view_recoveries, P.manage_recoveries, P.approve_write_offs,
    }),
    Role.county_admin: frozenset({
        P.view_register, P.edit_households, P.transfer_households, P.export_households, P.manage_users,
        P.view_projects, P.manage_projects, P.view_audit, P.view_sms, P.manage_sms, P.broadcast_sms, P.handle_sms,
        P.view_filings, P.manage_watchlist, P.view_policies, P.manage_policies, P.view_payments, P.view_dashboard,
        P.view_cases, P.handle_cases, P.record_cases, P.view_case_stats, P.manage_calendar, P.view_accountability,
        P.view_recoveries,
    }),
    # Supervisors read everything in their region and change nothing but 督办, 止付 and 问责
    # (docs/design.md "People", "Supervision with consequences").
    Role.supervisor: frozenset({
        P.view_register, P.export_households, P.view_projects, P.view_audit, P.view_sms,
        P.view_filings, P.view_policies, P.view_payments, P.view_dashboard,
        P.view_cases, P.escalate_cases, P.view_case_stats, P.hold_entries, P.view_accountability,
        P.record_accountability, P.view_recoveries, P.approve_write_offs,
    }),
    # The city tier reads what serves a prefecture's code (a page never offers what the service
    # refuses): every county's rows of the city, through the same ranges (docs/design.md
    # "Jurisdiction"). It writes only what is the city's own: the city admin creates the
    # counties' admins and supervisors, keeps the subsidy catalogue, publishes city-wide policies
    # and moves households across its counties (迁户, so it reads the register it moves); the city
    # supervisor answers the complaints about a county's own staff routed to the city (纪检
    # handles complaints about officials), issues 督办 to every county's handling units and
    # records 问责 decisions about the city's officials, a county's own among them.
    Role.city_admin: frozenset({
        P.manage_users, P.view_projects, P.manage_subsidy_types, P.view_policies, P.manage_policies,
        P.view_audit, P.view_register, P.transfer_households, P.view_dashboard, P.view_assessment,
        P.manage_assessment,
    }),
    Role.city_supervisor: frozenset({
        P.view_register, P.view_projects, P.view_audit, P.view_sms, P.view_filings, P.view_policies,
        P.view_payments, P.view_cases, P.handle_cases, P.escalate_cases, P.view_case_stats,
        P.view_accountability, P.record_accountability, P.view_recoveries, P.view_dashboard, P.view_assessment,
    }),
}


def can(actor, perm: Perm) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False) and perm in ROLE_PERMS[actor.role]


def require(actor, perm: Perm) -> None:
    if not can(actor, perm):
        raise PermissionDenied("您的角色无权进行此操作")


def holders(perm: Perm) -> list[Role]:
    """The roles that hold `perm` (for messages: "须由乡镇审核员操作")."""
    return [role for role, perms in ROLE_PERMS.items() if perm in perms]


def _actor_position(fn) -> int:
    names = list(inspect.signature(fn).parameters)
    if "actor" not in names:
        raise TypeError(f"{fn.__qualname__}: a permission is declared on a function of an `actor`")
    return names.index("actor")


def requires(perm: Perm):
    """Declare, and check before anything else runs, the permission `perm` of the function's
    `actor` (a 403 for an actor without it)."""

    def decorate(fn):
        position = _actor_position(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            actor = kwargs["actor"] if "actor" in kwargs else (args[position] if len(args) > position else None)
            require(actor, perm)
            return fn(*args, **kwargs)

        wrapper.permission = perm
        return wrapper

    return decorate


def exempt(why: str):
    """Declare that the function checks its actor otherwise, and why (read by the test that
    walks the services, and by the next developer)."""
    if not why.strip():
        raise ValueError("say why")

    def decorate(fn):
        _actor_position(fn)
        fn.permission = None
        fn.exempt = why
        return fn

    return decorate
