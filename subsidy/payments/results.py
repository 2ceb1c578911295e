"""回盘: the bank's result file, matched by disbursement id and applied — or reported.

Each data row is matched by its 交易流水号 and then, in this order:

- reported, not applied: a malformed id (its check digits are wrong: a typing error), an id the
  platform never issued (unknown), an id of another batch, an id that appears more than once in
  the file (every occurrence), an amount that is not the payment's, an unreadable status or
  amount, a payment of a withdrawn batch, and a result that contradicts one already recorded
  (paid before, 失败 now, or the other way round; a different 银行流水号 for a paid one);
- unchanged: the result already recorded (the same file imported again, or an overlapping one);
- applied: a pending payment becomes paid (with the bank's 银行流水号) or failed (with the
  bank's 失败原因).

Totals rule (the whole file is refused, nothing applied, when it fails):
1. With a 合计 row (交易流水号 column reads 合计 or 总计): its 金额 must equal the sum of 金额
   over every data row, and its 笔数 (状态 column, e.g. "3笔"), if given, the number of data
   rows. The file then vouches for itself, so a row whose amount differs from our payment is a
   discrepancy between bank and platform: reported, the rest applied.
2. Without a 合计 row nothing in the file vouches for it, so it is checked against the batch:
   the sum of 金额 over the rows naming this batch's payments must equal the sum of those
   payments' amounts. One wrong amount then refuses the whole file.

Re-importing the same file changes nothing: every row it applied is now "unchanged", no SMS is
owed twice (each is keyed by payment), and no filing is paid twice.

After applying: one SMS to every household paid (`payment_paid`, key per payment), one SMS per
failed payment to each village clerk of that village with a mobile number (`payment_failed_clerk`;
the farmer is not told: the account is the village's to fix), the batch is settled when nothing
is pending, and every filing whose entries are now all paid goes to `paid` through the workflow,
which takes the `paid` snapshot; it is compared with the `county` snapshot and any difference is
reported here, on the filing and on the dashboard.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.models import Role, User
from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.database import read_phase
from subsidy.common.labels import Labelled, _l
from subsidy.common.limits import BANK_RESULTS, REPORTED_ROWS
from subsidy.common.masking import account_tail
from subsidy.common.money import fmt, quantize
from subsidy.common.timeutil import to_local, utcnow
from subsidy.common.xlsx import require_file, sheet_limits, spool_upload
from subsidy.common.xlsx_safety import check_csv
from subsidy.errors import ValidationError
from subsidy.extensions import db
from subsidy.filings import snapshots, workflow
from subsidy.filings.models import Action, Entry, Filing, FilingState, Stage
from subsidy.households.models import Household
from subsidy.notify.outbox import enqueue_bulk
from subsidy.payments import ids, lifecycle
from subsidy.payments.files import parse_result_file
from subsidy.payments.lifecycle import BatchEvent, PaymentEvent
from subsidy.payments.models import Payment, PaymentBatch, PaymentStatus, ResultImport
from subsidy.payments.service import cents, county_only, from_cents, get_batch
from subsidy.regions.models import Region

P = PaymentStatus
_CHUNK = 1000

class ProblemKind(Labelled):
    """What is wrong with a row of a result file (a report's `kind`)."""

    malformed = "malformed", _l("交易流水号格式或校验位错误")
    unknown = "unknown", _l("交易流水号不存在")
    other_batch = "other_batch", _l("属于其他批次")
    duplicate = "duplicate", _l("同一交易流水号出现多次")
    amount_mismatch = "amount_mismatch", _l("金额与发放金额不符")
    invalid = "invalid", _l("内容无法识别")
    cancelled = "cancelled", _l("批次已作废")
    conflict = "conflict", _l("与已记录的结果矛盾")


# The report keeps a problem's kind as its value; a page shows its label.
PROBLEM_LABEL = {kind.value: kind.label for kind in ProblemKind}


@dataclass
class Problem:
    row: int
    disbursement_id: str
    kind: str
    message: str


@dataclass
class Report:
    """The reconciliation report (对账报告) of one result file. It is kept (JSON, in
    ResultImport.report) and shown: the rows it lists are bounded (REPORTED_ROWS each of
    problems and failures, in row order) and the rest only counted, so that a file of a
    million bad rows makes a report of kilobytes, not a hundred megabytes."""

    batch_id: int
    import_id: int | None = None
    rows: int = 0
    refused: bool = False
    refusal: str = ""
    paid: int = 0
    failed: int = 0
    unchanged: int = 0
    paid_amount: Decimal = Decimal("0.00")
    failed_amount: Decimal = Decimal("0.00")
    file_total: Decimal | None = None
    problems: list[Problem] = field(default_factory=list)  # the first REPORTED_ROWS
    problem_total: int = 0
    problem_counts: dict[str, int] = field(default_factory=dict)  # every problem, by kind
    # {row, disbursement_id, name, reason}: applied failures, the first REPORTED_ROWS
    failures: list[dict] = field(default_factory=list)
    filings_paid: list[int] = field(default_factory=list)
    mismatches: list[dict] = field(default_factory=list)  # {filing_id, village, message}
    sms_households: int = 0
    sms_clerks: int = 0
    villages_without_clerk_phone: list[str] = field(default_factory=list)
    repeat_of: int | None = None  # an earlier import of the very same file

    def add_problem(self, problem: Problem) -> None:
        self.problem_total += 1
        self.problem_counts[problem.kind] = self.problem_counts.get(problem.kind, 0) + 1
        if len(self.problems) < REPORTED_ROWS:
            self.problems.append(problem)

    def add_failure(self, failure: dict) -> None:
        if len(self.failures) < REPORTED_ROWS:
            self.failures.append(failure)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["listed"] = REPORTED_ROWS
        return json.loads(json.dumps(d, default=lambda v: fmt(v) if isinstance(v, Decimal) else str(v)))


def _load_payments(dids: list[str]) -> dict[str, sa.Row]:
    """The payments the file names, as plain rows (a result file may name up to a million: ORM
    objects would take gigabytes)."""
    found: dict[str, sa.Row] = {}
    columns = (Payment.id, Payment.disbursement_id, Payment.batch_id, Payment.status, Payment.amount,
               Payment.bank_ref, Payment.head_name, Payment.entry_id)
    for i in range(0, len(dids), _CHUNK):
        for p in db.session.execute(sa.select(*columns).where(Payment.disbursement_id.in_(dids[i:i + _CHUNK]))):
            found[p.disbursement_id] = p
    return found


@requires(Perm.manage_payments)
def import_results(actor, batch_id: int, fileobj, filename: str) -> Report:
    """Match, check and apply a result file to a batch; see the module docstring.

    The file is read and parsed in the read phase (`read_phase`: on SQLite without the write
    lock; a batch's file may run to a million rows); the write phase then locks the batch and
    matches the rows against the payments as they stand."""
    with read_phase():
        county_only(actor)
        get_batch(actor, batch_id)  # out of scope or unknown: answered before the file is read
        require_file(fileobj)
        check_upload_name(filename)
        spooled, sha, _size = spool_upload(fileobj)
        with spooled:
            if (filename or "").lower().endswith(".csv"):
                check_csv(spooled, BANK_RESULTS)
            with sheet_limits(BANK_RESULTS):  # the reader payments.files builds takes these caps
                parsed = parse_result_file(spooled, filename)

    county_only(actor)
    batch = lifecycle.lock_batch(get_batch(actor, batch_id))
    report = Report(batch.id, rows=len(parsed.rows))
    earlier = db.session.scalar(sa.select(ResultImport.id).where(ResultImport.batch_id == batch.id,
                                                                 ResultImport.sha256 == sha, ~ResultImport.refused)
                                .order_by(ResultImport.id).limit(1))
    report.repeat_of = earlier

    payments = _load_payments(sorted({r.disbursement_id for r in parsed.rows if r.disbursement_id}))
    seen = Counter(r.disbursement_id for r in parsed.rows if r.disbursement_id)
    to_apply = []
    for r in parsed.rows:
        p = payments.get(r.disbursement_id)
        kind, message = _classify(batch, r, p, seen)
        if kind == "apply":
            to_apply.append((r, p))
        elif kind == "unchanged":
            report.unchanged += 1
        else:
            report.add_problem(Problem(r.row, r.disbursement_id, kind, message))

    to_apply = _hold_back(to_apply, report)
    refusal = _check_totals(batch, parsed, payments)
    if refusal:
        report.refused, report.refusal = True, refusal
        _log(actor, batch, report, filename, sha)
        return report
    _apply(actor, batch, to_apply, report)
    _log(actor, batch, report, filename, sha)
    return report


def _hold_back(to_apply: list, report: Report) -> list:
    """Rows for payments whose entry is held (止付) are not applied while the hold lasts: they are
    reported, and the same file imported again after the release applies them."""
    from subsidy.filings.holds import held_entries

    held = set()
    for i in range(0, len(to_apply), _CHUNK):
        held |= held_entries(p.entry_id for _r, p in to_apply[i:i + _CHUNK])
    if not held:
        return to_apply
    kept = []
    for r, p in to_apply:
        if p.entry_id in held:
            report.add_problem(Problem(r.row, r.disbursement_id, "held",
                                       "该户已止付，回盘结果暂不入账；解除止付后请重新导入本文件"))
        else:
            kept.append((r, p))
    return kept


def _classify(batch: PaymentBatch, r, p: Payment | None, seen: Counter) -> tuple[str, str]:
    if r.problem:
        return "invalid", r.problem
    if seen[r.disbursement_id] > 1:
        return "duplicate", f"交易流水号在文件中出现 {seen[r.disbursement_id]} 次，均未处理"
    if p is None:
        if not ids.is_valid(r.disbursement_id):
            return "malformed", "交易流水号格式或校验位不对（可能录入有误），未处理"
        return "unknown", "平台没有这个交易流水号，未处理"
    if p.batch_id != batch.id:
        return "other_batch", f"这一笔属于批次 PC{p.batch_id:06d}，请导入到该批次"
    if p.status == P.cancelled:
        return "cancelled", "该笔所在批次已作废，未处理"
    if quantize(r.amount) != quantize(p.amount):
        return "amount_mismatch", f"回盘金额 {fmt(r.amount)} 元，发放金额 {fmt(p.amount)} 元，未处理，请与银行核实"
    if p.status == P.pending:
        return "apply", ""
    if p.status == P.paid and r.status == "paid":
        if r.bank_ref and p.bank_ref and r.bank_ref != p.bank_ref:
            return "conflict", f"已记为发放成功（银行流水号 {p.bank_ref}），此行银行流水号为 {r.bank_ref}，未处理"
        return "unchanged", ""
    if p.status == P.failed and r.status == "failed":
        return "unchanged", ""
    was = "发放成功" if p.status == P.paid else "发放失败"
    now = "成功" if r.status == "paid" else "失败"
    return "conflict", f"已记为{was}，此行为“{now}”，未处理，请与银行核实"


def _check_totals(batch: PaymentBatch, parsed, payments: dict[str, Payment]) -> str:
    rows_sum = quantize(sum((r.amount for r in parsed.rows if r.amount is not None), Decimal("0")))
    if parsed.total_row is not None:
        if any(r.amount is None for r in parsed.rows):
            return "文件中有金额无法识别的行，合计无法核对，整个文件未导入"
        if quantize(parsed.total_row.amount) != rows_sum:
            return (f"合计行金额 {fmt(parsed.total_row.amount)} 元与各行金额之和 {fmt(rows_sum)} 元不符，"
                    "文件可能不完整或被改动，整个文件未导入")
        if parsed.total_count is not None and parsed.total_count != len(parsed.rows):
            return f"合计行笔数 {parsed.total_count} 与数据行数 {len(parsed.rows)} 不符，整个文件未导入"
        return ""
    ours = [(r, payments[r.disbursement_id]) for r in parsed.rows
            if r.disbursement_id in payments and payments[r.disbursement_id].batch_id == batch.id]
    file_sum = quantize(sum((r.amount or Decimal("0") for r, _ in ours), Decimal("0")))
    batch_sum = quantize(sum((p.amount for _, p in ours), Decimal("0")))
    if file_sum != batch_sum:
        return (f"文件没有合计行，按本批次核对：文件金额 {fmt(file_sum)} 元，本批次对应各笔金额 {fmt(batch_sum)} 元，"
                "不符，整个文件未导入")
    return ""


def _apply(actor, batch: PaymentBatch, to_apply, report: Report) -> None:
    now = utcnow()
    if to_apply:
        imp = _log_placeholder(actor, batch)
        report.import_id = imp.id
        results, paid_ids, failed_ids = [], [], []
        for r, p in to_apply:
            columns = {"bank_ref": r.bank_ref[:64] or None, "result_at": now, "result_import_id": imp.id}
            if r.status == "paid":
                results.append({"payment": p, "event": PaymentEvent.bank_paid, "failure_reason": None, **columns})
                paid_ids.append(p.id)
                report.paid += 1
                report.paid_amount += quantize(p.amount)
            else:
                reason = (r.reason or "银行未注明原因")[:255]
                results.append({"payment": p, "event": PaymentEvent.bank_failed, "failure_reason": reason, **columns})
                failed_ids.append(p.id)
                report.failed += 1
                report.failed_amount += quantize(p.amount)
                report.add_failure({"row": r.row, "disbursement_id": p.disbursement_id, "name": p.head_name,
                                    "reason": reason})
        lifecycle.apply_bank_results(results)
        db.session.expire_all()
        report.sms_households = _notify_paid(batch, paid_ids, now)
        report.sms_clerks, report.villages_without_clerk_phone = _notify_clerks(batch, failed_ids)
    pending = db.session.scalar(sa.select(sa.func.count()).select_from(Payment).where(
        Payment.batch_id == batch.id, Payment.status == P.pending))
    if pending == 0 and lifecycle.BATCHES.allows(batch.status, BatchEvent.settle):
        lifecycle.move_batch(batch, BatchEvent.settle, now)
    _settle_filings(actor, batch, report)


def _notify_paid(batch: PaymentBatch, payment_ids: list[int], now) -> int:
    if not payment_ids:
        return 0
    day = to_local(now)
    date_text = f"{day.month}月{day.day}日"
    rows = []
    for i in range(0, len(payment_ids), _CHUNK):
        rows += db.session.execute(
            sa.select(Payment.id, Payment.household_id, Payment.entry_id, Payment.region_code, Payment.head_name,
                      Payment.amount, Payment.payout_account, Household.phone)
            .join(Household, Household.id == Payment.household_id)
            .where(Payment.id.in_(payment_ids[i:i + _CHUNK])).order_by(Payment.id)).all()
    return enqueue_bulk("payment_paid", [
        {"key": f"payment_paid:{pid}", "phone": phone, "region_code": region, "household_id": hid, "entry_id": eid,
         "context": {"name": name, "project": batch.project.name, "amount": fmt(amount), "date": date_text,
                     "tail": account_tail(account)}}
        for pid, hid, eid, region, name, amount, account, phone in rows])


def _notify_clerks(batch: PaymentBatch, payment_ids: list[int]) -> tuple[int, list[str]]:
    """Failures go to the village clerks (the account is theirs to fix), never to the farmer."""
    if not payment_ids:
        return 0, []
    rows = []
    for i in range(0, len(payment_ids), _CHUNK):
        rows += db.session.execute(
            sa.select(Payment.id, Payment.region_code, Payment.head_name, Payment.failure_reason, Region.name)
            .join(Region, Region.code == Payment.region_code).where(Payment.id.in_(payment_ids[i:i + _CHUNK]))
            .order_by(Payment.id)).all()
    villages = sorted({r[1] for r in rows})
    clerks: dict[str, list[tuple[int, str]]] = {}
    for uid, code, phone in db.session.execute(
            sa.select(User.id, User.region_code, User.phone).where(
                User.region_code.in_(villages), User.role == Role.village_clerk, User.active,
                User.phone.is_not(None), User.phone != "")):
        clerks.setdefault(code, []).append((uid, phone))
    messages = []
    without = set()
    for pid, code, name, reason, village in rows:
        if code not in clerks:
            without.add(village)
            continue
        for uid, phone in clerks[code]:
            messages.append({"key": f"payment_failed:{pid}:{uid}", "phone": phone, "region_code": code,
                             "context": {"village": village, "name": name, "project": batch.project.name,
                                         "reason": (reason or "")[:30]}})
    return enqueue_bulk("payment_failed_clerk", messages), sorted(without)


def _settle_filings(actor, batch: PaymentBatch, report: Report) -> None:
    """Every county-approved filing of the batch whose entries (with an amount) are all settled
    goes to `paid` through the workflow, which takes the `paid` snapshot."""
    settle(actor, sa.select(Payment.filing_id).where(Payment.batch_id == batch.id).distinct(), report)
    if report.mismatches:
        audit.record(actor, "payment.snapshot_mismatch", "payment_batch", batch.id, region_code=batch.county_code,
                     mismatches=report.mismatches)


@exempt("taken for its callers, which declare theirs: the result import (manage_payments), the hold (hold_entries)")
def settle(actor, filing_ids, report: Report | None = None) -> list[int]:
    """The county-approved filings among `filing_ids` (a list or a SELECT) whose entries with an
    amount are each paid, or held (止付) with nothing in the bank's hands, go to `paid`; returns
    their ids. Called after a result import and after a hold."""
    from subsidy.filings.holds import open_hold
    from subsidy.recoveries.service import settled_by_write_off

    # Paid in full: every part the bank paid adds up to the entry's amount (a correction may
    # have raised it: the difference is a further part).
    paid_cents = (sa.select(sa.func.coalesce(sa.func.sum(cents(Payment.amount)), 0))
                  .where(Payment.entry_id == Entry.id, Payment.status == P.paid).scalar_subquery())
    paid_entry = paid_cents >= cents(Entry.amount)
    live = sa.exists(sa.select(Payment.id).where(Payment.entry_id == Entry.id, Payment.status == P.pending))
    # Settled: paid, held with nothing in the bank's hands, or its failure written off
    # (docs/design.md "Supervision with consequences").
    held_off = sa.and_(open_hold(), ~live)
    open_entries = (sa.select(sa.func.count(Entry.id))
                    .where(Entry.filing_id == Filing.id, Entry.amount > 0, ~paid_entry, ~held_off,
                           ~settled_by_write_off())
                    .scalar_subquery())
    candidates = db.session.execute(
        sa.select(Filing.id, Filing.version).where(
            Filing.id.in_(filing_ids), Filing.state == FilingState.county_approved, open_entries == 0)
        .order_by(Filing.id)).all()
    done = []
    for filing_id, version in candidates:
        count, total = db.session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(cents(Payment.amount)), 0)).where(
                Payment.filing_id == filing_id, Payment.status == P.paid)).one()
        filing = workflow.perform(actor, filing_id, Action.pay, version=version, internal=True,
                                  comment=f"发放完成：{count} 户，合计 {fmt(from_cents(total))} 元")
        done.append(filing_id)
        if report is not None:
            report.filings_paid.append(filing_id)
            for m in paid_mismatches(filing):
                report.mismatches.append({"filing_id": filing_id, "village": filing.region.name, "message": m})
    return done


