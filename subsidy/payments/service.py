"""Payment batches: made from county-approved filings, re-issued for failures, withdrawn, read.

docs/design.md "Payments". A batch belongs to one project (the bank file's 摘要 names it,
the money comes from its fund) and to the county of the reviewer who makes it. Creation is one
INSERT … SELECT: one payment per entry, numbered in village then entry order, with the
household's name, ID number and payout account and the entry's amount copied at that moment.

Who gets into a batch:
- `create_batch`: entries of county-approved filings that have no payment yet (none at all,
  not even a failed one), with an amount above 0 and a payout account. Entries without an
  account are left out and counted, so the village can add the account and a later batch
  picks them up.
- `reissue_failed`: entries whose latest payment failed, and only those; the account is
  copied afresh from the register (the village corrected it).
The database refuses an entry with two live (pending or paid) payments (see models), so two
reviewers making batches at once, or a paid entry, can never be paid twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.database import lock_rows
from subsidy.common.money import quantize
from subsidy.common.pagination import Page, paginate
from subsidy.common.params import MAX_ID, form_ids, parse_int
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.households.models import Household
from subsidy.payments import ids, lifecycle
from subsidy.payments.lifecycle import BatchEvent
from subsidy.payments.models import Payment, PaymentBatch, PaymentStatus
from subsidy.projects.models import Category, Project
from subsidy.projects.service import get_project
from subsidy.regions.models import CODE_LENGTH, Level
from subsidy.regions.scope import county_scope, ensure_visible, get_visible, within
from subsidy.regions.service import county_only_code

P = PaymentStatus
_COLUMNS = ["batch_id", "seq", "disbursement_id", "entry_id", "filing_id", "project_id", "household_id",
            "region_code", "head_name", "id_number", "payout_account", "amount", "status", "reissue_of_id",
            "created_at", "part"]


def cents(expr):
    """A decimal column as integer cents (SQLite keeps NUMERIC as REAL)."""
    return sa.cast(sa.func.round(expr * 100), sa.BigInteger)


def from_cents(value) -> Decimal:
    return quantize(Decimal(int(value or 0)) / 100)


@dataclass
class BatchResult:
    batch: PaymentBatch
    count: int
    total: Decimal
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> entries left out


@exempt("a check itself: the county tier that goes with the declared Perm.manage_payments")
def county_only(actor) -> None:
    """Batches, bank files and receipt checks are the county's (the permission is declared on
    each function; this is the tier): a reviewer's account placed below the county is refused."""
    if actor.tier != Level.county:
        raise PermissionDenied("发放须由县级审核员操作")


@requires(Perm.view_payments)
def chosen_project(actor, project_id) -> Project:
    """The project picked in a form or named in a body; anything but an id is "请选择项目"."""
    number = parse_int(project_id, 1, MAX_ID) if project_id not in (None, "") else None
    if number is None:
        raise ValidationError("请选择项目", fields={"project_id": "请选择项目"})
    return get_project(actor, number)


def _cash_project(actor, project_id) -> Project:
    project = chosen_project(actor, project_id)
    if project.category != Category.cash:
        raise ValidationError("实物补贴项目不经银行发放，不能生成发放批次", fields={"project_id": "不是现金补贴项目"})
    # Serialise batch making per project (as 审定 does): the unique index would catch a race
    # anyway, this makes the second reviewer wait and then see what the first one took.
    db.session.execute(lock_rows(sa.select(Project.id).where(Project.id == project.id)))
    return project


def _check_filings(actor, project: Project, filing_ids) -> list[int] | None:
    if filing_ids is None:
        return None
    if isinstance(filing_ids, (str, bytes)):
        filing_ids = [filing_ids]
    wanted = sorted(set(form_ids(filing_ids, "filing_ids", "备案编号")))
    if not wanted:
        raise ValidationError("请至少选择一个已审定的备案", fields={"filing_ids": "请选择备案"})
    found = {f.id: f for f in db.session.scalars(sa.select(Filing).where(Filing.id.in_(wanted)))}
    for fid in wanted:
        f = found.get(fid)
        if f is None:
            raise NotFound(f"备案 {fid} 不存在")
        ensure_visible(actor, f.region_code, "备案")
        if f.project_id != project.id:
            raise ValidationError(f"备案 {fid} 不属于项目“{project.name}”", fields={"filing_ids": "项目不一致"})
        if f.state != FilingState.county_approved:
            raise Conflict(f"备案 {fid}（{f.region.name}）当前为“{f.state_label}”，只有县级已审定的备案可以发放")
    return wanted


