"""督办: overdue cases escalated by the nightly command, and a supervisor's 督办 with a note
(docs/design.md "Cases"). Also closes replied cases left unrated for 7 days.

`run_escalation` is idempotent: a case is escalated once per deadline — the UPDATE only takes
cases not yet marked overdue (`overdue_at IS NULL`) and returns the ones it took, so a second
run the same day, or a run in parallel, finds nothing to do. Reopening a case gives it a new
deadline and clears the mark, so a reopened case that runs late again is escalated again.
Reminders go to the handling unit's staff with a mobile number on their account, one SMS each
under a key naming the case and its deadline; a unit with no such user gets one `failed` row
("无手机号码") in the outbox, so the gap is visible."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from subsidy.accounts.models import User
from subsidy.accounts.permissions import holders, requires
from subsidy.audit import service as audit
from subsidy.cases import routing, workflow
from subsidy.cases.calendar import local_date, start_of_local_day
from subsidy.cases.deadlines import recompute_provisional_deadlines
from subsidy.cases.models import Case
from subsidy.cases.queries import get_case
from subsidy.cases.workflow import Action, perm_of
from subsidy.common.timeutil import utcnow
from subsidy.errors import ValidationError
from subsidy.extensions import db
from subsidy.notify import outbox
from subsidy.regions.models import Region
from subsidy.regions.scope import WIDTHS, ancestors, normalize_code

UNRATED_CLOSE_DAYS = 7
# Reminded: the staff of the handling unit who may reply (the roles the reply row names).
HANDLER_ROLES = tuple(holders(perm_of(Action.reply)))


@dataclass
class EscalationResult:
    escalated: int
    reminders: int
    closed: int
    deadlines_recomputed: int = 0

    def __str__(self) -> str:
        return (f"escalated {self.escalated} overdue case(s), {self.reminders} reminder SMS, closed {self.closed} "
                f"unrated case(s), {self.deadlines_recomputed} provisional deadline(s) recomputed")


def _tier_above_sql(column):
    """SQL twin of `routing.tier_above`: each width's parent width (village → township →
    county → city), when the parent's row exists; the city, and a unit with no parent row,
    stay where they are."""
    whens = []
    for parent, child in zip(WIDTHS, WIDTHS[1:], strict=False):
        if parent < routing.TOP_WIDTH:
            continue
        up = sa.func.substr(column, 1, parent)
        whens.append((sa.and_(sa.func.length(column) == child,
                              sa.exists().where(Region.code == up)), up))
    return sa.case(*whens, else_=column)


def _remind(cases: list[tuple[int, str, str, str]], tag: str) -> int:
    """One reminder per handling unit's user with a phone; [(case id, ref no, unit, key part)]."""
    if not cases:
        return 0
    units = sorted({unit for _, _, unit, _ in cases})
    users: dict[str, list[tuple[int, str]]] = {}
    for i in range(0, len(units), 500):
        for user_id, region_code, phone in db.session.execute(
            sa.select(User.id, User.region_code, User.phone).where(
                User.region_code.in_(units[i:i + 500]), User.active.is_(True), User.role.in_(HANDLER_ROLES),
                User.phone.is_not(None), User.phone != "")
        ):
            users.setdefault(region_code, []).append((user_id, phone))
    rows = []
    for case_id, ref_no, unit, part in cases:
        recipients = users.get(unit) or [("unit", None)]
        for user_id, phone in recipients:
            rows.append({"key": f"case_reminder:{case_id}:{tag}:{part}:{user_id}", "phone": phone, "region_code": unit,
                         "context": {"ref_no": ref_no}, "case_id": case_id})
    return outbox.enqueue_bulk("case_reminder", rows)


def run_escalation(now: datetime | None = None) -> EscalationResult:
    """The cron job `flask cases escalate`: see the module docstring."""
    now = now or utcnow()
    # First make final any provisional deadline whose year the calendar now knows (an upgraded
    # package), so that what is found overdue below is judged against the final deadline.
    recomputed = sum(r.changed for r in recompute_provisional_deadlines().values())
    # "The day after the deadline": due_at is 23:59:59 China time of the last day allowed, so
    # every case due before today's local midnight is overdue today.
    cutoff = start_of_local_day(local_date(now))
    escalated = workflow.apply_bulk(
        Action.escalate, [Case.due_at < cutoff, Case.overdue_at.is_(None)],
        {"overdue_at": now, "escalated_to_code": _tier_above_sql(Case.assigned_region_code),
         "escalation_count": Case.escalation_count + 1},
        note="超过办理期限，系统自动督办", now=now)
    reminders = 0
    if escalated:
        ids = [case_id for case_id, _ in escalated]
        rows = []
        for i in range(0, len(ids), 500):
            rows.extend(db.session.execute(
                sa.select(Case.id, Case.ref_no, Case.assigned_region_code, Case.due_at)
                .where(Case.id.in_(ids[i:i + 500]))
            ).all())
        reminders = _remind([(r.id, r.ref_no, r.assigned_region_code, local_date(r.due_at).isoformat()) for r in rows],
                            "overdue")
        audit.record_many(None, [("case.escalate", "case", case_id, region, {"auto": True})
                                 for case_id, region in escalated])

    closed = workflow.apply_bulk(
        Action.close_unrated, [Case.rating.is_(None), Case.replied_at < now - timedelta(days=UNRATED_CLOSE_DAYS)],
        {"closed_at": now}, note=f"答复后 {UNRATED_CLOSE_DAYS} 天未评价，自动归档", now=now)
    if closed:
        audit.record_many(None, [("case.close", "case", case_id, region, {"unrated": True})
                                 for case_id, region in closed])
    db.session.flush()
    return EscalationResult(len(escalated), reminders, len(closed), recomputed)


@requires(perm_of(Action.escalate))
def escalate_case(actor, case_id: int, reason: str, region_code: str | None = None) -> Case:
    """A supervisor's 督办 with a note: the case goes on the queue of the unit above its
    handling unit (or of `region_code`: a unit above it up to the city, or the handling unit
    itself when it is the top) and the handling unit is reminded (a city supervisor's 督办 on
    a township's case reaches that township's handlers)."""
    case = get_case(actor, case_id)
    note = (reason or "").strip()
    if not note:
        raise ValidationError("请填写督办意见", fields={"reason": "请填写督办意见"})
    if len(note) > 1000:
        raise ValidationError("督办意见太长", fields={"reason": "不超过 1000 字"})
    workflow.check(case, Action.escalate)
    target = routing.tier_above(case.assigned_region_code)
    if region_code:
        target = normalize_code(region_code)
        above = [code for code in ancestors(case.assigned_region_code) if len(code) >= routing.TOP_WIDTH]
        allowed = {routing.tier_above(case.assigned_region_code)} | {
            code for code in above if db.session.get(Region, code) is not None}
        if target not in allowed:
            raise ValidationError("督办单位应为承办单位的上级", fields={"region_code": "请选择承办单位的上级单位"})
    event = workflow.apply(case, Action.escalate, actor=actor, note=note, from_region=case.assigned_region_code,
                           to_region=target, values={"escalated_to_code": target,
                                                     "escalation_count": Case.escalation_count + 1})
    _remind([(case.id, case.ref_no, case.assigned_region_code, str(event.id))], "manual")
    audit.record(actor, "case.escalate", "case", case.id, region_code=case.region_code, target=target, note=note)
    return case
