"""追回 (recovery), 还款 (repayment) and 核销 (write-off): docs/design.md "Supervision with
consequences".

- A recovery is money a household must give back, for one paid entry: created by hand by the
  county reviewer (never more than was paid for the entry, less what other recoveries already
  claim) or by a correction; the household is told by SMS the amount and how to repay.
- Repayments are recorded by the county (amount, date, receipt number, how); the recovery is
  `recovered` when repaid in full (RECOVERIES, internal).
- A write-off is proposed by a county reviewer with a reason and approved by a different
  county-level user (a supervisor or another reviewer): a payment that failed for good (it is
  then never re-issued, and its entry counts as settled for the filing's 已发放) or the balance
  of a recovery that cannot be collected (the recovery becomes `written_off`), or goods a
  household will never collect (subsidy.materials.write_offs proposes those).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.labels import Labelled, _l
from subsidy.common.money import fmt, parse_amount, quantize
from subsidy.common.pagination import Page, paginate
from subsidy.common.statemachine import Machine, Rule
from subsidy.common.text import single_line
from subsidy.common.timeutil import local_today, utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing
from subsidy.households.models import Household
from subsidy.payments.models import Payment, PaymentStatus
from subsidy.recoveries.models import (
    Recovery,
    RecoveryState,
    Repayment,
    RepaymentMethod,
    WriteOff,
    WriteOffKind,
    WriteOffState,
)
from subsidy.regions.models import Level
from subsidy.regions.scope import ensure_visible, get_visible, within
from subsidy.regions.service import county_only_code

R, W = RecoveryState, WriteOffState


class RecoveryAction(Labelled):
    repaid = "repaid", _l("还清")
    written_off = "written_off", _l("核销")


class WriteOffAction(Labelled):
    approve = "approve", _l("审批核销")


@exempt("a guard of WRITE_OFFS' approve row, whose permission (approve_write_offs) is checked first")
def not_the_proposer(actor, write_off: WriteOff) -> None:
    if write_off.proposed_by == actor.id:
        raise PermissionDenied("核销须由提出人以外的县级审核员或监督员审批，本人不能审批自己提出的核销")


RECOVERIES = Machine("recovery", state=Recovery.state, noun="追回", rules=[
    Rule(RecoveryAction.repaid, (R.open,), R.recovered, internal=True),
    Rule(RecoveryAction.written_off, (R.open,), R.written_off, internal=True),
])
WRITE_OFFS = Machine("write_off", state=WriteOff.state, noun="核销", rules=[
    Rule(WriteOffAction.approve, (W.proposed,), W.approved, perm=Perm.approve_write_offs, tier=Level.county,
         guards=(not_the_proposer,)),
])


def _county(actor) -> str:
    if actor.tier != Level.county:
        raise PermissionDenied("追回和核销由县级办理")
    return county_only_code(actor)


def _text(value, label: str, field: str, limit: int) -> str:
    try:
        return single_line(value, label=label, limit=limit, required=True)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={field: str(exc)}) from None


def reason_text(value) -> str:
    """A write-off's reason: required, one line."""
    return _text(value, "核销原因", "reason", 500)


def _money(value, field: str, label: str = "金额") -> Decimal:
    if value in (None, ""):
        raise ValidationError(f"请填写{label}", fields={field: f"请填写{label}"})
    try:
        amount = parse_amount(value, label=label)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={field: str(exc)}) from None
    if amount <= 0:
        raise ValidationError(f"{label}应大于 0", fields={field: f"{label}应大于 0"})
    return amount


def paid_for(entry_id: int) -> Decimal:
    return quantize(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Payment.amount), 0)).where(
        Payment.entry_id == entry_id, Payment.status == PaymentStatus.paid)))


def claimed_for(entry_id: int) -> Decimal:
    """What recoveries of the entry already ask back."""
    return quantize(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Recovery.amount_due), 0)).where(
        Recovery.entry_id == entry_id)))


# --- recoveries ---------------------------------------------------------------------------------