def _scope(actor, project: Project, filing_ids: list[int] | None):
    cond = [Filing.project_id == project.id, Filing.state == FilingState.county_approved,
            within(Filing.region_code, actor.region_code)]
    if filing_ids is not None:
        cond.append(Filing.id.in_(filing_ids))
    return cond


def _new_batch(actor, project: Project, *, reissue: bool, note: str) -> PaymentBatch:
    batch = PaymentBatch(county_code=county_only_code(actor), project_id=project.id, reissue=reissue,
                         note=(note or "").strip()[:200], created_by=actor.id, created_at=utcnow())
    db.session.add(batch)
    db.session.flush()
    if batch.id > ids.MAX_BATCH_ID:
        raise Conflict("发放批次编号已用尽，请联系系统管理员")
    return batch


def _insert_payments(batch: PaymentBatch, source) -> tuple[int, Decimal]:
    """`source` selects (entry_id, filing_id, household_id, region_code, head_name, id_number,
    payout_account, amount, reissue_of_id, part); number it and insert it, set-based."""
    sub = source.subquery()
    numbered = sa.select(sub, sa.func.row_number().over(order_by=(sub.c.region_code, sub.c.entry_id))
                         .label("seq")).subquery()
    now = sa.literal(utcnow(), Payment.__table__.c.created_at.type)
    stmt = sa.select(
        sa.literal(batch.id), numbered.c.seq, ids.sql_id(batch.county_code, batch.id, numbered.c.seq),
        numbered.c.entry_id, numbered.c.filing_id, sa.literal(batch.project_id), numbered.c.household_id,
        numbered.c.region_code, numbered.c.head_name, numbered.c.id_number, numbered.c.payout_account,
        numbered.c.amount, sa.literal(P.pending.value), numbered.c.reissue_of_id, now, numbered.c.part)
    try:
        with db.session.begin_nested():
            db.session.execute(sa.insert(Payment).from_select(_COLUMNS, stmt))
    except sa.exc.IntegrityError:
        raise Conflict("部分户刚被列入另一个发放批次或已发放，请刷新后重试") from None
    count, total = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(cents(Payment.amount)), 0))
        .where(Payment.batch_id == batch.id)).one()
    if count > ids.MAX_SEQ:
        raise ValidationError(f"一个批次最多 {ids.MAX_SEQ} 笔，请按备案分批生成")
    batch.payment_count, batch.total_amount = count, from_cents(total)
    db.session.flush()
    return count, batch.total_amount


def _not_held():
    """SQL: the entry is not held (止付): no new batch and no re-issue takes a held entry."""
    from subsidy.filings.holds import open_hold

    return ~open_hold()


@requires(Perm.view_payments)
def held_in(actor, entry_ids) -> set[int]:
    """Of these entries (a page of payments), the ones held now (止付): shown on the payment pages."""
    from subsidy.filings.holds import held_entries

    return held_entries(entry_ids)


def entry_paid(entry_id: int) -> bool:
    return bool(db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
        Payment.entry_id == entry_id, Payment.status == P.paid)))


