"""工作台: what waits for the signed-in staff user, with counts and where to act on it.

Each block below is a few set-based queries (counts with GROUP BY, a short list of the oldest
rows) over the actor's region (`subsidy.regions.scope.within`), and is shown to the roles whose
permissions let them act on it (docs/architecture.md "Permissions"): the village files and
publicizes (docs/design.md "Three-level filing and review"), the reviewers' queue is the states
the filing table says wait for their tier (`waiting_states`), units handle their cases before
the deadline and a supervisor escalates those past it (docs/design.md "Cases"), the county
reviewer exports batches, imports the bank's results and re-issues failures (docs/design.md
"Payments"), permanent SMS failures are shown to the clerk (docs/design.md "SMS").

An item is a count, a title and the page where the work is done (`endpoint`, `args`), with up
to `ROWS` rows of its oldest cases, each with its own link. The template builds the URLs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, can, exempt
from subsidy.common.labels import _l
from subsidy.common.timeutil import utcnow
from subsidy.extensions import db
from subsidy.regions.scope import county_scope, within

ROWS = 5  # rows listed under an item; the link leads to the rest
DUE_SOON = timedelta(days=2)  # an open case whose deadline falls within this is "due soon"


@dataclass
class Row:
    text: str
    endpoint: str
    args: dict
    note: str = ""
    at: datetime | None = None
    at_label: str = ""  # what `at` is ("期限"); nothing: when it happened


@dataclass
class Item:
    key: str  # stable name (the page's element id: work-<key>)
    title: str
    count: int
    endpoint: str
    args: dict = field(default_factory=dict)
    tone: str = ""  # "danger" (late or failed), "warning" (soon), "" (to do)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # sentences (calendar warnings)


@exempt("the home page of every role: each block below is gated by the permission of its own work")
def waiting_work(actor, now: datetime | None = None) -> list[Item]:
    """Every item waiting for `actor`, in the order a day's work takes them; items with
    nothing waiting are left out (an empty list: nothing waits)."""
    now = now or utcnow()
    items: list[Item] = []
    if can(actor, Perm.edit_filings):
        items += _village_filings(actor, now)
    if can(actor, Perm.review_filings):
        items += _review_queue(actor)
    if can(actor, Perm.handle_cases):
        items += _unit_cases(actor, now)
    if can(actor, Perm.escalate_cases):
        items += _cases_to_escalate(actor, now)
    if can(actor, Perm.manage_payments):
        items += _payments(actor)
    if can(actor, Perm.approve_write_offs) or can(actor, Perm.manage_recoveries):
        items += _supervision(actor)
    if can(actor, Perm.handle_sms):
        items += _sms_failures(actor)
    if can(actor, Perm.manage_users):
        items += _accounts(actor)
    if can(actor, Perm.manage_calendar):
        items += _calendar(actor)
    if can(actor, Perm.view_audit):
        items += _risk_flags(actor)
    return [i for i in items if i.count or i.notes]


# --- supervision with consequences (docs/design.md "Supervision with consequences") -------------

def _supervision(actor) -> list[Item]:
    """Write-offs waiting for a second person (never the actor's own), and open recoveries."""
    from subsidy.recoveries.models import Recovery, RecoveryState, WriteOff, WriteOffState

    items = []
    if can(actor, Perm.approve_write_offs):
        waiting = db.session.scalar(sa.select(sa.func.count()).select_from(WriteOff).where(
            within(WriteOff.region_code, actor.region_code), WriteOff.state == WriteOffState.proposed,
            WriteOff.proposed_by != actor.id))
        items.append(Item("write_offs", _l("待我审批的核销"), int(waiting or 0), "recoveries.write_offs",
                          {"state": WriteOffState.proposed.value}, tone="warning"))
    if can(actor, Perm.manage_recoveries):
        open_ = db.session.scalar(sa.select(sa.func.count()).select_from(Recovery).where(
            within(Recovery.region_code, actor.region_code), Recovery.state == RecoveryState.open))
        items.append(Item("recoveries", _l("尚未追回完毕的款项"), int(open_ or 0), "recoveries.index",
                          {"state": RecoveryState.open.value}))
    return items


# --- filings ----------------------------------------------------------------------------------

def _filing_text(project_name: str, year: int, village: str) -> str:
    return f"{year} {project_name} · {village}"


def _filing_rows(where: list, order, limit: int = ROWS) -> list[tuple]:
    from subsidy.filings.models import Filing
    from subsidy.projects.models import Project
    from subsidy.regions.models import Region

    return db.session.execute(
        sa.select(Filing.id, Project.name, Project.year, Region.name, Filing.state_changed_at,
                  Filing.publicity_ends_at)
        .join(Project, Project.id == Filing.project_id).join(Region, Region.code == Filing.region_code)
        .where(*where).order_by(*order).limit(limit)).all()


def _returned(region_code: str) -> list:
    """Drafts under `region_code` sent back (退回) and not acted on since: the filings area's own
    rule (`filings.service.returned_condition`), so the home page and the filing lists agree."""
    from subsidy.filings.models import Filing, FilingState
    from subsidy.filings.service import returned_condition

    return [within(Filing.region_code, region_code), Filing.state == FilingState.draft, returned_condition()]


def latest_returns(region_code: str, limit: int = ROWS) -> tuple[int, list[tuple]]:
    """How many filings under `region_code` wait, returned, in the village, and the oldest
    `limit` as (filing id, project, year, village, reason, who, tier, when)."""
    from subsidy.filings.models import Filing, Review
    from subsidy.projects.models import Project
    from subsidy.regions.models import Region

    where = _returned(region_code)
    count = int(db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(*where)) or 0)
    if not count or not limit:
        return count, []
    latest = (sa.select(sa.func.max(Review.id)).where(Review.filing_id == Filing.id)
              .correlate(Filing).scalar_subquery())
    rows = db.session.execute(
        sa.select(Filing.id, Project.name, Project.year, Region.name, Review.comment, Review.actor_name,
                  Review.tier, Review.at)
        .join(Review, Review.id == latest)
        .join(Project, Project.id == Filing.project_id).join(Region, Region.code == Filing.region_code)
        .where(*where).order_by(Review.at, Filing.id).limit(limit)).all()
    return count, rows


