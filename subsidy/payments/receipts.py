"""回访: did the money reach the farmer? (docs/design.md "Payments": the receipt check)

Money that never reaches the farmer (冒领, 截留) is the fraud that matters most, and only the
farmer can reveal it. Two ways in:

- On "my subsidies" (/m/me) a paid entry offers 我已收到 / 没有收到: `confirm_receipt` and
  `deny_receipt`, called with the signed-in household's id (never an id from a URL). 没有收到
  opens a complaint routed to the COUNTY — never to the village or township that handled the
  list — linked to the payment.
- The county draws a random sample of paid households of a project and sends each a
  receipt-check SMS (`draw_sample`). The seed is recorded with the population's size, and the
  population is reconstructible (paid payments are final and carry the time they were paid),
  so the same draw can be repeated and checked (`redraw_matches`). Per village the county sees
  confirmed, denied and unanswered (`sample_results`).
"""
from __future__ import annotations

import random
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, requires
from subsidy.audit import service as audit
from subsidy.common.money import fmt
from subsidy.common.params import MAX_BIGINT, parse_int
from subsidy.common.timeutil import utcnow
from subsidy.errors import Conflict, NotFound, ValidationError
from subsidy.extensions import db
from subsidy.households.models import Household
from subsidy.notify.outbox import enqueue_bulk
from subsidy.payments.models import Payment, PaymentStatus, ReceiptAnswer, ReceiptSample, ReceiptSampleMember
from subsidy.payments.service import chosen_project, county_only
from subsidy.regions.models import Region
from subsidy.regions.scope import get_visible, within
from subsidy.regions.service import county_only_code

P = PaymentStatus
MAX_SAMPLE = 5000


# --- the farmer's answer ----------------------------------------------------------------------

def _own_paid_payment(household_id: int, payment_id) -> Payment:
    try:
        payment = db.session.get(Payment, int(payment_id))
    except (TypeError, ValueError):
        payment = None
    # Someone else's payment is "not found": a farmer cannot probe other households' money.
    if payment is None or payment.household_id != int(household_id):
        raise NotFound("没有找到这笔补贴")
    if payment.status != P.paid:
        raise Conflict("这笔补贴还没有发放成功，到账后才能确认")
    return payment


def confirm_receipt(household_id: int, payment_id, *, by=None) -> Payment:
    """我已收到. Idempotent; refused after 没有收到 (that complaint is being handled)."""
    payment = _own_paid_payment(household_id, payment_id)
    if payment.receipt == ReceiptAnswer.denied:
        raise Conflict("您已反映没有收到，县里正在核查，处理结果会答复您")
    if payment.receipt != ReceiptAnswer.confirmed:
        payment.receipt, payment.receipt_at = ReceiptAnswer.confirmed, utcnow()
        db.session.flush()
        audit.record(by, "payment.receipt_confirmed", "payment", payment.id, region_code=payment.region_code,
                     household_id=payment.household_id)
    return payment


def payment_to_deny(household_id: int, payment_id) -> Payment:
    """The payment a 没有收到 would be about, checked as `deny_receipt` checks it and changing
    nothing: the farmer confirms on a page of its own before the complaint is filed."""
    payment = _own_paid_payment(household_id, payment_id)
    if payment.receipt == ReceiptAnswer.denied and payment.receipt_case_id:
        raise Conflict("您已经反映过没有收到，县里正在核查")
    return payment


def deny_receipt(household_id: int, payment_id, *, phone: str | None = None, note: str = "", by=None):
    """没有收到: a complaint to the county, linked to the payment. Returns (payment, case)."""
    payment = payment_to_deny(household_id, payment_id)
    household = db.session.get(Household, payment.household_id)
    case = _open_county_complaint(payment, household, phone or household.phone, (note or "").strip()[:500], by)
    payment.receipt, payment.receipt_at, payment.receipt_case_id = ReceiptAnswer.denied, utcnow(), case.id
    db.session.flush()
    audit.record(by, "payment.receipt_denied", "payment", payment.id, region_code=payment.region_code,
                 household_id=payment.household_id, case_id=case.id)
    return payment, case


def _open_county_complaint(payment: Payment, household: Household, phone: str | None, note: str, by=None):
    from subsidy.cases.service import open_receipt_complaint

    subject = f"补贴未到账：{payment.batch.project.name} {fmt(payment.amount)} 元"
    body = (f"农户{payment.head_name}反映没有收到{payment.batch.project.year}年{payment.batch.project.name}"
            f"{fmt(payment.amount)}元（交易流水号 {payment.disbursement_id}，一卡通尾号 {payment.payout_account[-4:]}，"
            f"银行流水号 {payment.bank_ref or '无'}）。")
    if note:
        body += f"农户说明：{note}"
    return open_receipt_complaint(region_code=payment.region_code, subject=subject, body=body, phone=phone,
                                  household_id=payment.household_id, entry_id=payment.entry_id,
                                  payment_id=payment.id, by=by)


# --- the county's sample ----------------------------------------------------------------------

def _population(project_id: int, region_code: str, until) -> list[int]:
    return list(db.session.scalars(
        sa.select(Payment.id).where(Payment.project_id == project_id, Payment.status == P.paid,
                                    within(Payment.region_code, region_code), Payment.result_at <= until)
        .order_by(Payment.id)))


def _draw(population: list[int], size: int, seed: int) -> list[int]:
    return sorted(random.Random(seed).sample(population, min(size, len(population))))