@requires(Perm.hold_entries)
def stop_pending(actor, entry_id: int, now) -> tuple[int | None, int | None]:
    """An entry was just held (subsidy.filings.holds): its pending payment is cancelled if its
    batch was not exported (the batch's count and total follow; a batch left empty is
    withdrawn); one already exported stays for the bank to answer, and its answer waits for the
    release (payments.results). Returns (cancelled payment id, exported payment id)."""
    payment = db.session.scalar(sa.select(Payment).where(Payment.entry_id == entry_id, Payment.status == P.pending))
    if payment is None:
        return None, None
    batch = lifecycle.lock_batch(payment.batch)
    if batch.exported_at is not None:
        return None, payment.id
    lifecycle.cancel_held_payment(payment.id, now)
    batch.payment_count -= 1
    batch.total_amount = quantize(batch.total_amount - payment.amount)
    db.session.flush()
    if batch.payment_count == 0:
        lifecycle.move_batch(batch, lifecycle.BatchEvent.cancel, now, cancel_reason="批次内各户均已止付")
    audit.record(actor, "payment.hold_cancel", "payment_batch", batch.id, region_code=batch.county_code,
                 payment_id=payment.id, entry_id=entry_id, amount=payment.amount)
    return payment.id, None


def _has_payment(*statuses):
    q = sa.select(Payment.id).where(Payment.entry_id == Entry.id)
    if statuses:
        q = q.where(Payment.status.in_(statuses))
    return sa.exists(q)


@requires(Perm.manage_payments)
def create_batch(actor, project_id, filing_ids=None, note: str = "") -> BatchResult:
    """A batch of every unpaid entry of the chosen county-approved filings (all of the project's
    in the actor's county when `filing_ids` is None)."""
    county_only(actor)
    project = _cash_project(actor, project_id)
    wanted = _check_filings(actor, project, filing_ids)
    cond = _scope(actor, project, wanted)
    no_payment = ~_has_payment(P.pending, P.paid, P.failed)
    no_account = sa.or_(Household.payout_account.is_(None), Household.payout_account == "")
    skipped_account, skipped_zero = _skips(cond, no_payment, no_account)
    skipped_held = db.session.scalar(
        sa.select(sa.func.count()).select_from(Entry).join(Filing, Filing.id == Entry.filing_id)
        .where(*cond, no_payment, Entry.amount > 0, ~_not_held()))
    source = (sa.select(Entry.id.label("entry_id"), Entry.filing_id.label("filing_id"),
                        Entry.household_id.label("household_id"), Filing.region_code.label("region_code"),
                        Household.head_name.label("head_name"), Household.id_number.label("id_number"),
                        Household.payout_account.label("payout_account"), Entry.amount.label("amount"),
                        sa.literal(None, sa.Integer).label("reissue_of_id"), sa.literal(1).label("part"))
              .join(Filing, Filing.id == Entry.filing_id).join(Household, Household.id == Entry.household_id)
              .where(*cond, no_payment, Entry.amount > 0, ~no_account, _not_held()))
    # 补发: what a correction added to an entry already paid is paid as a further part.
    source = source.union_all(_top_ups(cond, no_account))
    with db.session.begin_nested():
        batch = _new_batch(actor, project, reissue=False, note=note)
        count, total = _insert_payments(batch, source)
        if count == 0:
            raise Conflict(_nothing_message(skipped_account, skipped_zero, skipped_held))
    skipped = {"no_account": skipped_account, "zero_amount": skipped_zero, "held": int(skipped_held or 0)}
    audit.record(actor, "payment.batch_create", "payment_batch", batch.id, region_code=batch.county_code,
                 project_id=project.id, filing_ids=wanted, payments=count, total=total, skipped=skipped)
    return BatchResult(batch, count, total, skipped)


def _paid_sum():
    """SQL: what the bank paid for the entry (`Entry.id` of the enclosing query), every part."""
    return (sa.select(sa.func.sum(Payment.amount)).where(Payment.entry_id == Entry.id, Payment.status == P.paid)
            .scalar_subquery())


def _top_ups(cond, no_account):
    """Entries a correction raised above what was paid: the difference, as the next part. Only
    when nothing of the entry is pending or waiting for a re-issue."""
    paid = (sa.select(Payment.entry_id.label("entry_id"), sa.func.sum(Payment.amount).label("paid"),
                      sa.func.max(Payment.part).label("part"))
            .where(Payment.status == P.paid).group_by(Payment.entry_id).subquery("paid"))
    return (sa.select(Entry.id.label("entry_id"), Entry.filing_id.label("filing_id"),
                      Entry.household_id.label("household_id"), Filing.region_code.label("region_code"),
                      Household.head_name.label("head_name"), Household.id_number.label("id_number"),
                      Household.payout_account.label("payout_account"), (Entry.amount - paid.c.paid).label("amount"),
                      sa.literal(None, sa.Integer).label("reissue_of_id"), (paid.c.part + 1).label("part"))
            .join(paid, paid.c.entry_id == Entry.id)
            .join(Filing, Filing.id == Entry.filing_id).join(Household, Household.id == Entry.household_id)
            .where(*cond, cents(Entry.amount) > cents(paid.c.paid), ~_has_payment(P.pending),
                   ~sa.exists(latest_failed_select().where(Payment.entry_id == Entry.id)), ~no_account, _not_held()))


