"""实物补贴发放与签收 (docs/design.md "Material subsidies").

- A material project names its goods (`item`, `item_unit`, an optional `unit_price`); its `rate`
  is the quantity of goods per unit of entitlement, so an entry's goods due are rate × quantity
  (`quantity_due`).
- The township's reviewer records what its store received for a project (入库,
  `material_receipts`); what the store has on hand is what it received less what its villages
  handed out.
- The village's clerk records each pickup of a county-approved list (领取签收,
  `material_pickups`): never more than the entry is due, never more than the township has on
  hand, by the household itself or by a named proxy with their relation. The project's row is
  locked while the stock is checked and the pickup inserted, so two clerks of the township
  recording at once cannot both take the last rolls.
- Goods a household will never collect (moved away, refused, died) are written off by two people
  (subsidy.materials.write_offs); a held entry or one whose goods are proposed or approved for
  write-off takes no pickup.
- When every entry due goods (and not held) has them all or had them written off, the filing is
  paid (发放完毕) through the workflow's internal `pay` row.
"""
from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from subsidy.accounts.permissions import Perm, exempt, requires
from subsidy.audit import service as audit
from subsidy.common.database import lock_rows
from subsidy.common.money import MONEY_MAX, fmt, parse_amount, quantize
from subsidy.common.text import single_line
from subsidy.common.timeutil import local_today
from subsidy.errors import Conflict, NotFound, PermissionDenied, ValidationError
from subsidy.extensions import db
from subsidy.filings.holds import held_entries
from subsidy.filings.models import Entry, Filing, FilingState
from subsidy.households.models import Household
from subsidy.materials.models import DistributionState, MaterialPickup, MaterialReceipt, Receiver
from subsidy.projects import amounts
from subsidy.projects.models import Category, Project
from subsidy.projects.service import get_project
from subsidy.regions.models import Level
from subsidy.regions.scope import ensure_visible, get_visible, normalize_code, within

ZERO = Decimal("0.00")


def quantity_due(project: Project, entry: Entry) -> Decimal:
    """The goods an entry of a material project is due: rate × quantity (0 for a cash project)."""
    if project.category != Category.material:
        return ZERO
    return amounts.goods_due(project.rate, entry.quantity)


def state_of(due: Decimal, received: Decimal) -> DistributionState:
    if received <= 0:
        return DistributionState.waiting
    return DistributionState.done if received >= due else DistributionState.partly


def material(project: Project) -> Project:
    if project.category != Category.material:
        raise Conflict("该项目不是实物补贴，没有实物发放", code="not_material")
    return project


def parse_quantity(value, fields: dict, field: str = "quantity", label: str = "数量") -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        fields[field] = f"请填写{label}"
        return None
    try:
        q = parse_amount(value, label=label, minimum=Decimal("0"), maximum=MONEY_MAX)
    except ValueError as exc:
        fields[field] = str(exc)
        return None
    if q <= 0:
        fields[field] = f"{label}应大于 0"
        return None
    return q


def parse_day(value, fields: dict, field: str, label: str) -> date | None:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value or "").strip())
    except ValueError:
        fields[field] = f"请填写{label}（年-月-日）"
        return None
    if day > local_today():
        fields[field] = f"{label}不能晚于今天"
        return None
    return day


def parse_line(value, fields: dict, field: str, label: str, limit: int, required: bool = True) -> str:
    try:
        return single_line(value, label=label, limit=limit, required=required)
    except ValueError as exc:
        fields[field] = str(exc)
        return ""


def store_sums(project_id: int, code: str) -> tuple[Decimal, Decimal]:
    """(received, distributed) of the project's goods in the townships at or under `code`."""
    received = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(MaterialReceipt.quantity), 0)).where(
        MaterialReceipt.project_id == project_id, within(MaterialReceipt.township_code, code)))
    distributed = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(MaterialPickup.quantity), 0)).where(
        MaterialPickup.project_id == project_id, within(MaterialPickup.township_code, code)))
    return quantize(Decimal(received)), quantize(Decimal(distributed))