@requires(Perm.manage_recoveries)
def create_recovery(actor, entry_id, amount, reason: str, *, source: str = "manual") -> Recovery:
    _county(actor)
    entry = db.session.get(Entry, entry_id) if str(entry_id or "").isdigit() else None
    filing = db.session.get(Filing, entry.filing_id) if entry is not None else None
    if filing is None:
        raise ValidationError("名单中没有这一户", fields={"entry_id": "名单中没有这一户"})
    ensure_visible(actor, filing.region_code, "备案")
    text = _text(reason, "原因", "reason", 500)
    due = _money(amount, "amount")
    paid = paid_for(entry.id)
    if paid == 0:
        raise Conflict("该户这笔补贴尚未发放成功，不需要追回；未发放的请止付", code="not_paid")
    room = paid - claimed_for(entry.id)
    if due > room:
        raise ValidationError(
            f"追回金额超过可追回的 {fmt(room)} 元（已发放 {fmt(paid)} 元，已登记追回 {fmt(paid - room)} 元）",
            fields={"amount": f"不能超过 {fmt(room)} 元"})
    return _record(actor, filing, entry, due, text, source)


@exempt("taken by the county's approval of a correction (filings.workflow), which checks its own rule")
def record_for_correction(actor, filing: Filing, entry: Entry, due: Decimal, reason: str) -> Recovery:
    """A paid entry a correction removed or reduced owes back what was paid beyond its new amount."""
    return _record(actor, filing, entry, due, f"更正审定：{reason}" if reason else "更正审定后多发部分", "correction")


def _record(actor, filing: Filing, entry: Entry, due: Decimal, reason: str, source: str) -> Recovery:
    recovery = Recovery(county_code=filing.region_code[:6], region_code=filing.region_code,
                        household_id=entry.household_id, entry_id=entry.id, filing_id=filing.id, amount_due=due,
                        reason=reason, source=source, created_by=actor.id)
    db.session.add(recovery)
    db.session.flush()
    household = db.session.get(Household, entry.household_id)
    from subsidy.notify.outbox import enqueue

    enqueue("recovery_due", key=f"recovery_due:{recovery.id}", phone=household.phone, region_code=filing.region_code,
            context={"name": household.head_name, "project": filing.project.name, "amount": fmt(due)},
            household_id=household.id, entry_id=entry.id)
    audit.record(actor, "recovery.create", "recovery", recovery.id, region_code=filing.region_code,
                 entry_id=entry.id, household_id=entry.household_id, amount=due, reason=reason, source=source)
    return recovery


@requires(Perm.view_recoveries)
def get_recovery(actor, recovery_id) -> Recovery:
    return get_visible(actor, Recovery, recovery_id, "追回记录")


@requires(Perm.manage_recoveries)
def add_repayment(actor, recovery_id, amount, paid_on, receipt_no: str, method: str) -> Repayment:
    _county(actor)
    recovery = get_recovery(actor, recovery_id)
    fields = {}
    try:
        money = _money(amount, "amount")
    except ValidationError as exc:
        fields.update(exc.fields)
        money = None
    try:
        day = paid_on if isinstance(paid_on, date) else date.fromisoformat(str(paid_on or "").strip())
        if day > local_today():
            fields["paid_on"] = "缴回日期不能晚于今天"
    except ValueError:
        fields["paid_on"] = "请填写缴回日期（年-月-日）"
    try:
        receipt = _text(receipt_no, "收据编号", "receipt_no", 60)
    except ValidationError as exc:
        fields.update(exc.fields)
    try:
        how = RepaymentMethod(method)
    except ValueError:
        fields["method"] = "请选择缴回方式：现金缴回、一卡通扣回或其他"
    if fields:
        raise ValidationError("还款信息有误", fields=fields)
    if recovery.state != R.open:
        raise Conflict(f"该追回{recovery.state.label}，不能再登记还款", code="invalid_transition")
    if money > recovery.balance:
        raise ValidationError(f"还款金额超过尚欠的 {fmt(recovery.balance)} 元",
                              fields={"amount": f"不能超过 {fmt(recovery.balance)} 元"})
    repayment = Repayment(recovery_id=recovery.id, amount=money, paid_on=day, receipt_no=receipt, method=how,
                          recorded_by=actor.id)
    db.session.add(repayment)
    recovery.amount_recovered = quantize(recovery.amount_recovered + money)
    db.session.flush()
    if recovery.balance == 0:
        _move(recovery, RecoveryAction.repaid)
    audit.record(actor, "recovery.repayment", "recovery", recovery.id, region_code=recovery.region_code,
                 repayment_id=repayment.id, amount=money, paid_on=day.isoformat(), receipt_no=receipt,
                 method=how.value, balance=recovery.balance)
    return repayment