def _skips(cond, no_payment, no_account) -> tuple[int, int]:
    row = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(sa.case((sa.and_(no_account, Entry.amount > 0), 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((Entry.amount <= 0, 1), else_=0)), 0))
        .select_from(Entry).join(Filing, Filing.id == Entry.filing_id)
        .join(Household, Household.id == Entry.household_id).where(*cond, no_payment)).one()
    return int(row[0]), int(row[1])


def _nothing_message(no_account: int, zero: int, held: int = 0) -> str:
    msg = "没有待发放的户：所选备案的各户都已列入发放批次或已发放"
    if held:
        msg += f"；{held} 户已止付，解除止付后才能发放"
    if no_account:
        msg += f"；另有 {no_account} 户缺少一卡通账号，须村级补录后才能发放"
    if zero:
        msg += f"；{zero} 户金额为 0，无需发放"
    return msg


def latest_failed_select():
    """Failed payments that are their entry's latest payment (not counting withdrawn ones) and
    not written off (核销, proposed or approved): the ones waiting to be re-issued."""
    from subsidy.recoveries.service import written_off_payment

    later = aliased(Payment)
    return (sa.select(Payment.id).where(Payment.status == P.failed, ~written_off_payment(), ~sa.exists(
        sa.select(later.id).where(later.entry_id == Payment.entry_id, later.id > Payment.id,
                                  later.status != P.cancelled))))


UNCORRECTED_CHOICES = ("include", "exclude")


def _wanted_failures(actor, project: Project, payment_ids) -> list[int] | None:
    if payment_ids is None:
        return None
    if isinstance(payment_ids, (str, bytes)):
        payment_ids = [payment_ids]
    wanted = sorted(set(form_ids(payment_ids, "payment_ids", "发放记录编号")))
    _check_reissuable(actor, project, wanted)
    return wanted


def _unchanged_account():
    """The register still holds the very account the bank refused (the village has not corrected it)."""
    return sa.and_(Household.payout_account.is_not(None), Household.payout_account == Payment.payout_account)


@requires(Perm.manage_payments)
def uncorrected_failures(actor, project_id, payment_ids=None) -> list[Payment]:
    """The failures a re-issue would take (the chosen ones, or all of the project's) whose
    household's account is still the one the bank refused: the reviewer must decide about them
    (docs/design.md "Payments": no silent re-issue to an account that failed)."""
    county_only(actor)
    project = chosen_project(actor, project_id)
    wanted = _wanted_failures(actor, project, payment_ids)
    stmt = (sa.select(Payment).join(Household, Household.id == Payment.household_id)
            .where(Payment.id.in_(latest_failed_select()), Payment.project_id == project.id,
                   within(Payment.region_code, actor.region_code), _unchanged_account()))
    if wanted is not None:
        stmt = stmt.where(Payment.id.in_(wanted))
    return list(db.session.scalars(stmt.order_by(Payment.region_code, Payment.id)))