def paid_mismatches(filing: Filing) -> list[str]:
    """Differences of a paid filing: the `paid` snapshot against the `county` one (the workflow's
    comparison), and the money as paid against the `paid` snapshot (account and amount of each
    paid payment: a register changed between payment and settlement)."""
    snaps = snapshots.round_snapshots(filing)
    out = [m.message for m in snapshots.find_mismatches(filing, snaps) if m.stage == Stage.paid.value]
    paid = snaps.get(Stage.paid)
    if paid is not None:
        from subsidy.filings.models import SnapshotLine

        n = db.session.scalar(
            sa.select(sa.func.count()).select_from(Payment).join(
                SnapshotLine, sa.and_(SnapshotLine.snapshot_id == paid.id,
                                      SnapshotLine.household_id == Payment.household_id))
            .where(Payment.filing_id == filing.id, Payment.status == P.paid,
                   sa.or_(SnapshotLine.payout_account != Payment.payout_account,
                          cents(SnapshotLine.amount) != cents(Payment.amount))))
        if n:
            out.append(f"实际发放与发放名单不一致：{n} 户的账号或金额与银行已付的不同")
    return out


def _log_placeholder(actor, batch: PaymentBatch) -> ResultImport:
    imp = ResultImport(batch_id=batch.id, sha256="", imported_by=getattr(actor, "id", None), imported_at=utcnow())
    db.session.add(imp)
    db.session.flush()
    return imp