def _village_filings(actor, now: datetime) -> list[Item]:
    from subsidy.filings.models import Filing, FilingState

    S = FilingState
    scope = within(Filing.region_code, actor.region_code)
    counts = dict(db.session.execute(
        sa.select(Filing.state, sa.func.count()).where(scope, Filing.state.in_([S.draft, S.publicizing]))
        .group_by(Filing.state)).all())
    over = [scope, Filing.state == S.publicizing, Filing.publicity_ends_at <= now]
    n_over = int(db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(*over)) or 0)
    n_returned, returned = latest_returns(actor.region_code)
    drafts = [scope, Filing.state == S.draft, ~_returned(actor.region_code)[-1]]
    n_drafts = int(counts.get(S.draft, 0)) - n_returned
    return [
        Item("returned", _l("被退回的备案（请按意见修改后重新公示）"), n_returned, "filings.index",
             {"state": S.draft.value}, tone="danger",
             rows=[Row(_filing_text(name, year, village), "filings.show", {"filing_id": fid},
                       note=f"{tier.label}{_l('退回')}（{who}）：{reason}", at=at)
                   for fid, name, year, village, reason, who, tier, at in returned]),
        Item("to_publicize", _l("草稿待公示"), n_drafts, "filings.index", {"state": S.draft.value},
             rows=[Row(_filing_text(r[1], r[2], r[3]), "filings.show", {"filing_id": r[0]}, at=r[4])
                   for r in _filing_rows(drafts, (Filing.state_changed_at, Filing.id))] if n_drafts > 0 else []),
        Item("to_file", _l("公示期满，待村级备案"), n_over, "filings.index", {"state": S.publicizing.value},
             rows=[Row(_filing_text(r[1], r[2], r[3]), "filings.show", {"filing_id": r[0]},
                       at=r[5], at_label=_l("公示截止"))
                   for r in _filing_rows(over, (Filing.publicity_ends_at, Filing.id))]),
        Item("publicizing", _l("公示中"), int(counts.get(S.publicizing, 0)) - n_over, "filings.index",
             {"state": S.publicizing.value}),
    ]


def _review_queue(actor) -> list[Item]:
    from subsidy.filings.models import Filing
    from subsidy.filings.workflow import waiting_states

    states = waiting_states(actor)
    if not states:
        return []
    where = [within(Filing.region_code, actor.region_code), Filing.state.in_(states)]
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Filing).where(*where))
    return [Item("to_review", _l("待我审核的备案"), int(count or 0), "filings.queue",
                 rows=[Row(_filing_text(r[1], r[2], r[3]), "filings.show", {"filing_id": r[0]}, at=r[4])
                       for r in _filing_rows(where, (Filing.state_changed_at, Filing.id))])]


# --- cases ------------------------------------------------------------------------------------