@requires(Perm.manage_payments)
def reissue_failed(actor, project_id, payment_ids=None, note: str = "", uncorrected: str | None = None) -> BatchResult:
    """A new batch of the failed payments of a project (or the chosen ones), and only those:
    each with the household's account as the register holds it now.

    A failure whose account the village has not corrected since is re-issued only on an
    explicit choice: `uncorrected` "include" (re-issue it anyway) or "exclude" (leave it out);
    without a choice while there are such failures the re-issue is refused and names them."""
    county_only(actor)
    if uncorrected not in (None, "", *UNCORRECTED_CHOICES):
        raise ValidationError("账号未更正的失败记录：请选择“仍然重新发放”或“不列入”",
                              fields={"uncorrected": "include 或 exclude"})
    project = _cash_project(actor, project_id)
    failed = (latest_failed_select().where(Payment.project_id == project.id)
              .add_columns(Payment.entry_id, Payment.payout_account, Payment.part).subquery("f"))
    cond = [Filing.project_id == project.id, Filing.state == FilingState.county_approved,
            within(Filing.region_code, actor.region_code)]
    wanted = _wanted_failures(actor, project, payment_ids)
    if wanted is not None:
        cond.append(failed.c.id.in_(wanted))
    if not uncorrected:
        pending = uncorrected_failures(actor, project.id, wanted)
        if pending:
            names = "、".join(p.head_name for p in pending[:10]) + ("等" if len(pending) > 10 else "")
            raise Conflict(f"{len(pending)} 笔失败记录的一卡通账号自失败后未更正（{names}），"
                           "请选择仍然重新发放或不列入本批",
                           fields={"uncorrected": ",".join(str(p.id) for p in pending)})
    elif uncorrected == "exclude":
        cond.append(sa.or_(Household.payout_account.is_(None), Household.payout_account != failed.c.payout_account))
    no_account = sa.or_(Household.payout_account.is_(None), Household.payout_account == "")
    source = (sa.select(Entry.id.label("entry_id"), Entry.filing_id.label("filing_id"),
                        Entry.household_id.label("household_id"), Filing.region_code.label("region_code"),
                        Household.head_name.label("head_name"), Household.id_number.label("id_number"),
                        Household.payout_account.label("payout_account"),
                        (Entry.amount - sa.func.coalesce(_paid_sum(), 0)).label("amount"),
                        failed.c.id.label("reissue_of_id"), failed.c.part.label("part"))
              .select_from(failed).join(Entry, Entry.id == failed.c.entry_id)
              .join(Filing, Filing.id == Entry.filing_id).join(Household, Household.id == Entry.household_id)
              .where(*cond, Entry.amount > 0, ~no_account, _not_held()))
    with db.session.begin_nested():
        batch = _new_batch(actor, project, reissue=True, note=note)
        count, total = _insert_payments(batch, source)
        if count == 0:
            if uncorrected == "exclude":
                raise Conflict("没有可重新发放的失败记录：所选各笔的一卡通账号都未更正，已全部不列入")
            raise Conflict("没有可重新发放的失败记录（只有发放失败、且尚未重新发放的户可以重新发放）")
    old = aliased(Payment, name="old")
    same_account = db.session.scalar(
        sa.select(sa.func.count()).select_from(Payment).join(old, old.id == Payment.reissue_of_id)
        .where(Payment.batch_id == batch.id, old.payout_account == Payment.payout_account))
    skipped = {"same_account": int(same_account or 0)}
    audit.record(actor, "payment.batch_reissue", "payment_batch", batch.id, region_code=batch.county_code,
                 project_id=project.id, payment_ids=wanted, payments=count, total=total,
                 same_account=skipped["same_account"], uncorrected=uncorrected or None)
    return BatchResult(batch, count, total, skipped)


def _check_reissuable(actor, project: Project, wanted: list[int]) -> None:
    if not wanted:
        raise ValidationError("请至少选择一笔失败的发放", fields={"payment_ids": "请选择"})
    rows = {p.id: p for p in db.session.scalars(sa.select(Payment).where(Payment.id.in_(wanted)))}
    waiting = set(db.session.scalars(latest_failed_select().where(Payment.id.in_(wanted))))
    for pid in wanted:
        p = rows.get(pid)
        if p is None:
            raise NotFound(f"发放记录 {pid} 不存在")
        ensure_visible(actor, p.region_code, "发放记录")
        if p.project_id != project.id:
            raise ValidationError(f"发放记录 {p.disbursement_id} 不属于项目“{project.name}”")
        if p.status != P.failed:
            raise Conflict(f"{p.head_name}（{p.disbursement_id}）{p.status_label}，只有发放失败的可以重新发放")
        if pid not in waiting:
            raise Conflict(f"{p.head_name}（{p.disbursement_id}）已重新发放过，不能再次发放")