def _stock_code(actor, region_code) -> str:
    """The region whose stock is asked for: a township (or the county, all its townships); a
    village's clerk reads their own township's store."""
    code = normalize_code(region_code) if region_code not in (None, "") else actor.region_code
    if len(code) == 12:
        code = code[:9]
    if not (code.startswith(actor.region_code) or actor.region_code.startswith(code) and len(code) == 9):
        raise NotFound("乡镇不存在或不在您的管辖范围内")
    return code


# --- the township's store ------------------------------------------------------------------------

@requires(Perm.manage_stock)
def record_receipt(actor, project_id, region_code, quantity, received_on, supplier, document_no) -> MaterialReceipt:
    """入库: goods of the project delivered into the actor's own township's store."""
    if actor.tier != Level.township:
        raise PermissionDenied("入库由乡镇审核员登记")
    project = material(get_project(actor, project_id))
    fields: dict[str, str] = {}
    code = str(region_code or "").strip() or actor.region_code
    try:
        code = normalize_code(code)
    except ValidationError as exc:
        fields.update(exc.fields)
    else:
        ensure_visible(actor, code, "乡镇")
        if code != actor.region_code:
            fields["region_code"] = "入库登记在乡镇：请填写本乡镇的代码"
    q = parse_quantity(quantity, fields, label="入库数量")
    day = parse_day(received_on, fields, "received_on", "入库日期")
    who = parse_line(supplier, fields, "supplier", "供货单位", 60)
    doc = parse_line(document_no, fields, "document_no", "入库单号", 60)
    if fields:
        raise ValidationError("入库信息有误", fields=fields)
    receipt = MaterialReceipt(project_id=project.id, township_code=code, quantity=q, received_on=day, supplier=who,
                              document_no=doc, recorded_by=actor.id)
    db.session.add(receipt)
    db.session.flush()
    audit.record(actor, "material.receipt", "project", project.id, region_code=code, receipt_id=receipt.id,
                 quantity=q, item=project.item, item_unit=project.item_unit, received_on=day.isoformat(),
                 supplier=who, document_no=doc)
    return receipt


@requires(Perm.view_filings)
def stock(actor, project_id, region_code=None) -> dict:
    """{received, distributed, on_hand} of the project's goods in a township's store (or every
    township of the actor's region)."""
    project = material(get_project(actor, project_id))
    code = _stock_code(actor, region_code)
    received, distributed = store_sums(project.id, code)
    return {"project_id": project.id, "region_code": code, "item": project.item, "item_unit": project.item_unit,
            "received": received, "distributed": distributed, "on_hand": received - distributed}


@requires(Perm.view_filings)
def stock_by_township(actor, project_id) -> list[dict]:
    """Per township of the actor's region (or their own): received, distributed, on hand."""
    from subsidy.regions.models import Region

    project = material(get_project(actor, project_id))
    code = actor.region_code[:9] if len(actor.region_code) == 12 else actor.region_code
    townships = db.session.execute(sa.select(Region.code, Region.name).where(
        within(Region.code, code), Region.level == Level.township).order_by(Region.code)).all()
    rec = dict(db.session.execute(sa.select(MaterialReceipt.township_code, sa.func.sum(MaterialReceipt.quantity))
                                  .where(MaterialReceipt.project_id == project.id,
                                         within(MaterialReceipt.township_code, code))
                                  .group_by(MaterialReceipt.township_code)).all())
    out = dict(db.session.execute(sa.select(MaterialPickup.township_code, sa.func.sum(MaterialPickup.quantity))
                                  .where(MaterialPickup.project_id == project.id,
                                         within(MaterialPickup.township_code, code))
                                  .group_by(MaterialPickup.township_code)).all())
    rows = []
    for t_code, name in townships:
        r, d = quantize(Decimal(rec.get(t_code) or 0)), quantize(Decimal(out.get(t_code) or 0))
        rows.append({"code": t_code, "name": name, "received": r, "distributed": d, "on_hand": r - d})
    return rows


# --- pickups --------------------------------------------------------------------------------------