def _log(actor, batch: PaymentBatch, report: Report, filename: str, sha: str) -> None:
    imp = db.session.get(ResultImport, report.import_id) if report.import_id else None
    if imp is None:
        imp = ResultImport(batch_id=batch.id, imported_by=getattr(actor, "id", None), imported_at=utcnow())
        db.session.add(imp)
    imp.filename, imp.sha256, imp.rows, imp.refused = (filename or "")[:200], sha, report.rows, report.refused
    imp.paid, imp.failed = report.paid, report.failed
    imp.unchanged, imp.problems = report.unchanged, report.problem_total
    db.session.flush()
    report.import_id = imp.id
    imp.report = json.dumps(report.as_dict(), ensure_ascii=False)
    db.session.flush()
    audit.record(actor, "payment.results_import", "payment_batch", batch.id, region_code=batch.county_code,
                 import_id=imp.id, sha256=sha, filename=filename, rows=report.rows, refused=report.refused,
                 refusal=report.refusal or None, paid=report.paid, failed=report.failed, unchanged=report.unchanged,
                 problems=report.problem_counts, filings_paid=report.filings_paid, repeat_of=report.repeat_of)


@requires(Perm.view_payments)
def get_import(actor, batch_id: int, import_id: int) -> tuple[PaymentBatch, ResultImport, dict]:
    batch = get_batch(actor, batch_id)
    imp = db.session.get(ResultImport, import_id)
    if imp is None or imp.batch_id != batch.id:
        from subsidy.errors import NotFound

        raise NotFound("回盘记录不存在")
    report = json.loads(imp.report or "{}")
    # Reports kept before they were bounded may list every row: the page lists the first ones.
    report.setdefault("problem_total", imp.problems)
    for key in ("problems", "failures"):
        report[key] = (report.get(key) or [])[:REPORTED_ROWS]
    return batch, imp, report


@requires(Perm.view_payments)
def list_imports(actor, batch_id: int) -> list[ResultImport]:
    batch = get_batch(actor, batch_id)
    return list(db.session.scalars(sa.select(ResultImport).where(ResultImport.batch_id == batch.id)
                                   .order_by(ResultImport.id.desc())))


def check_upload_name(filename: str | None) -> None:
    name = (filename or "").lower()
    if not name.endswith((".xlsx", ".xlsm", ".csv")):
        raise ValidationError("回盘文件应为 .xlsx 或 .csv", fields={"file": "请上传 .xlsx 或 .csv 文件"})