@requires(Perm.manage_payments)
def cancel_batch(actor, batch_id: int, reason: str) -> PaymentBatch:
    """Withdraw a batch the bank has not answered for (作废): every payment is cancelled, its
    entries can go into a new batch. Refused once any result was recorded."""
    county_only(actor)
    batch = lifecycle.lock_batch(get_batch(actor, batch_id))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("请填写作废原因", fields={"reason": "必填"})
    if not lifecycle.BATCHES.allows(batch.status, BatchEvent.cancel):
        raise Conflict(f"批次{batch.status_label}，不能作废")
    answered = db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
        Payment.batch_id == batch.id, Payment.status != P.pending))
    if answered:
        raise Conflict(f"已有 {answered} 笔回盘结果，不能作废；未回盘的请等待银行结果")
    now = utcnow()
    lifecycle.cancel_payments(batch, now)
    lifecycle.move_batch(batch, BatchEvent.cancel, now, cancel_reason=reason[:200])
    audit.record(actor, "payment.batch_cancel", "payment_batch", batch.id, region_code=batch.county_code,
                 reason=reason, payments=batch.payment_count)
    return batch


@exempt("a question, not an act: the batch actions the table lets this actor take now (its buttons)")
def batch_actions(actor, batch: PaymentBatch) -> set[str]:
    return {rule.action.value for rule in lifecycle.BATCHES.actions_for(actor, batch.status)}


# --- reading --------------------------------------------------------------------------------

def village_names(codes) -> dict[str, str]:
    """Region code -> name, for pages that list payments by village (names, never bare codes)."""
    from subsidy.regions.models import Region

    codes = sorted(set(codes))
    if not codes:
        return {}
    return dict(db.session.execute(sa.select(Region.code, Region.name).where(Region.code.in_(codes))).all())


@requires(Perm.view_payments)
def get_batch(actor, batch_id: int) -> PaymentBatch:
    # A batch is the county's; the county and the city above it read it whole, staff below the
    # county only if it pays someone of theirs (and then only their own payments, see
    # list_payments).
    if len(actor.region_code) <= CODE_LENGTH[Level.county]:
        return get_visible(actor, PaymentBatch, batch_id, "发放批次", scope="county_code")
    batch = db.session.get(PaymentBatch, batch_id)
    if batch is None:
        raise NotFound("发放批次不存在")
    if not db.session.scalar(sa.select(sa.exists(sa.select(Payment.id).where(
            Payment.batch_id == batch.id, within(Payment.region_code, actor.region_code))))):
        raise NotFound("发放批次不存在或不在您的管辖范围内")
    return batch


@requires(Perm.view_payments)
def list_batches(actor, *, project_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    stmt = sa.select(PaymentBatch).where(within(PaymentBatch.county_code, county_scope(actor.region_code)))
    if len(actor.region_code) > CODE_LENGTH[Level.county]:
        stmt = stmt.where(sa.exists(sa.select(Payment.id).where(Payment.batch_id == PaymentBatch.id,
                                                                within(Payment.region_code, actor.region_code))))
    if project_id:
        stmt = stmt.where(PaymentBatch.project_id == project_id)
    return paginate(stmt.order_by(PaymentBatch.id.desc()), page, per_page)


def batch_counts(batch_id: int, region_code: str | None = None) -> dict:
    """Payments of a batch by status with their amounts, one GROUP BY."""
    stmt = sa.select(Payment.status, sa.func.count(), sa.func.coalesce(sa.func.sum(cents(Payment.amount)), 0)).where(
        Payment.batch_id == batch_id)
    if region_code:
        stmt = stmt.where(within(Payment.region_code, region_code))
    out = {s.value: {"count": 0, "amount": Decimal("0.00")} for s in P}
    for status, n, c in db.session.execute(stmt.group_by(Payment.status)):
        out[status.value] = {"count": n, "amount": from_cents(c)}
    return out


@requires(Perm.view_payments)
def list_payments(actor, batch_id: int, *, status: str | None = None, q: str | None = None, page: int = 1,
                  per_page: int = 100) -> Page:
    batch = get_batch(actor, batch_id)
    stmt = sa.select(Payment).where(Payment.batch_id == batch.id, within(Payment.region_code, actor.region_code))
    if status:
        try:
            stmt = stmt.where(Payment.status == P(status))
        except ValueError:
            raise ValidationError("状态有误", fields={"status": "pending, paid, failed 或 cancelled"}) from None
    if q and q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(Payment.head_name.like(like), Payment.disbursement_id.like(like),
                                 Payment.id_number.like(like)))
    return paginate(stmt.order_by(Payment.seq), page, per_page)