def picked(entry_ids) -> dict[int, Decimal]:
    ids = list(entry_ids)
    if not ids:
        return {}
    return {e: quantize(Decimal(q)) for e, q in db.session.execute(
        sa.select(MaterialPickup.entry_id, sa.func.sum(MaterialPickup.quantity))
        .where(MaterialPickup.entry_id.in_(ids)).group_by(MaterialPickup.entry_id))}


@requires(Perm.record_pickups)
def record_pickup(actor, filing_id, entry_id, quantity, received_on, receiver, proxy_name=None,
                  proxy_relation=None) -> MaterialPickup:
    """领取签收 of one household's goods (see the module docstring for the rules)."""
    filing = get_visible(actor, Filing, filing_id, "备案")
    if actor.region_code != filing.region_code:
        raise PermissionDenied("领取签收由本村经办员登记")
    entry = db.session.get(Entry, entry_id) if str(entry_id or "").isdigit() else None
    if entry is None or entry.filing_id != filing.id:
        raise NotFound("名单中没有这一户")
    project = material(filing.project)
    if filing.state != FilingState.county_approved:
        raise Conflict(f"备案{filing.state.label}，县级审定后、发放完毕前才能登记领取", code="invalid_transition")
    fields: dict[str, str] = {}
    q = parse_quantity(quantity, fields, label="领取数量")
    day = parse_day(received_on, fields, "received_on", "领取日期")
    try:
        who = Receiver(receiver)
    except ValueError:
        who = None
        fields["receiver"] = "请选择本人领取或代领"
    name = relation = None
    if who == Receiver.proxy:
        name = parse_line(proxy_name, fields, "proxy_name", "代领人姓名", 30) or None
        relation = parse_line(proxy_relation, fields, "proxy_relation", "代领人与户主关系", 20) or None
    if fields:
        raise ValidationError("领取信息有误", fields=fields)
    blocked = blocked_entries([entry.id])
    if blocked:
        raise Conflict(blocked[entry.id], code="held" if "止付" in blocked[entry.id] else "written_off")
    unit = project.item_unit or ""
    township = filing.region_code[:9]
    # The township's store for this project, held until the transaction ends (PostgreSQL: the
    # project's row FOR UPDATE; SQLite's writer already holds the database).
    db.session.execute(lock_rows(sa.select(Project.id).where(Project.id == project.id)))
    due = quantity_due(project, entry)
    so_far = picked([entry.id]).get(entry.id, ZERO)
    if so_far + q > due:
        message = (f"超过应领数量：应领 {fmt(due)} {unit}，已领 {fmt(so_far)} {unit}，"
                   f"最多还可领 {fmt(due - so_far)} {unit}")
        raise ValidationError(message, fields={"quantity": message})
    received, distributed = store_sums(project.id, township)
    on_hand = received - distributed
    if q > on_hand:
        raise Conflict(f"乡镇库存不足：尚缺 {fmt(q - on_hand)} {unit}（库存 {fmt(on_hand)} {unit}）",
                       code="out_of_stock")
    pickup = MaterialPickup(entry_id=entry.id, filing_id=filing.id, project_id=project.id, township_code=township,
                            region_code=filing.region_code, quantity=q, received_on=day, receiver=who,
                            proxy_name=name, proxy_relation=relation, recorded_by=actor.id)
    db.session.add(pickup)
    db.session.flush()
    audit.record(actor, "material.pickup", "filing", filing.id, region_code=filing.region_code, entry_id=entry.id,
                 household_id=entry.household_id, pickup_id=pickup.id, quantity=q, item=project.item,
                 item_unit=unit, received_on=day.isoformat(), receiver=who.value, proxy_name=name,
                 proxy_relation=relation)
    if so_far + q == due:  # only a pickup that completes its entry can complete the list
        close_if_done(actor, filing)
    return pickup


def outstanding(filing_id: int) -> tuple[int, int]:
    """(entries due goods, of them not yet done) of a filing, in one aggregate: an entry counts
    when it is due goods, not held and its goods not written off; it is done when its pickups
    add up to its goods due (compared in integer cents, as the amounts are)."""
    total, left = db.session.execute(_outstanding_select(), {"filing_id": filing_id}).one()
    return int(total), int(left)