@requires(Perm.manage_payments)
def draw_sample(actor, project_id, size, seed=None) -> ReceiptSample:
    """Pick `size` paid payments of the project at random (seeded) and owe each a receipt-check SMS."""
    county_only(actor)
    project = chosen_project(actor, project_id)
    if size in (None, ""):
        raise ValidationError("请填写抽查户数", fields={"size": "应为整数"})
    size = parse_int(size, 1, MAX_SAMPLE)
    if size is None:
        raise ValidationError(f"抽查户数应为 1–{MAX_SAMPLE}", fields={"size": f"1–{MAX_SAMPLE}"})
    if seed in (None, ""):
        seed = secrets.randbelow(2**62)
    seed = parse_int(seed, 0, MAX_BIGINT)  # kept in a BIGINT column to redraw the same sample
    if seed is None:
        raise ValidationError("随机种子应为 0 到 2^63-1 之间的整数", fields={"seed": "应为非负整数"})
    now = utcnow()
    population = _population(project.id, actor.region_code, now)
    if not population:
        raise Conflict("该项目还没有发放成功的户，无法抽查")
    chosen = _draw(population, size, seed)
    sample = ReceiptSample(project_id=project.id, region_code=actor.region_code, size=len(chosen),
                           population=len(population), seed=seed, created_at=now, created_by=actor.id)
    db.session.add(sample)
    db.session.flush()
    db.session.execute(sa.insert(ReceiptSampleMember), [{"sample_id": sample.id, "payment_id": pid} for pid in chosen])
    rows = []
    for i in range(0, len(chosen), 1000):
        rows += db.session.execute(
            sa.select(Payment.id, Payment.household_id, Payment.entry_id, Payment.region_code, Payment.head_name,
                      Payment.amount, Household.phone).join(Household, Household.id == Payment.household_id)
            .where(Payment.id.in_(chosen[i:i + 1000]))).all()
    # Filed under the county that drew the sample, not the villages: the check exists to catch
    # a clerk, who must not learn from the SMS list which households will be asked.
    sent = enqueue_bulk("receipt_check", [
        {"key": f"receipt_check:{sample.id}:{pid}", "phone": phone, "region_code": county_only_code(actor),
         "household_id": hid, "entry_id": eid,
         "context": {"name": name, "project": project.name, "amount": fmt(amount)}}
        for pid, hid, eid, _region, name, amount, phone in rows])
    audit.record(actor, "payment.receipt_sample", "receipt_sample", sample.id, region_code=actor.region_code,
                 project_id=project.id, size=sample.size, population=sample.population, seed=seed, sms=sent)
    return sample


@requires(Perm.view_payments)
def get_sample(actor, sample_id: int) -> ReceiptSample:
    return get_visible(actor, ReceiptSample, sample_id, "抽查记录")


def redraw_matches(sample: ReceiptSample) -> bool:
    """Repeat the draw from the recorded seed and population: the same households come out."""
    population = _population(sample.project_id, sample.region_code, sample.created_at)
    members = sorted(db.session.scalars(sa.select(ReceiptSampleMember.payment_id)
                                        .where(ReceiptSampleMember.sample_id == sample.id)))
    return len(population) == sample.population and _draw(population, sample.size, sample.seed) == members


@dataclass
class VillageAnswers:
    code: str
    name: str
    sampled: int
    confirmed: int
    denied: int

    @property
    def unanswered(self) -> int:
        return self.sampled - self.confirmed - self.denied


@requires(Perm.view_payments)
def sample_results(actor, sample_id: int) -> tuple[ReceiptSample, list[VillageAnswers]]:
    """Per village: sampled, confirmed, denied, unanswered (one GROUP BY)."""
    sample = get_sample(actor, sample_id)
    one = lambda cond: sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)  # noqa: E731
    rows = db.session.execute(
        sa.select(Payment.region_code, Region.name, sa.func.count(), one(Payment.receipt == ReceiptAnswer.confirmed),
                  one(Payment.receipt == ReceiptAnswer.denied))
        .select_from(ReceiptSampleMember).join(Payment, Payment.id == ReceiptSampleMember.payment_id)
        .join(Region, Region.code == Payment.region_code)
        .where(ReceiptSampleMember.sample_id == sample.id, within(Payment.region_code, actor.region_code))
        .group_by(Payment.region_code, Region.name).order_by(Payment.region_code)).all()
    return sample, [VillageAnswers(code, name, n, int(c), int(d)) for code, name, n, c, d in rows]


@requires(Perm.view_payments)
def list_samples(actor, project_id: int | None = None) -> list[ReceiptSample]:
    # The same scope as get_sample: the list never links a sample that then answers 404. A
    # county's sample stays the county's (who is asked is not for the village to learn).
    stmt = sa.select(ReceiptSample).where(within(ReceiptSample.region_code, actor.region_code))
    if project_id:
        stmt = stmt.where(ReceiptSample.project_id == project_id)
    return list(db.session.scalars(stmt.order_by(ReceiptSample.id.desc()).limit(100)))


@requires(Perm.view_payments)
def receipt_figures(actor, project_id: int) -> dict:
    """Every answer given for the project's paid payments in the actor's region, sampled or not."""
    one = lambda cond: sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)  # noqa: E731
    paid, confirmed, denied = db.session.execute(
        sa.select(sa.func.count(), one(Payment.receipt == ReceiptAnswer.confirmed),
                  one(Payment.receipt == ReceiptAnswer.denied))
        .where(Payment.project_id == project_id, Payment.status == P.paid,
               within(Payment.region_code, actor.region_code))).one()
    return {"paid": paid, "confirmed": int(confirmed), "denied": int(denied)}