@requires(Perm.view_payments)
def failed_waiting(actor, *, project_id: int | None = None, limit: int = 500) -> list[tuple[Payment, str | None]]:
    """发放失败待处理: failed payments not yet re-issued in the actor's region, each with the
    household's account as registered now (a changed account means the village fixed it)."""
    stmt = (sa.select(Payment, Household.payout_account)
            .join(Household, Household.id == Payment.household_id)
            .where(Payment.id.in_(latest_failed_select()), within(Payment.region_code, actor.region_code)))
    if project_id:
        stmt = stmt.where(Payment.project_id == project_id)
    return [(p, acct) for p, acct in db.session.execute(stmt.order_by(Payment.region_code, Payment.id).limit(limit))]


@requires(Perm.view_payments)
def projects_with_approved(actor) -> list[tuple[Project, int, int]]:
    """Cash projects of the county with (entries waiting for a payment — a first one, or what a
    correction added —, failures waiting)."""
    cond = [Filing.state == FilingState.county_approved, within(Filing.region_code, actor.region_code)]
    waiting = (sa.select(Filing.project_id, sa.func.count(Entry.id))
               .join(Entry, Entry.filing_id == Filing.id)
               .where(*cond, Entry.amount > 0, ~_has_payment(P.pending, P.paid, P.failed), _not_held())
               .group_by(Filing.project_id))
    todo = dict(db.session.execute(waiting).all())
    no_account = sa.or_(Household.payout_account.is_(None), Household.payout_account == "")
    top = _top_ups(cond, no_account).subquery()
    for project_id, n in db.session.execute(sa.select(Filing.project_id, sa.func.count()).select_from(top)
                                            .join(Filing, Filing.id == top.c.filing_id).group_by(Filing.project_id)):
        todo[project_id] = todo.get(project_id, 0) + n
    failed = dict(db.session.execute(
        sa.select(Payment.project_id, sa.func.count()).where(Payment.id.in_(latest_failed_select()),
                                                             within(Payment.region_code, actor.region_code))
        .group_by(Payment.project_id)).all())
    projects = db.session.scalars(sa.select(Project)
                                  .where(within(Project.county_code, county_scope(actor.region_code)),
                                         Project.category == Category.cash)
                                  .order_by(Project.year.desc(), Project.name))
    return [(p, int(todo.get(p.id, 0)), int(failed.get(p.id, 0))) for p in projects]


@requires(Perm.view_payments)
def approved_filings(actor, project_id: int) -> list[dict]:
    """County-approved filings of a project with what each still has to pay (for choosing)."""
    from subsidy.regions.models import Region

    rows = db.session.execute(
        sa.select(Filing.id, Filing.region_code, Region.name, sa.func.count(Entry.id),
                  sa.func.coalesce(sa.func.sum(cents(Entry.amount)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((_has_payment(P.pending, P.paid, P.failed), 0), else_=1)), 0))
        .join(Region, Region.code == Filing.region_code).join(Entry, Entry.filing_id == Filing.id)
        .where(Filing.project_id == project_id, Filing.state == FilingState.county_approved,
               within(Filing.region_code, actor.region_code))
        .group_by(Filing.id, Filing.region_code, Region.name).order_by(Filing.region_code)).all()
    return [{"id": r[0], "region_code": r[1], "village": r[2], "entries": r[3], "amount": from_cents(r[4]),
             "unpaid": int(r[5])} for r in rows]