def _move(recovery: Recovery, action: RecoveryAction) -> None:
    rule = RECOVERIES.check(recovery.state, action, internal=True)
    RECOVERIES.claim(recovery.id, rule, source=recovery.state, values={"closed_at": utcnow()})
    db.session.refresh(recovery)


@requires(Perm.view_recoveries)
def list_recoveries(actor, *, region_code: str | None = None, state: str | None = None, page=1,
                    per_page=50) -> Page:
    stmt = sa.select(Recovery).where(within(Recovery.region_code, actor.region_code))
    if region_code:
        ensure_visible(actor, str(region_code), "行政区划")
        stmt = stmt.where(within(Recovery.region_code, str(region_code)))
    if state:
        try:
            stmt = stmt.where(Recovery.state == RecoveryState(state))
        except ValueError:
            raise ValidationError("状态不正确", fields={"state": "open、recovered 或 written_off"}) from None
    return paginate(stmt.order_by(Recovery.id.desc()), page, per_page)


@requires(Perm.manage_recoveries)
def paid_entry(actor, entry_id) -> tuple[Entry, Filing]:
    """The entry a recovery is recorded for, and its filing, within the actor's county."""
    entry = db.session.get(Entry, entry_id) if entry_id else None
    filing = db.session.get(Filing, entry.filing_id) if entry is not None else None
    if filing is None:
        raise NotFound("名单中没有这一户")
    ensure_visible(actor, filing.region_code, "备案")
    return entry, filing


@requires(Perm.view_recoveries)
def write_off_of(actor, recovery_id) -> WriteOff | None:
    recovery = get_recovery(actor, recovery_id)
    return db.session.scalar(sa.select(WriteOff).where(WriteOff.recovery_id == recovery.id))


@requires(Perm.view_recoveries)
def repayments_of(actor, recovery_id) -> list[Repayment]:
    recovery = get_recovery(actor, recovery_id)
    return list(db.session.scalars(sa.select(Repayment).where(Repayment.recovery_id == recovery.id)
                                   .order_by(Repayment.id)))


# --- write-offs ----------------------------------------------------------------------------------

def written_off_payment():
    """SQL: the payment (`Payment.id` of the enclosing query) has a write-off, proposed or
    approved: it is re-issued no more."""
    return sa.exists(sa.select(WriteOff.id).where(WriteOff.payment_id == Payment.id))


def settled_by_write_off():
    """SQL: the entry (`Entry.id` of the enclosing query) had a failed payment written off."""
    return sa.exists(sa.select(WriteOff.id).where(WriteOff.entry_id == Entry.id, WriteOff.kind == WriteOffKind.payment,
                                                  WriteOff.state == W.approved))


@exempt("the shared half of the propose_* functions, which check the permission and what may be written off")
def propose(actor, kind: WriteOffKind, *, amount: Decimal, reason: str, region_code: str, payment_id=None,
            recovery_id=None, entry_id=None, quantity: Decimal | None = None) -> WriteOff:
    """The first person's half of a write-off, for the propose_* functions (which check what
    may be written off): at most one per payment, recovery or entry's goods (the database's
    unique indexes, whatever runs at once)."""
    w = WriteOff(kind=kind, payment_id=payment_id, recovery_id=recovery_id, entry_id=entry_id,
                 county_code=region_code[:6], region_code=region_code, amount=amount, quantity=quantity,
                 reason=reason, proposed_by=actor.id, proposed_at=utcnow())
    db.session.add(w)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict("已提出过核销，请勿重复提出", code="invalid_transition") from None
    audit.record(actor, "write_off.propose", "write_off", w.id, region_code=region_code, kind=kind.value,
                 payment_id=payment_id, recovery_id=recovery_id, entry_id=entry_id, amount=amount,
                 quantity=quantity, reason=reason)
    return w