def _case_rows(where: list) -> list[Row]:
    from subsidy.cases.models import Case

    return [Row(f"{c.ref_no} {c.kind.label} · {c.subject}", "cases.show", {"case_id": c.id},
                note=c.region.name, at=c.due_at, at_label=_l("期限"))
            for c in db.session.scalars(sa.select(Case).where(*where).order_by(Case.due_at, Case.id).limit(ROWS))]


def _unit_cases(actor, now: datetime) -> list[Item]:
    """Open cases the actor's unit handles (or that were escalated to it): overdue and due soon."""
    from subsidy.cases.models import Case
    from subsidy.cases.queries import visible_condition
    from subsidy.cases.workflow import OPEN_STATES

    mine = [visible_condition(actor), Case.state.in_(OPEN_STATES),
            sa.or_(Case.assigned_region_code == actor.region_code, Case.escalated_to_code == actor.region_code)]
    late = Case.due_at < now
    soon = sa.and_(Case.due_at >= now, Case.due_at < now + DUE_SOON)
    row = db.session.execute(sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((late, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((soon, 1), else_=0)), 0)).where(*mine)).one()
    total, n_late, n_soon = int(row[0]), int(row[1]), int(row[2])
    return [
        Item("cases_overdue", _l("超期未办结的诉求"), n_late, "cases.index", {"scope": "mine", "overdue": "1"},
             tone="danger", rows=_case_rows([*mine, late]) if n_late else []),
        Item("cases_due_soon", _l("两天内到期的诉求"), n_soon, "cases.index", {"scope": "mine"}, tone="warning",
             rows=_case_rows([*mine, soon]) if n_soon else []),
        Item("cases_open", _l("本单位在办诉求"), total, "cases.index", {"scope": "mine"}),
    ]


def _cases_to_escalate(actor, now: datetime) -> list[Item]:
    """Overdue cases the supervisor may escalate (督办): the states the case table lets them act in."""
    from subsidy.cases.models import Case
    from subsidy.cases.queries import visible_condition
    from subsidy.cases.workflow import MACHINE, Action

    states = MACHINE.states_acting(actor, [Action.escalate])
    if not states:
        return []
    where = [visible_condition(actor), Case.state.in_(states), Case.due_at < now]
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(*where))
    return [Item("to_escalate", _l("超期诉求，可督办"), int(count or 0), "cases.index",
                 {"scope": "all", "overdue": "1"}, tone="danger", rows=_case_rows(where) if count else [])]


# --- payments ---------------------------------------------------------------------------------

def _payments(actor) -> list[Item]:
    """Open batches (to export, or exported and waiting for the bank's results), approved entries
    not yet in a batch, failed payments waiting to be re-issued."""
    from subsidy.payments.models import BatchStatus, PaymentBatch
    from subsidy.payments.service import projects_with_approved
    from subsidy.projects.models import Project

    batches = db.session.execute(
        sa.select(PaymentBatch.id, Project.name, PaymentBatch.payment_count, PaymentBatch.created_at,
                  PaymentBatch.exported_at)
        .join(Project, Project.id == PaymentBatch.project_id)
        .where(within(PaymentBatch.county_code, county_scope(actor.region_code)),
               PaymentBatch.status == BatchStatus.open)
        .order_by(PaymentBatch.id)).all()

    def rows(of):
        return [Row(f"{_l('批次')} {bid} · {name}", "payments.batch", {"batch_id": bid},
                    note=f"{n} {_l('笔')}", at=exported or created) for bid, name, n, created, exported in of[:ROWS]]

    to_export = [b for b in batches if b.exported_at is None]
    to_reconcile = [b for b in batches if b.exported_at is not None]
    projects = projects_with_approved(actor)
    waiting = [(p, todo) for p, todo, _f in projects if todo]
    failed = [(p, n) for p, _t, n in projects if n]
    return [
        Item("batches_to_export", _l("待导出的发放批次"), len(to_export), "payments.index", rows=rows(to_export)),
        Item("batches_to_reconcile", _l("已导出、待导入回盘的批次"), len(to_reconcile), "payments.index",
             rows=rows(to_reconcile)),
        Item("to_batch", _l("已审定、待生成发放批次的农户"), sum(n for _p, n in waiting), "payments.index",
             rows=[Row(f"{p.year} {p.name}", "payments.new_batch", {"project_id": p.id}, note=f"{n} {_l('户')}")
                   for p, n in waiting[:ROWS]]),
        Item("payments_failed", _l("发放失败、待重新发放"), sum(n for _p, n in failed), "payments.failed",
             tone="danger",
             rows=[Row(f"{p.year} {p.name}", "payments.failed", {"project_id": p.id}, note=f"{n} {_l('笔')}")
                   for p, n in failed[:ROWS]]),
    ]