@functools.cache
def _outstanding_select():
    # Built once with the filing as a parameter: asked after every pickup that completes an
    # entry, it costs no statement building per call.
    from subsidy.filings.holds import open_hold

    filing_id = sa.bindparam("filing_id")
    sums = (sa.select(MaterialPickup.entry_id, sa.func.sum(MaterialPickup.quantity).label("q"))
            .where(MaterialPickup.filing_id == filing_id).group_by(MaterialPickup.entry_id).subquery())
    due = amounts.standard_cents_sql(Project.rate, Entry.quantity)
    waiting = amounts.cents(sa.func.coalesce(sums.c.q, 0)) < due
    return (sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((waiting, 1), else_=0)), 0))
            .select_from(Entry).join(Project, Project.id == Entry.project_id)
            .outerjoin(sums, sums.c.entry_id == Entry.id)
            .where(Entry.filing_id == filing_id, due > 0, ~open_hold(), ~_written_off_goods()))


@exempt("a step of a pickup or a write-off's approval, whose own permission was checked; the close itself is "
        "the workflow's internal pay row")
def close_if_done(actor, filing: Filing) -> bool:
    """发放完毕: every entry due goods (not held) has them all or had them written off → the
    filing is paid, through the workflow's internal `pay` row. Returns whether it closed."""
    from subsidy.filings import workflow
    from subsidy.filings.workflow import Action

    if filing.state != FilingState.county_approved:
        return False
    total, left = outstanding(filing.id)
    if not total or left:
        return False
    project = filing.project
    summary = handed_out(filing)
    goods = f"{project.item_unit or ''}{project.item or ''}"
    comment = f"实物发放完毕：{total} 户，审定应领 {fmt(summary['due'])}，实发 {fmt(summary['received'])} {goods}"
    if summary["written_off"]:
        comment += f"，核销 {fmt(summary['written_off'])}（{summary['households_written_off']} 户）"
    workflow.perform(actor, filing.id, Action.pay, version=filing.version, internal=True, comment=comment)
    # What was handed out, kept in the audit chain beside the approved list's snapshot: the
    # digest of every household's due, received and written-off goods at the close.
    audit.record(actor, "material.closed", "filing", filing.id, region_code=filing.region_code,
                 **{k: v for k, v in summary.items() if k != "lines"})
    return True


def handed_out(filing: Filing) -> dict:
    """发放完毕's comparison of what was approved with what was handed out: goods due by the
    list, received, written off (approved), the households of each, the lines where received
    differs from due, and a SHA-256 digest over `entry_id|household_id|due|received|written_off`
    lines (sorted by entry)."""
    import hashlib

    from subsidy.recoveries.models import WriteOffState

    lines = _lines(filing, material(filing.project))
    off = {x["entry_id"]: x["write_off"].quantity for x in lines
           if x["write_off"] is not None and x["write_off"].state == WriteOffState.approved}
    canonical = "\n".join(f"{x['entry_id']}|{x['household_id']}|{fmt(x['quantity_due'])}|"
                          f"{fmt(x['quantity_received'])}|{fmt(off.get(x['entry_id'], ZERO))}" for x in lines)
    differ = [x for x in lines if x["quantity_received"] != x["quantity_due"]]
    return {"households": len(lines), "due": sum((x["quantity_due"] for x in lines), ZERO),
            "received": sum((x["quantity_received"] for x in lines), ZERO),
            "written_off": sum(off.values(), ZERO), "households_written_off": len(off),
            "households_received": sum(1 for x in lines if x["quantity_received"] >= x["quantity_due"] > 0),
            "digest": hashlib.sha256(canonical.encode()).hexdigest(), "lines": differ}