@requires(Perm.manage_recoveries)
def propose_payment_write_off(actor, payment_id, reason: str) -> WriteOff:
    """A payment that failed for good (the person died, the account cannot be had)."""
    from subsidy.payments.service import latest_failed_select

    _county(actor)
    payment = get_visible(actor, Payment, payment_id, "发放记录")
    text = reason_text(reason)
    if payment.status != PaymentStatus.failed:
        raise Conflict(f"该笔{payment.status_label}，只有发放失败的可以核销", code="invalid_transition")
    if db.session.scalar(sa.select(WriteOff.id).where(WriteOff.payment_id == payment.id)):
        raise Conflict("已提出过核销，请勿重复提出", code="invalid_transition")
    if db.session.scalar(latest_failed_select().where(Payment.id == payment.id)) is None:
        raise Conflict("该户已重新发放过，不能核销这一笔", code="invalid_transition")
    return propose(actor, WriteOffKind.payment, amount=payment.amount, reason=text, region_code=payment.region_code,
                    payment_id=payment.id, entry_id=payment.entry_id)


@requires(Perm.manage_recoveries)
def propose_recovery_write_off(actor, recovery_id, reason: str) -> WriteOff:
    """The balance of a recovery that cannot be collected."""
    _county(actor)
    recovery = get_recovery(actor, recovery_id)
    text = reason_text(reason)
    if recovery.state != R.open:
        raise Conflict(f"该追回{recovery.state.label}，不能核销", code="invalid_transition")
    if db.session.scalar(sa.select(WriteOff.id).where(WriteOff.recovery_id == recovery.id)):
        raise Conflict("已提出过核销，请勿重复提出", code="invalid_transition")
    return propose(actor, WriteOffKind.recovery, amount=recovery.balance, reason=text,
                    region_code=recovery.region_code, recovery_id=recovery.id, entry_id=recovery.entry_id)


@requires(Perm.approve_write_offs)
def approve_write_off(actor, write_off_id) -> WriteOff:
    """The second person's approval; then the recovery is written off, or the failed payment's
    entry counts as settled (its filing may reach 已发放), or the entry's goods are settled (its
    filing may reach 发放完毕)."""
    w = get_visible(actor, WriteOff, write_off_id, "核销记录")
    rule = WRITE_OFFS.check(w.state, WriteOffAction.approve)
    WRITE_OFFS.authorize(actor, rule, who="县级审核员或监督员")
    for guard in rule.guards:
        guard(actor, w)
    WRITE_OFFS.claim(w.id, rule, source=w.state, values={"approved_by": actor.id, "approved_at": utcnow()},
                     stale="刚刚已被他人审批，请刷新页面")
    db.session.refresh(w)
    if w.kind == WriteOffKind.recovery:
        recovery = db.session.get(Recovery, w.recovery_id)
        if recovery.state != R.open:
            raise Conflict(f"该追回{recovery.state.label}，不能核销", code="invalid_transition")
        _move(recovery, RecoveryAction.written_off)
    elif w.kind == WriteOffKind.material:
        from subsidy.materials.service import close_if_done

        close_if_done(actor, db.session.get(Filing, db.session.get(Entry, w.entry_id).filing_id))
    else:
        from subsidy.payments import results

        payment = db.session.get(Payment, w.payment_id)
        results.settle(actor, [payment.filing_id])
    audit.record(actor, "write_off.approve", "write_off", w.id, region_code=w.region_code, kind=w.kind.value,
                 proposed_by=w.proposed_by, amount=w.amount)
    return w


@requires(Perm.view_recoveries)
def list_write_offs(actor, *, state: str | None = None, page=1, per_page=50) -> Page:
    stmt = sa.select(WriteOff).where(within(WriteOff.region_code, actor.region_code))
    if state:
        try:
            stmt = stmt.where(WriteOff.state == WriteOffState(state))
        except ValueError:
            raise ValidationError("状态不正确", fields={"state": "proposed 或 approved"}) from None
    return paginate(stmt.order_by(WriteOff.id.desc()), page, per_page)


def households_named(ids) -> dict[int, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Household.id, Household.head_name).where(Household.id.in_(ids))).all())


def payment_write_off_ids(payment_ids) -> dict[int, WriteOff]:
    ids = list(payment_ids)
    if not ids:
        return {}
    return {w.payment_id: w for w in db.session.scalars(sa.select(WriteOff).where(WriteOff.payment_id.in_(ids)))}