# --- SMS, accounts, calendar ------------------------------------------------------------------

def _sms_failures(actor) -> list[Item]:
    """Messages not sent and not yet resent, by template: what the clerk (and the county) fixes."""
    from subsidy.notify.models import Message
    from subsidy.notify.service import PROBLEM_STATUSES
    from subsidy.notify.templates import NOT_RESENDABLE, TEMPLATES

    by_template = db.session.execute(
        sa.select(Message.template, sa.func.count())
        .where(within(Message.region_code, actor.region_code), Message.status.in_(PROBLEM_STATUSES),
               Message.replaced_by_id.is_(None), Message.template.not_in(NOT_RESENDABLE))
        .group_by(Message.template).order_by(sa.func.count().desc())).all()
    return [Item("sms_failed", _l("未发出的短信（请核对号码后重发）"), sum(n for _t, n in by_template),
                 "notify.problems", tone="danger",
                 rows=[Row(str(TEMPLATES[t].label) if t in TEMPLATES else t, "notify.messages",
                           {"template": t}, note=f"{n} {_l('条')}") for t, n in by_template[:ROWS]])]


def _accounts(actor) -> list[Item]:
    """Units (townships, villages) with no active account that can handle their cases, and
    handling accounts without a mobile number (they miss the overdue reminders)."""
    from subsidy.accounts.models import User
    from subsidy.cases.escalation import HANDLER_ROLES
    from subsidy.regions.models import Level, Region

    handlers = [User.active.is_(True), User.role.in_(HANDLER_ROLES)]
    staffed = sa.select(User.region_code).where(*handlers, within(User.region_code, actor.region_code))
    empty = db.session.execute(
        sa.select(Region.code, Region.name).where(within(Region.code, actor.region_code),
                                                  # the units that handle cases: not a county, nor a city
                                                  Region.level.in_((Level.township, Level.village)),
                                                  Region.code.not_in(staffed))
        .order_by(Region.code)).all()
    no_phone = db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        *handlers, within(User.region_code, actor.region_code), sa.or_(User.phone.is_(None), User.phone == "")))
    return [
        Item("units_without_staff", _l("没有经办人员账号的乡镇、村（诉求无人办理）"), len(empty), "accounts.new_user",
             tone="warning", rows=[Row(f"{name}（{code}）", "accounts.new_user", {}) for code, name in empty[:ROWS]]),
        Item("staff_without_phone", _l("未登记手机号码的经办人员（收不到超期提醒）"), int(no_phone or 0),
             "accounts.users", tone="warning"),
    ]


def _calendar(actor) -> list[Item]:
    from subsidy.cases.deadlines import calendar_warnings

    notes = calendar_warnings(actor)
    return [Item("calendar", _l("工作日历提醒"), len(notes), "cases.calendar", tone="warning", notes=notes)]


def _risk_flags(actor) -> list[Item]:
    """Lists under review with risk flags no reviewer has noted this round (the dashboard's
    open flags), per filing, most flags first."""
    from subsidy.filings.models import EntryFlag, EntryNote, Filing
    from subsidy.projects.models import Project
    from subsidy.regions.models import Region
    from subsidy.stats.queries import OPEN_FLAG_STATES

    noted = sa.exists(sa.select(EntryNote.id).where(EntryNote.entry_id == EntryFlag.entry_id,
                                                    EntryNote.round == Filing.round))
    per_filing = (sa.select(Filing.id.label("filing_id"), sa.func.count().label("flags"))
                  .select_from(EntryFlag).join(Filing, Filing.id == EntryFlag.filing_id)
                  .where(within(Filing.region_code, actor.region_code), Filing.state.in_(OPEN_FLAG_STATES), ~noted)
                  .group_by(Filing.id).subquery())
    count = db.session.scalar(sa.select(sa.func.count()).select_from(per_filing))
    rows = db.session.execute(
        sa.select(Filing.id, Project.name, Project.year, Region.name, per_filing.c.flags, Filing.state)
        .join(per_filing, per_filing.c.filing_id == Filing.id)
        .join(Project, Project.id == Filing.project_id).join(Region, Region.code == Filing.region_code)
        .order_by(per_filing.c.flags.desc(), Filing.id).limit(ROWS)).all() if count else []
    return [Item("risk_flagged", _l("有未核实风险提示的备案"), int(count or 0), "stats.dashboard", tone="warning",
                 rows=[Row(_filing_text(name, year, village), "filings.show", {"filing_id": fid},
                           note=f"{state.label} · {flags} {_l('条风险提示')}")
                       for fid, name, year, village, flags, state in rows])]