def _written_off_goods():
    """SQL: the entry (`Entry.id` of the enclosing query) has an approved write-off of its goods:
    it is settled (a proposed one only stops its pickups, see `blocked_entries`)."""
    from subsidy.recoveries.models import WriteOff, WriteOffKind, WriteOffState

    return sa.exists(sa.select(WriteOff.id).where(WriteOff.entry_id == Entry.id, WriteOff.kind == WriteOffKind.material,
                                                  WriteOff.state == WriteOffState.approved))


def goods_write_offs(entry_ids) -> dict:
    """{entry id: its write-off of goods (proposed or approved)}."""
    from subsidy.recoveries.models import WriteOff, WriteOffKind

    ids = list(entry_ids)
    if not ids:
        return {}
    return {w.entry_id: w for w in db.session.scalars(
        sa.select(WriteOff).where(WriteOff.entry_id.in_(ids), WriteOff.kind == WriteOffKind.material))}


def blocked_entries(entry_ids) -> dict[int, str]:
    """{entry id: why it takes no pickup}: held (止付), or its goods proposed or approved for
    write-off. Entries free to collect are absent."""
    from subsidy.recoveries.models import WriteOffState

    ids = list(entry_ids)
    out = {}
    for entry_id, w in goods_write_offs(ids).items():
        out[entry_id] = ("该户实物已核销，不能再登记领取" if w.state == WriteOffState.approved
                         else "该户实物已提出核销、待审批，不能再登记领取")
    for entry_id in held_entries(ids):
        out[entry_id] = "该户已止付，正在核查，暂不能领取"
    return out


def _lines(filing: Filing, project: Project) -> list[dict]:
    from subsidy.recoveries.models import WriteOffState

    rows = db.session.execute(sa.select(Entry.id, Entry.household_id, Entry.quantity, Household.head_name,
                                        Household.id_number)
                              .join(Household, Household.id == Entry.household_id)
                              .where(Entry.filing_id == filing.id).order_by(Entry.id)).all()
    ids = [r.id for r in rows]
    got_by_entry = picked(ids)
    held = held_entries(ids)
    write_offs = goods_write_offs(ids)
    lines = []
    for r in rows:
        due = amounts.goods_due(project.rate, r.quantity)
        got = got_by_entry.get(r.id, ZERO)
        w = write_offs.get(r.id)
        state = state_of(due, got)
        if w is not None and w.state == WriteOffState.approved:
            state = DistributionState.written_off
        lines.append({"entry_id": r.id, "household_id": r.household_id, "head_name": r.head_name,
                      "id_number": r.id_number, "quantity_due": due, "quantity_received": got, "state": state,
                      "held": r.id in held, "write_off": w})
    return lines


def lines_of(filing: Filing) -> list[dict]:
    """Every entry of a material filing with its goods due and received and its state (for the
    SMS of subsidy.materials.lists; callers have checked who may read the filing)."""
    return _lines(filing, material(filing.project))


@requires(Perm.view_filings)
def distribution(actor, filing_id) -> dict:
    """A filing's goods: due and received in all, and by entry (waiting, partly, done)."""
    filing = get_visible(actor, Filing, filing_id, "备案")
    project = material(filing.project)
    lines = _lines(filing, project)
    return {"filing": filing, "project": project,
            "due": sum((x["quantity_due"] for x in lines), ZERO),
            "received": sum((x["quantity_received"] for x in lines), ZERO), "items": lines}


@exempt("a reader of what the filing page already shows to whoever may read the filing")
def may_record(actor, filing: Filing) -> bool:
    """Whether `actor` is offered the pickup form of this filing."""
    from subsidy.accounts.permissions import can

    return (can(actor, Perm.record_pickups) and actor.region_code == filing.region_code
            and filing.state == FilingState.county_approved and filing.project.category == Category.material)


@exempt("a reader of what the filing page already shows to whoever may read the filing")
def may_write_off(actor, filing: Filing) -> bool:
    """Whether `actor` is offered 提出核销 on this filing's entries."""
    from subsidy.accounts.permissions import can

    return (can(actor, Perm.manage_recoveries) and actor.tier == Level.county
            and filing.state == FilingState.county_approved and filing.project.category == Category.material)
